"""`talia dev`: the four apps on 8001 to 8004 over a local database, until Ctrl-C."""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import signal
import time
import uuid
from collections.abc import Callable, Generator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import structlog
import uvicorn
from fastapi import FastAPI

from talia.database import local_or_configured_database
from talia.paths import MIGRATIONS_DIR
from talia_core.config import LoggingSettings, load_settings
from talia_core.logging import configure_logging
from talia_core.migrations import migrate
from talia_core.size_limits import MAX_WEBSOCKET_MESSAGE_BYTES
from talia_testkit.fake_openai import run_fake_openai
from talia_testkit.fake_supabase_auth import run_fake_supabase_auth
from talia_testkit.fake_twilio import run_fake_twilio

log = structlog.stdlib.get_logger("talia.dev")

CHANNELS = ("whatsapp", "webchat", "voice", "console")
DEV_ADMIN_EMAIL = "admin@talia.localhost"
DEV_ADMIN_ID = uuid.UUID("00000000-0000-4000-8000-00000000ad01")


def _dev_defaults(ports: dict[str, int]) -> dict[str, str]:
    """What a laptop lacks and a throwaway value can stand in for (never in production)."""
    origins = ",".join(f"http://{host}:{ports['webchat']}" for host in ("localhost", "127.0.0.1"))
    return {
        "TALIA_LOG_FORMAT": "console",
        "TALIA_API_DOCS": "true",
        "TALIA_WEBCHAT_ALLOWED_ORIGINS": origins,
        "TALIA_WEBCHAT_SESSION_SECRET": secrets.token_urlsafe(48),
        # No proxy locally: the voice app builds its stream URL from its own address, and a
        # simulator signs with this throwaway account's token.
        "TALIA_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['voice']}",
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        # A receiver on this machine (e.g. `python -m http.server`) may take webhooks.
        "TALIA_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
    }


# What the simulators need to sign and to find the fake Twilio of a running `talia dev`.
DEV_ENV_NAMES = (
    "TALIA_PUBLIC_BASE_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_API_BASE_URL",
    "TWILIO_WHATSAPP_FROM",
    "DATABASE_URL",  # the voice simulator prints the call's transcript from it
)


@contextmanager
def _twilio(data_dir: Path) -> Generator[str, None, None]:
    """Twilio when `TWILIO_ACCOUNT_SID` is set; otherwise the test kit's fake, said loudly.

    The values the simulators need are written to `<data dir>/dev.env` while it runs.
    """
    if os.environ.get("TWILIO_ACCOUNT_SID"):
        yield "twilio"
        return
    account_sid, auth_token = "AC" + "0" * 32, secrets.token_hex(16)
    with run_fake_twilio(account_sid, auth_token) as fake:
        os.environ.update(
            TWILIO_ACCOUNT_SID=account_sid,
            TWILIO_AUTH_TOKEN=auth_token,
            TWILIO_API_BASE_URL=fake.base_url,
        )
        log.warning(
            "fake_twilio_in_use",
            reason="TWILIO_ACCOUNT_SID is not set",
            base_url=fake.base_url,
            note="messages and calls go nowhere; the simulators show them",
        )
        data_dir.mkdir(parents=True, exist_ok=True)
        dev_env = data_dir / "dev.env"
        dev_env.write_text("".join(f"{n}={os.environ[n]}\n" for n in DEV_ENV_NAMES))
        try:
            yield "fake"
        finally:
            dev_env.unlink(missing_ok=True)


@contextmanager
def _supabase_auth() -> Generator[str | None, None, None]:
    """Supabase Auth when `SUPABASE_URL` is set; otherwise the test kit's fake, with a
    development admin whose password is printed (and who is added as staff once migrated).
    Yields that admin's password, or None."""
    if os.environ.get("SUPABASE_URL"):
        yield None
        return
    with run_fake_supabase_auth() as fake:
        password = secrets.token_urlsafe(12)
        fake.add_user(DEV_ADMIN_EMAIL, password, user_id=DEV_ADMIN_ID)
        os.environ.update(SUPABASE_URL=fake.base_url, SUPABASE_ANON_KEY=fake.anon_key)
        log.warning(
            "fake_supabase_auth_in_use",
            reason="SUPABASE_URL is not set",
            base_url=fake.base_url,
            anon_key=fake.anon_key,  # public, as Supabase's is
            sign_in=f"{DEV_ADMIN_EMAIL} / {password} (a development admin)",
        )
        yield password


def _add_dev_admin(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "select public.guardar_agente(%s, %s, 'Development admin', 'admin')",
            (DEV_ADMIN_ID, DEV_ADMIN_EMAIL),
        )


def _app_factories() -> dict[str, Callable[[], FastAPI]]:
    from talia_console.main import create_app as create_console_app
    from talia_voice.main import create_app as create_voice_app
    from talia_webchat.main import create_app as create_webchat_app
    from talia_whatsapp.main import create_app as create_whatsapp_app

    return {
        "whatsapp": create_whatsapp_app,
        "webchat": create_webchat_app,
        "voice": create_voice_app,
        "console": create_console_app,
    }


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to `talia dev`, which stops all four at once."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _serve_all(
    apps: dict[str, FastAPI], host: str, ports: dict[str, int], grace_seconds: float
) -> None:
    servers = [
        _Server(
            uvicorn.Config(
                app,
                host=host,
                port=ports[name],
                log_config=None,
                access_log=False,
                ws_max_size=MAX_WEBSOCKET_MESSAGE_BYTES,
                ws_per_message_deflate=False,  # as the images run: short JSON or base64 audio
                proxy_headers=False,  # the apps decide whom to believe (TALIA_TRUSTED_PROXIES)
                timeout_graceful_shutdown=math.ceil(grace_seconds),
            )
        )
        for name, app in apps.items()
    ]

    def stop() -> None:
        for server in servers:
            # A second Ctrl-C stops at once, without waiting for in-flight work.
            server.force_exit = server.should_exit
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(server.serve() for server in servers))


def _warn_without_profile(url: str, key: str) -> None:
    """Channels answer 503 until the default profile exists: say so at start."""
    with psycopg.connect(url) as conn:
        row = conn.execute("select 1 from public.asistentes where clave = %s", (key,)).fetchone()
    if row is None:
        log.warning(
            "assistant_profile_missing",
            key=key,
            fix="uv run talia assistants import PATH (a YAML profile kept outside the repo)",
        )


@contextmanager
def _model() -> Generator[str, None, None]:
    """OpenAI when `OPENAI_API_KEY` is set; otherwise the test kit's fake model, said loudly."""
    if os.environ.get("OPENAI_API_KEY"):
        yield "openai"
        return
    with run_fake_openai() as fake:
        fake.realtime.echo = True  # a caller hears their own words back
        os.environ["OPENAI_BASE_URL"] = fake.base_url
        os.environ["OPENAI_API_KEY"] = "sk-talia-dev-fake-model"  # the fake takes any key
        log.warning(
            "fake_model_in_use",
            reason="OPENAI_API_KEY is not set",
            base_url=fake.base_url,
            note="replies are canned echoes, not a real assistant",
        )
        yield "fake"


def run_dev(*, host: str, base_port: int, data_dir: Path) -> None:
    """Start the database (embedded unless `DATABASE_URL`), migrate, serve until Ctrl-C."""
    started = time.perf_counter()
    ports = {channel: base_port + offset for offset, channel in enumerate(CHANNELS)}
    for name, value in _dev_defaults(ports).items():
        os.environ.setdefault(name, value)
    configure_logging(load_settings(LoggingSettings))
    with local_or_configured_database(data_dir) as database:
        os.environ["DATABASE_URL"] = database.url  # before `_twilio` writes dev.env
        with _model() as model, _twilio(data_dir) as twilio, _supabase_auth() as admin:
            applied = migrate(database.url, MIGRATIONS_DIR)
            if admin is not None:
                _add_dev_admin(database.url)
            _warn_without_profile(database.url, os.environ.get("TALIA_ASSISTANT", "default"))
            apps = {name: factory() for name, factory in _app_factories().items()}
            log.info(
                "dev_started",
                database="embedded" if database.embedded else "DATABASE_URL",
                model=model,
                twilio=twilio,
                staff_auth="fake" if admin is not None else "supabase",
                migrations_applied=len(applied),
                urls={name: f"http://{host}:{port}" for name, port in ports.items()},
                console_page=f"http://{host}:{ports['console']}/console/",
                startup_ms=round((time.perf_counter() - started) * 1000),
            )
            grace = float(os.environ.get("TALIA_SHUTDOWN_GRACE_SECONDS", "10"))
            asyncio.run(_serve_all(apps, host, ports, grace))
    log.info("dev_stopped")

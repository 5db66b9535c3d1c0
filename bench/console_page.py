"""The console page: from navigation to a usable inbox (the first page of conversations
listed) with many conversations in the database, and the bytes it transfers, gzipped.

The console app runs as its own uvicorn process (as its image does) over the embedded
PostgreSQL, seeded with `--conversations` conversations (a tenth of them waiting for a person),
with Supabase Auth's fake. Chromium (Debian's) loads `/console/` with a signed-in session
already stored, as a returning agent's browser has it, `--loads` times; each time is from
navigation start to the first conversation in the list, by the page's own clock.

    uv run python bench/console_page.py [--conversations 5000] [--loads 10]
"""

from __future__ import annotations

import argparse
import gzip
import json
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
from playwright.sync_api import Response, sync_playwright

from apps import database_with_profile, free_port, start_app, stopped_after
from talia_testkit.fake_supabase_auth import run_fake_supabase_auth

PASSWORD = secrets.token_urlsafe(16)  # the fake Auth user's, for this run only
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)


def _seed(url: str, conversations: int) -> None:
    """Conversations with a contact and two messages each; every tenth in handoff."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "with c as (insert into public.contactos (canal, identidad, nombre)"
            " select 'webchat', 'visitor:bench-' || n, 'Cliente ' || n"
            " from generate_series(1, %(n)s) n returning contacto_id, identidad),"
            " cv as (insert into public.conversaciones (canal, contacto_id, asistente_clave,"
            "  estado, handoff_at)"
            " select 'webchat', c.contacto_id, 'default',"
            "  case when right(c.identidad, 1) = '0' then 'handoff' else 'open' end,"
            "  case when right(c.identidad, 1) = '0' then now() end from c"
            " returning conversacion_id)"
            " insert into public.mensajes (conversacion_id, canal, direccion, rol, contenido,"
            "  metadata)"
            " select cv.conversacion_id, 'webchat', d.direccion, d.rol, d.texto, '{}'::jsonb"
            " from cv cross join (values ('inbound', 'user', '¿Tenéis cita mañana?'),"
            "  ('outbound', 'assistant', 'Sí, a las 10 o a las 12.')) d(direccion, rol, texto)",
            {"n": conversations},
        )
        conn.execute("analyze")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--loads", type=int, default=10)
    args = parser.parse_args()
    if CHROMIUM is None:
        raise SystemExit("console_page: Chromium is not installed (apt-get install chromium)")

    with (
        tempfile.TemporaryDirectory() as directory,
        database_with_profile(Path(directory)) as url,
        run_fake_supabase_auth() as auth,
    ):
        _seed(url, args.conversations)
        user = auth.add_user("ana@bench.example", PASSWORD)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "select public.guardar_agente(%s, 'ana@bench.example', 'Ana', 'admin')", (user,)
            )
        session = httpx.post(
            f"{auth.base_url}/auth/v1/token?grant_type=password",
            json={"email": "ana@bench.example", "password": PASSWORD},
            headers={"apikey": auth.anon_key},
        ).json()
        stored = {
            "access_token": session["access_token"],
            "refresh_token": session["refresh_token"],
            "expires_at": int(time.time()) + session["expires_in"],
        }
        env = {
            "DATABASE_URL": url,
            "OPENAI_API_KEY": "sk-bench",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
            "SUPABASE_URL": auth.base_url,
            "SUPABASE_ANON_KEY": auth.anon_key,
            "TALIA_LOG_LEVEL": "WARNING",
        }
        port = free_port()
        with stopped_after(
            start_app("talia_console.main:app", port, env, flags=["--log-level", "warning"])
        ):
            usable, raw, gzipped = _load(f"http://127.0.0.1:{port}/console/", stored, args.loads)
    print(
        f"console page, {args.conversations} conversations in the database, {args.loads} loads"
        " with a stored session"
    )
    print(
        f"navigation -> first conversation listed   p50 {statistics.median(usable):7.1f} ms"
        f"   max {max(usable):7.1f} ms   (goal under 1000 ms)"
    )
    print(
        f"transferred per load: {raw / 1024:.1f} KB, {gzipped / 1024:.1f} KB gzipped"
        "   (goal under 150 KB gzipped)"
    )


def _load(page_url: str, session: dict[str, object], loads: int) -> tuple[list[float], int, int]:
    """Milliseconds from navigation to the first listed conversation, per load; and one
    load's bytes, raw and gzipped."""
    timings: list[float] = []
    bodies: list[bytes] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for number in range(loads + 1):  # the first warms the app up
            context = browser.new_context()
            context.add_init_script(
                f"localStorage.setItem('talia.session', {json.dumps(json.dumps(session))})"
            )
            page = context.new_page()
            seen: list[Response] = []
            page.on("response", seen.append)
            page.goto(page_url)
            page.wait_for_selector("#conversations li[role=option]")
            listed = page.evaluate("performance.now()")
            if number:
                timings.append(float(listed))
            if number == 1:
                bodies = [response.body() for response in seen if response.ok]
            context.close()
        browser.close()
    raw = sum(len(body) for body in bodies)
    return timings, raw, sum(len(gzip.compress(body)) for body in bodies)


if __name__ == "__main__":
    main()

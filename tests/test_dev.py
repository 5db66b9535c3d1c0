"""`talia dev`: the four apps over an embedded database, stopped cleanly by Ctrl-C."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx


def _free_port_range(count: int) -> int:
    """A base port with `count` free ports after it (checked, not reserved)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count < 65535 and all(_is_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no free port range")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for_health(urls: list[str], deadline: float) -> dict[str, int]:
    statuses: dict[str, int] = {}
    with httpx.Client(timeout=1) as http:
        while time.monotonic() < deadline and len(statuses) < len(urls):
            for url in urls:
                if url not in statuses:
                    with contextlib.suppress(httpx.TransportError):
                        statuses[url] = http.get(url + "/health").status_code
            time.sleep(0.1)
    return statuses


def _sign_in_as_the_dev_admin(output: list[str]) -> str:
    """An access token for the development admin `talia dev` printed."""
    line = next(line for line in output if "fake_supabase_auth_in_use" in line)
    # The email is masked in logs, as every email is; the README names it.
    password = re.search(r"@talia\.localhost / ([A-Za-z0-9_-]+)", line)
    supabase = re.search(r"base_url=(http://127\.0\.0\.1:\d+)", line)
    anon_key = re.search(r"anon_key=([A-Za-z0-9_.-]+)", line)
    assert password, line
    assert supabase, line
    assert anon_key, line
    session = httpx.post(
        f"{supabase[1]}/auth/v1/token?grant_type=password",
        json={"email": "admin@talia.localhost", "password": password[1]},
        headers={"apikey": anon_key[1]},
    )
    token: str = session.json()["access_token"]
    return token


def test_dev_serves_four_apps_and_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    base = _free_port_range(4)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    process = subprocess.Popen(  # noqa: S603  # our own interpreter and module
        [
            sys.executable,
            "-m",
            "talia",
            "dev",
            "--base-port",
            str(base),
            "--data-dir",
            str(tmp_path),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    urls = [f"http://127.0.0.1:{base + i}" for i in range(4)]
    try:
        statuses = _wait_for_health(urls, time.monotonic() + 60)
        with httpx.Client(timeout=5) as http:
            ready = [http.get(url + "/ready").status_code for url in urls]
            token = _sign_in_as_the_dev_admin(lines)
            me = http.get(f"{urls[3]}/api/console/me", headers={"Authorization": f"Bearer {token}"})
            page = http.get(f"{urls[3]}/console/")
            page_config = http.get(f"{urls[3]}/console/config.json").json()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        reader.join(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    output = "".join(lines)

    assert statuses == dict.fromkeys(urls, 200), output
    assert ready == [200, 200, 200, 200]
    assert (me.status_code, me.json().get("role")) == (200, "admin")
    # The page signs in against the fake Auth that signed the admin in.
    assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert page_config["anon_key"]
    assert f"console_page=http://127.0.0.1:{base + 3}/console/" in output or (
        f'"console_page": "http://127.0.0.1:{base + 3}/console/"' in output
    )
    assert process.returncode == 0, output
    assert "dev_stopped" in output
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()

"""Checks every app passes the same way: its probes answer, its start-up reads the
environment only when `app` is asked for, and a missing variable stops it with one line."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from talia_testkit.processes import run_python
from talia_testkit.server import serve_app


def probe_answers(app: FastAPI) -> tuple[object, object, str]:
    """What `/health`, `/ready` and `/metrics` answer, served for real."""
    with serve_app(app) as server, httpx.Client(base_url=server.http_url) as http:
        return http.get("/health").json(), http.get("/ready").json(), http.get("/metrics").text


def start_up_failure(module: str, cwd: Path) -> tuple[int, list[str]]:
    """The exit code and stderr lines of building `module`'s app with no environment."""
    result = run_python(f"import {module} as main; main.app", cwd=cwd)
    return result.returncode, result.stderr.strip().splitlines()


def import_failure(module: str, cwd: Path) -> str | None:
    """Why importing `module` failed (stderr), or None when it imported."""
    result = run_python(f"import {module}", cwd=cwd)
    return result.stderr if result.returncode else None

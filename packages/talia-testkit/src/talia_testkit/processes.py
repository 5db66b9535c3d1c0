"""Run Python in a clean child process, as an operator's shell would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# What an app's configuration reads; a child starts without any of it unless given.
_CONFIG_PREFIXES = ("DATABASE_URL", "TALIA_", "TWILIO_", "OPENAI_", "OTEL_")


def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without app configuration, plus `extra`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(_CONFIG_PREFIXES)}
    return {**clean, **(extra or {})}


def start_python(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start `python *args` in `cwd` with a clean configuration; output merged on stdout."""
    return subprocess.Popen(  # noqa: S603  # our own interpreter and arguments
        [sys.executable, *args],
        cwd=cwd,
        env=clean_environment(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_python(
    code: str, *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -c code` in `cwd` with the app configuration variables cleared."""
    return subprocess.run(  # noqa: S603  # our own interpreter and code
        [sys.executable, "-c", code],
        cwd=cwd,
        env=clean_environment(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

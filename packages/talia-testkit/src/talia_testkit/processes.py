"""Run Python in a clean child process, as an operator's shell would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# What an app's configuration reads; a child starts without any of it unless given.
_CONFIG_PREFIXES = ("DATABASE_URL", "TALIA_", "TWILIO_", "OPENAI_")


def run_python(
    code: str, *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -c code` in `cwd` with the app configuration variables cleared."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(_CONFIG_PREFIXES)}
    return subprocess.run(  # noqa: S603  # our own interpreter and code
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

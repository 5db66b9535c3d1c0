"""What the channel simulators share: their settings, and posting a webhook as Twilio signs it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import httpx
from twilio.request_validator import RequestValidator


class SimulationError(Exception):
    """Why a simulation could not run, in words for the terminal."""


def simulator_settings(dev_env: Path, needed: Iterable[str]) -> dict[str, str]:
    """The environment, overridden by the `NAME=value` lines `talia dev` writes to `dev_env`
    while its fake Twilio runs; every `needed` name must be there."""
    env = {name: value for name, value in os.environ.items() if value}
    if dev_env.is_file():
        pairs = (line.split("=", 1) for line in dev_env.read_text().splitlines() if "=" in line)
        env.update((name.strip(), value.strip()) for name, value in pairs)
    missing = [name for name in needed if name not in env]
    if missing:
        raise SimulationError(
            f"{', '.join(missing)} not set (start `uv run talia dev`, or export them)"
        )
    return env


async def post_as_twilio(
    *,
    app_url: str,
    public_base_url: str,
    path: str,
    form: Mapping[str, str],
    auth_token: str,
) -> httpx.Response:
    """POST `form` to the app at `path`, signed for its public URL; a 200 answer or an error."""
    signature = RequestValidator(auth_token).compute_signature(public_base_url + path, form)
    async with httpx.AsyncClient(timeout=10) as http:
        try:
            response = await http.post(
                app_url + path, data=dict(form), headers={"X-Twilio-Signature": signature}
            )
        except httpx.TransportError as exc:
            raise SimulationError(f"{app_url} does not answer ({exc})") from exc
    if response.status_code != httpx.codes.OK:
        raise SimulationError(f"the app answered {response.status_code}: {response.text}")
    return response

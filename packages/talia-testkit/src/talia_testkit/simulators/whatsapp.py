"""Play Twilio: post a signed WhatsApp webhook to a running app and show the reply it sent.

With `uv run talia dev`, the fake Twilio's address and the throwaway account are read from
`.talia/dev.env`; against a deployment, from the environment (`TALIA_PUBLIC_BASE_URL`,
`TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, `TWILIO_WHATSAPP_FROM`).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import AnyHttpUrl, SecretStr

from talia_core.clients.twilio import close_twilio_client, create_twilio_client
from talia_core.config import TwilioSettings
from talia_testkit.simulators.twilio_side import SimulationError, post_as_twilio, simulator_settings

WEBHOOK_PATH = "/api/whatsapp/webhook"


@dataclass(frozen=True)
class Simulation:
    """Where to post, who writes, and how to sign."""

    app_url: str
    public_base_url: str
    customer: str
    business: str
    twilio: TwilioSettings


def load_simulation(*, app_url: str, customer: str, dev_env: Path) -> Simulation:
    """The simulation's settings from `dev_env` (a running `talia dev` with the fake Twilio
    wins) or else the environment."""
    env = simulator_settings(
        dev_env, ("TALIA_PUBLIC_BASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
    )
    twilio = TwilioSettings(
        _env_file=None,
        account_sid=env["TWILIO_ACCOUNT_SID"],
        auth_token=SecretStr(env["TWILIO_AUTH_TOKEN"]),
        api_base_url=AnyHttpUrl(env["TWILIO_API_BASE_URL"])
        if "TWILIO_API_BASE_URL" in env
        else None,
    )
    return Simulation(
        app_url=app_url.rstrip("/"),
        public_base_url=env["TALIA_PUBLIC_BASE_URL"].rstrip("/"),
        customer=customer,
        business=env.get("TWILIO_WHATSAPP_FROM", "whatsapp:+14155238886"),
        twilio=twilio,
    )


def webhook_form(simulation: Simulation, text: str) -> dict[str, str]:
    """The form Twilio would post for `text`."""
    return {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": simulation.twilio.account_sid,
        "From": simulation.customer,
        "To": simulation.business,
        "Body": text,
        "NumMedia": "0",
        "NumSegments": "1",
        "ProfileName": "Simulator",
        "ApiVersion": "2010-04-01",
    }


async def simulate(simulation: Simulation, text: str, *, wait_seconds: float = 30.0) -> list[str]:
    """Post `text` as the customer; the bodies Twilio was asked to send back to them."""
    client = create_twilio_client(simulation.twilio)
    try:
        before = {m.sid for m in await client.messages.list_async(to=simulation.customer)}
        await post_as_twilio(
            app_url=simulation.app_url,
            public_base_url=simulation.public_base_url,
            path=WEBHOOK_PATH,
            form=webhook_form(simulation, text),
            auth_token=simulation.twilio.auth_token.get_secret_value(),
        )
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            found = await client.messages.list_async(to=simulation.customer)
            replies = [m.body or "" for m in reversed(found) if m.sid not in before]
            if replies:
                await asyncio.sleep(0.5)  # a long reply's later parts
                found = await client.messages.list_async(to=simulation.customer)
                return [m.body or "" for m in reversed(found) if m.sid not in before]
            await asyncio.sleep(0.2)
        raise SimulationError(f"no reply within {wait_seconds:.0f} s")
    finally:
        await close_twilio_client(client)

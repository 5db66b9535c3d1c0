"""Outgoing webhooks as the Standard Webhooks spec (standardwebhooks.com) defines them:
secrets, signatures, and which targets a subscription may name.

A request carries `webhook-id` (the same on every retry of one event), `webhook-timestamp`
(Unix seconds of the attempt) and `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of
`{id}.{timestamp}.{body}` under the secret's bytes (the base64 after `whsec_`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from typing import Final
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from talia_core.errors import BadRequest

SECRET_PREFIX: Final = "whsec_"  # noqa: S105  # the format's prefix, not a secret
# Standard Webhooks' suggested schedule after the first attempt: 5 s, 5 min, 30 min, 2 h,
# 5 h, 10 h, 10 h; a receiver down for a day still gets everything.
DEFAULT_RETRY_SECONDS: Final = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
_LOCAL_NAMES: Final = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class WebhookSettings(BaseSettings):
    """How webhooks are delivered (`TALIA_WEBHOOKS_*`)."""

    model_config = SettingsConfigDict(
        env_prefix="TALIA_WEBHOOKS_", env_file=".env", extra="ignore", frozen=True
    )

    # Loopback and private addresses are refused unless this is set (`talia dev`, tests).
    allow_private_targets: bool = False
    # Waits before each retry; after the last one a delivery is `failed`.
    retry_seconds: tuple[float, ...] = Field(default=DEFAULT_RETRY_SECONDS, min_length=1)
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # How often the deliverer looks for due retries when no new event wakes it.
    poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # A claimed delivery is claimed this long: longer than an attempt can take.
    claim_seconds: int = Field(default=60, ge=5, le=3600)
    batch: int = Field(default=20, ge=1, le=200)


class TargetNotAllowed(BadRequest):
    code = "target_not_allowed"
    message = (
        "Webhooks may not target loopback, private or link-local addresses"
        " (set TALIA_WEBHOOKS_ALLOW_PRIVATE_TARGETS=true for local development)."
    )


def new_secret() -> str:
    """A fresh signing secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, *, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one attempt."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def is_public_address(address: str) -> bool:
    """Whether an IP address is one the internet routes to (not loopback, private,
    link-local such as cloud metadata, reserved or multicast)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class InvalidTarget(BadRequest):
    code = "invalid_url"
    message = "The URL must be http:// or https://, with a host, a valid port and no credentials."


def target_host(url: str) -> tuple[str, int]:
    """The host and port a webhook URL names; InvalidTarget when it names none."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a bad port or IPv6 literal
        raise InvalidTarget from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise InvalidTarget
    return parts.hostname, port


def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that names no host, or (unless `allow_private`) a local name or a
    non-public IP address (before any DNS: the deliverer checks what a name resolves to on
    every attempt)."""
    host, _ = target_host(url)
    if allow_private:
        return
    host = host.rstrip(".").lower()
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        raise TargetNotAllowed
    try:
        public = is_public_address(host)
    except ValueError:
        return  # a name: resolved and checked when sending
    if not public:
        raise TargetNotAllowed

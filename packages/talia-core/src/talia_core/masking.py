"""Mask personal data and secrets in log events before they are rendered."""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any, Final

# Keys whose values are personal content: replaced by their length, never shown.
CONTENT_KEYS: Final = frozenset(
    {"body", "text", "content", "message", "message_text", "transcript", "instructions", "prompt"}
)
# Keys whose values are secrets or identities: replaced whole.
SECRET_KEYS: Final = frozenset(
    {
        "authorization",
        "auth_token",
        "api_key",
        "password",
        "secret",
        "session_secret",
        "token",
        "session_token",
        "cookie",
        "database_url",
        "dsn",
    }
)
IDENTITY_KEYS: Final = frozenset({"email", "phone", "from", "to", "from_", "caller", "wa_id"})

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_OPENAI_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]+@")
_HEX_TOKEN = re.compile(r"(?<![A-Za-z0-9])[0-9a-f]{32,}(?![A-Za-z0-9])")
# A database error's DETAIL quotes the values it refused: a key, or for some errors the whole
# row, message text included. It is dropped, in any message that carries one.
_DATABASE_DETAIL = re.compile(r"(DETAIL:)[^\n]*")
# A phone number: optional +, then at least 8 digits possibly split by spaces, dots or dashes.
_PHONE = re.compile(r"(?<![\w])\+?\d(?:[ .()-]?\d){7,14}(?![\w])")


# Ids and timestamps look like digit runs but are not personal data: left as they are.
_KEEP = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)


def mask_text(value: str) -> str:
    """Hide emails, phone numbers, bearer tokens, keys and database details in free text."""
    if "DETAIL:" in value:  # before ids are set aside: a detail's row holds some
        value = _DATABASE_DETAIL.sub(r"\1 ***", value)
    kept = list(_KEEP.finditer(value)) if "-" in value else []
    if not kept:
        return _mask_free_text(value)
    parts: list[str] = []
    position = 0
    for match in kept:
        parts.append(_mask_free_text(value[position : match.start()]))
        parts.append(match.group(0))
        position = match.end()
    parts.append(_mask_free_text(value[position:]))
    return "".join(parts)


def _mask_free_text(value: str) -> str:
    # Each pattern runs only when the text holds what any of its matches must hold: most
    # values in a log line are short words, and a log line used to cost 35 regex passes.
    if "://" in value:
        value = _URL_PASSWORD.sub(r"\g<scheme>\g<user>:***@", value)
    value = _BEARER.sub(lambda m: f"{m.group(1)} ***", value)
    if "sk-" in value:
        value = _OPENAI_KEY.sub("sk-***", value)
    if "eyJ" in value:
        value = _JWT.sub("***jwt***", value)
    if len(value) >= 32:
        value = _HEX_TOKEN.sub("***", value)
    if "@" in value:
        value = _EMAIL.sub(_mask_email, value)
    if len(value) >= 8:
        value = _PHONE.sub(_mask_phone, value)
    return value


def _mask_email(match: re.Match[str]) -> str:
    domain = match.group(0).rsplit("@", 1)[1]
    return f"***@{domain}"


def _mask_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return f"***{digits[-2:]}"


def mask_value(key: str, value: Any) -> Any:
    """Mask one value, by its key first and its content second."""
    lowered = key.lower()
    if lowered in SECRET_KEYS:
        return "***"
    if lowered in CONTENT_KEYS and isinstance(value, str):
        return f"<{len(value)} chars>"
    if lowered in IDENTITY_KEYS and isinstance(value, str):
        return _mask_identity(value)
    return _mask_nested(value)


def _mask_identity(value: str) -> str:
    prefix, _, rest = value.rpartition(":")
    shown = rest[-2:] if len(rest) > 4 else ""
    return f"{prefix + ':' if prefix else ''}***{shown}"


def _mask_nested(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {str(k): mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_nested(item) for item in value]
    return value


# Fields we set ourselves, holding no customer data (ids are random hex, like tokens).
_UNMASKED: Final = frozenset({"timestamp", "level", "logger", "request_id", "trace_id", "exc_info"})


def mask_event(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask every field, the event name's free text included."""
    for key, value in list(event_dict.items()):
        if key == "event" and isinstance(value, str):
            event_dict[key] = mask_text(value)
        elif key not in _UNMASKED:
            event_dict[key] = mask_value(key, value)
    return event_dict

"""Server-sent events, as the WHATWG HTML standard frames them (`text/event-stream`)."""

from __future__ import annotations

import json
from typing import Final

# Proxies must pass each event on at once: no caching, no buffering (nginx reads the last).
HEADERS: Final = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
MEDIA_TYPE: Final = "text/event-stream"
# A comment line: keeps an idle stream's connection open through proxies, ignored by clients.
KEEPALIVE: Final = b": keepalive\n\n"


def server_sent_event(event: str, data: object, *, id: str | None = None) -> bytes:
    """One event; `data` as one line of JSON, `id` what the client sends back as
    `Last-Event-ID` when it reconnects."""
    head = f"id: {id}\n" if id is not None else ""
    body = json.dumps(data, ensure_ascii=False, default=str)
    return f"{head}event: {event}\ndata: {body}\n\n".encode()

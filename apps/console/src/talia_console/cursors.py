"""Opaque list cursors: where the last page ended, as the client hands it back."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from uuid import UUID

from talia_core.errors import BadRequest
from talia_core.repositories.bandeja import PosicionBandeja


class InvalidCursor(BadRequest):
    code = "invalid_cursor"
    message = "The cursor is not one this API gave out; start again without it."


def encode_cursor(position: PosicionBandeja) -> str:
    """The cursor of the page after `position`."""
    raw = f"{position.orden_at.isoformat()}|{position.conversacion_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> PosicionBandeja:
    """The position a cursor holds; InvalidCursor for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, conversation = raw.partition("|")
        position = PosicionBandeja(datetime.fromisoformat(when), UUID(conversation))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor from None
    if position.orden_at.tzinfo is None:
        raise InvalidCursor
    return position

"""Opaque list cursors: where the last page ended, as the client hands it back."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from uuid import UUID

from talia_core.errors import BadRequest


class InvalidCursor(BadRequest):
    code = "invalid_cursor"
    message = "The cursor is not one this API gave out; start again without it."


def encode_cursor(when: datetime, row_id: UUID) -> str:
    """The cursor of the page after the row sorted at `when` with id `row_id`."""
    raw = f"{when.isoformat()}|{row_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The sort time and row id a cursor holds; InvalidCursor for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        text_when, _, text_id = raw.partition("|")
        when, row_id = datetime.fromisoformat(text_when), UUID(text_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor from None
    if when.tzinfo is None:
        raise InvalidCursor
    return when, row_id

"""What is kept of the text that customers and providers send, decided per kind of field.

- Free text (a message, a name, a label) keeps every character but NUL, which PostgreSQL
  text cannot hold: NUL bytes are dropped, the rest is stored as sent.
- Identifiers (SIDs, addresses, codes, client ids) are taken only whole: one with a control
  character, or longer than its column, is refused (400), never altered.

The limits are the columns' own (supabase/migrations: `contactos`, `mensajes` and the
`texto_mensaje` domain).
"""

from __future__ import annotations

from typing import Final

MAX_MESSAGE_CHARS: Final = 16_000  # mensajes.contenido
MAX_IDENTIFIER_CHARS: Final = 200  # proveedor_id, idempotency_key, contactos.identidad
MAX_NAME_CHARS: Final = 200  # contactos.nombre


def clean_text(value: str) -> str:
    """Free text as it is stored: without NUL bytes."""
    return value.replace("\x00", "") if "\x00" in value else value


def is_identifier(value: str, *, max_chars: int = MAX_IDENTIFIER_CHARS) -> bool:
    """Whether `value` can be stored as an identifier: 1 to `max_chars` printable characters."""
    return 0 < len(value) <= max_chars and value.isprintable()

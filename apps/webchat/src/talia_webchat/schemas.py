"""Request and response bodies of the webchat API."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from talia_core.repositories.mensajes import Mensaje, MensajeConAutor
from talia_core.text import clean_text
from talia_webchat.service import ReplyDone


class SessionCreated(BaseModel):
    """A new visitor session: the token to send as `Authorization: Bearer`."""

    session_token: str
    conversation_id: UUID
    expires_at: datetime


class MessageIn(BaseModel):
    """A visitor message; `client_message_id` makes retries safe."""

    model_config = ConfigDict(extra="forbid")

    client_message_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")
    text: str = Field(min_length=1)

    @field_validator("text")
    @classmethod
    def _stored_text(cls, value: str) -> str:
        """Free text keeps all but NUL bytes (talia_core.text); nothing left is no message."""
        text = clean_text(value)
        if not text:
            raise ValueError("the text is empty once NUL bytes are dropped")
        return text


class Author(BaseModel):
    """The person of the business who wrote a message."""

    name: str | None


class MessageOut(BaseModel):
    """A stored message as the widget shows it; `agent` messages name their `author`."""

    id: int
    role: str
    text: str
    created_at: datetime
    reply_to: int | None = None
    client_message_id: str | None = None
    author: Author | None = None

    @classmethod
    def from_row(cls, row: Mensaje) -> MessageOut:
        author = None
        if row.rol == "staff":
            name = row.agente_nombre if isinstance(row, MensajeConAutor) else None
            author = Author(name=name)
        return cls(
            id=row.mensaje_id,
            role="agent" if row.rol == "staff" else row.rol,
            text=row.contenido or "",
            created_at=row.created_at,
            reply_to=row.respuesta_a,
            client_message_id=row.proveedor_id if row.direccion == "inbound" else None,
            author=author,
        )


class ReplyOut(BaseModel):
    """The assistant's answer to one message."""

    message: MessageOut | None
    fallback: bool = False
    handed_off: bool = False
    notice: str | None = None

    @classmethod
    def from_done(cls, done: ReplyDone) -> ReplyOut:
        """The body for a finished reply."""
        return cls(
            message=MessageOut.from_row(done.message) if done.message else None,
            fallback=done.fallback,
            handed_off=done.handed_off,
            notice=done.notice,
        )


class ExchangeOut(BaseModel):
    """The stored visitor message and the reply to it."""

    message: MessageOut
    reply: ReplyOut


class HistoryOut(BaseModel):
    """A conversation's messages in order."""

    messages: list[MessageOut]

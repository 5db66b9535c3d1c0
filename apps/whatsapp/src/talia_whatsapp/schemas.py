"""The forms Twilio posts for WhatsApp, parsed into typed values at the edge.

Identifiers (SIDs, addresses, codes) are taken whole or refused; free text drops NUL bytes
(`talia_core.text`). A body over the message column's limit is refused with a 413.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from talia_core.errors import PayloadTooLarge
from talia_core.forms import InvalidForm, form_count, form_identifier, form_text
from talia_core.text import MAX_MESSAGE_CHARS, MAX_NAME_CHARS

# Twilio allows up to 10 media per message.
MAX_MEDIA = 10
MAX_ERROR_CODE_CHARS = 20  # mensajes.error_codigo
DELIVERY_STATUSES = frozenset(
    {"queued", "sending", "sent", "failed", "undelivered", "delivered", "read"}
)

MessageKind = Literal["text", "audio", "image", "media", "location"]


@dataclass(frozen=True)
class Media:
    """One attachment: where Twilio keeps it and what it is."""

    url: str
    content_type: str

    @property
    def is_audio(self) -> bool:
        """Voice notes and audio files."""
        return self.content_type.startswith("audio/")


@dataclass(frozen=True)
class InboundMessage:
    """An incoming WhatsApp message, with what we store and answer."""

    message_sid: str
    sender: str  # `From` as sent: `whatsapp:+346…` or a business-scoped user id
    to: str
    body: str
    media: tuple[Media, ...]
    profile_name: str | None
    metadata: dict[str, Any]

    @property
    def kind(self) -> MessageKind:
        """What the message mostly is, for the stored row."""
        if "location" in self.metadata:
            return "location"
        if not self.media:
            return "text"
        first = self.media[0].content_type
        if first.startswith("audio/"):
            return "audio"
        return "image" if first.startswith("image/") else "media"

    @property
    def text(self) -> str:
        """The words of the message: the body, a button's text, or a location's label."""
        if self.body:
            return self.body
        button = self.metadata.get("button")
        if isinstance(button, dict) and button.get("text"):
            return str(button["text"])
        location = self.metadata.get("location")
        if isinstance(location, dict):
            return str(location.get("label") or location.get("address") or "")
        return ""


@dataclass(frozen=True)
class DeliveryStatus:
    """A status callback for a message we sent."""

    message_sid: str
    status: str
    error_code: str | None


def _optional(form: Mapping[str, Any], name: str) -> str | None:
    return form_text(form, name) or None


def parse_inbound(form: Mapping[str, Any]) -> InboundMessage:
    """Validate and type an inbound message form; `InvalidForm` (400) names what is wrong."""
    message_sid = form_identifier(form, "MessageSid", required=True)
    sender = form_identifier(form, "From", required=True)
    body = form_text(form, "Body")
    if len(body) > MAX_MESSAGE_CHARS:
        raise PayloadTooLarge(f"Body is over {MAX_MESSAGE_CHARS} characters.")
    media = []
    for index in range(form_count(form, "NumMedia", most=MAX_MEDIA)):
        url = form_identifier(form, f"MediaUrl{index}", required=True)
        if not url.startswith(("https://", "http://")):
            raise InvalidForm(f"MediaUrl{index} must be an http(s) URL")
        content_type = form_text(form, f"MediaContentType{index}") or "application/octet-stream"
        media.append(Media(url, content_type))
    metadata: dict[str, Any] = {}
    if _optional(form, "ButtonPayload") or _optional(form, "ButtonText"):
        metadata["button"] = {
            "payload": _optional(form, "ButtonPayload"),
            "text": _optional(form, "ButtonText"),
        }
    if _optional(form, "Latitude") and _optional(form, "Longitude"):
        metadata["location"] = {
            "latitude": form_text(form, "Latitude"),
            "longitude": form_text(form, "Longitude"),
            "address": _optional(form, "Address"),
            "label": _optional(form, "Label"),
        }
    if replied_to := form_identifier(form, "OriginalRepliedMessageSid"):
        metadata["replied_to"] = replied_to
    return InboundMessage(
        message_sid=message_sid,
        sender=sender,
        to=form_identifier(form, "To"),
        body=body,
        media=tuple(media),
        # A name is not worth refusing a message over: cut to its column.
        profile_name=form_text(form, "ProfileName")[:MAX_NAME_CHARS] or None,
        metadata=metadata,
    )


def parse_status(form: Mapping[str, Any]) -> DeliveryStatus:
    """Validate a delivery status callback form."""
    status = form_identifier(form, "MessageStatus", required=True).lower()
    error_code = form_identifier(form, "ErrorCode")
    if len(error_code) > MAX_ERROR_CODE_CHARS:
        raise InvalidForm("ErrorCode is not a Twilio error code")
    return DeliveryStatus(
        message_sid=form_identifier(form, "MessageSid", required=True),
        status=status,
        error_code=error_code or None,
    )

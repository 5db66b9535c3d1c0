"""The forms Twilio posts for WhatsApp, parsed into typed values at the edge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from talia_core.errors import BadRequest

# Twilio allows up to 10 media per message.
MAX_MEDIA = 10
DELIVERY_STATUSES = frozenset(
    {"queued", "sending", "sent", "failed", "undelivered", "delivered", "read"}
)

MessageKind = Literal["text", "audio", "image", "media", "location"]


class InvalidForm(BadRequest):
    code = "invalid_form"
    message = "The form is not a valid Twilio WhatsApp webhook."


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


def _field(form: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidForm(f"{name} is required")
    return text


def _optional(form: Mapping[str, Any], name: str) -> str | None:
    return _field(form, name) or None


def parse_inbound(form: Mapping[str, Any]) -> InboundMessage:
    """Validate and type an inbound message form; `InvalidForm` (400) names what is wrong."""
    message_sid = _field(form, "MessageSid", required=True)
    sender = _field(form, "From", required=True)
    count = _field(form, "NumMedia") or "0"
    if not count.isdigit() or int(count) > MAX_MEDIA:
        raise InvalidForm(f"NumMedia must be a whole number from 0 to {MAX_MEDIA}")
    media = []
    for index in range(int(count)):
        url = _field(form, f"MediaUrl{index}", required=True)
        if not url.startswith(("https://", "http://")):
            raise InvalidForm(f"MediaUrl{index} must be an http(s) URL")
        content_type = _field(form, f"MediaContentType{index}") or "application/octet-stream"
        media.append(Media(url, content_type))
    metadata: dict[str, Any] = {}
    if _optional(form, "ButtonPayload") or _optional(form, "ButtonText"):
        metadata["button"] = {
            "payload": _optional(form, "ButtonPayload"),
            "text": _optional(form, "ButtonText"),
        }
    if _optional(form, "Latitude") and _optional(form, "Longitude"):
        metadata["location"] = {
            "latitude": _field(form, "Latitude"),
            "longitude": _field(form, "Longitude"),
            "address": _optional(form, "Address"),
            "label": _optional(form, "Label"),
        }
    if _optional(form, "OriginalRepliedMessageSid"):
        metadata["replied_to"] = _field(form, "OriginalRepliedMessageSid")
    return InboundMessage(
        message_sid=message_sid,
        sender=sender,
        to=_field(form, "To"),
        body=str(form.get("Body") or "").strip(),
        media=tuple(media),
        profile_name=_optional(form, "ProfileName"),
        metadata=metadata,
    )


def parse_status(form: Mapping[str, Any]) -> DeliveryStatus:
    """Validate a delivery status callback form."""
    status = _field(form, "MessageStatus", required=True).lower()
    return DeliveryStatus(
        message_sid=_field(form, "MessageSid", required=True),
        status=status,
        error_code=_optional(form, "ErrorCode"),
    )

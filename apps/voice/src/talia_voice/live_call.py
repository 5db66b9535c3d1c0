"""The facts of one bridged call that its parts share."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from talia_core.assistants.profile import AssistantProfile


@dataclass(frozen=True)
class LiveCall:
    """Who and what a bridged call is about."""

    call_sid: str
    stream_sid: str
    conversacion_id: UUID
    contacto_id: UUID
    profile: AssistantProfile

    @property
    def language(self) -> str | None:
        """The language Twilio's `<Say>` uses for the profile's texts."""
        return self.profile.languages[0] if self.profile.languages else None

"""The assistant profile of SPEC, validated strictly: unknown keys are errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from talia_core.ai.transcription import DEFAULT_TRANSCRIPTION_MODEL

Channel = Literal["whatsapp", "webchat", "voice"]
ToolName = Literal["guardar_lead", "solicitar_humano", "transferir_llamada", "colgar"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32_000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ProfileKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
TurnDetection = Literal["server_vad", "semantic_vad"]
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")]
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]


CallSeconds = Annotated[float, Field(gt=0, le=14400)]


class ProfileError(ValueError):
    """A profile file or row is invalid; the message names every bad field."""


class FallbackTexts(BaseModel):
    """What the assistant says when it cannot answer normally."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Text
    unsupported_media: Text | None = None
    handoff: Text | None = None
    busy: Text | None = None
    goodbye: Text | None = None


class _ProfileFields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Name | None = None
    instructions: Text | None = None
    greeting: Text | None = None
    fallback: FallbackTexts | None = None
    voice: Name | None = None
    realtime_model: Name | None = None
    tools: tuple[ToolName, ...] | None = None
    languages: tuple[LanguageTag, ...] | None = None
    transfer_number: PhoneNumber | None = None
    transcription_model: Name | None = None
    turn_detection: TurnDetection | None = None
    max_call_seconds: CallSeconds | None = None
    max_silence_seconds: CallSeconds | None = None


class ChannelOverrides(_ProfileFields):
    """Per-channel replacements for any profile field."""


class AssistantProfile(BaseModel):
    """A whole profile, as imported from a file and stored in `asistentes`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: ProfileKey
    model: Name
    instructions: Text
    greeting: Text
    fallback: FallbackTexts
    voice: Name
    realtime_model: Name
    tools: tuple[ToolName, ...] = ()
    languages: tuple[LanguageTag, ...] = ("es", "en")
    transfer_number: PhoneNumber | None = None
    transcription_model: Name = DEFAULT_TRANSCRIPTION_MODEL
    turn_detection: TurnDetection = "server_vad"
    # Phone calls end after this long, or this long without anyone speaking (unset: the
    # voice app's TALIA_VOICE_MAX_CALL_SECONDS / TALIA_VOICE_MAX_SILENCE_SECONDS).
    max_call_seconds: CallSeconds | None = None
    max_silence_seconds: CallSeconds | None = None
    channels: dict[Channel, ChannelOverrides] = Field(default_factory=dict)

    def for_channel(self, channel: Channel) -> AssistantProfile:
        """This profile with the channel's overrides applied."""
        overrides = self.channels.get(channel)
        if overrides is None:
            return self
        changes = overrides.model_dump(exclude_none=True)
        if "fallback" in changes:
            changes["fallback"] = overrides.fallback
        return self.model_copy(update=changes)


def parse_profile(data: Mapping[str, Any], *, source: str = "profile") -> AssistantProfile:
    """Validate a profile mapping; one `ProfileError` lists every bad field."""
    try:
        return AssistantProfile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(top level)"
            reason = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(f"{where}: {reason}")
        raise ProfileError(f"{source}: " + "; ".join(problems)) from None

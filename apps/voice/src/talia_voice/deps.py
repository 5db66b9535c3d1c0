"""Dependencies of the voice endpoints, as `Annotated` aliases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends
from openai import AsyncOpenAI
from starlette.requests import HTTPConnection

from talia_core.assistants.registry import AssistantRegistry
from talia_core.repositories.eventos import EventosRepository
from talia_core.security import TwilioSignatureVerifier
from talia_voice.calls import CallsRepository
from talia_voice.config import Settings


@dataclass
class VoiceState:
    """What the voice lifespan opened, and the calls live in this process."""

    settings: Settings
    openai: AsyncOpenAI
    registry: AssistantRegistry
    calls: CallsRepository
    eventos: EventosRepository
    verifier: TwilioSignatureVerifier
    live_calls: set[str] = field(default_factory=set)


def get_state(connection: HTTPConnection) -> VoiceState:
    """The voice state the lifespan put on the app (for requests and sockets)."""
    state = getattr(connection.app.state, "voice", None)
    if not isinstance(state, VoiceState):
        raise RuntimeError("the voice lifespan has not run")
    return state


State = Annotated[VoiceState, Depends(get_state)]

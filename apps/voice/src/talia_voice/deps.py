"""Dependencies of the voice endpoints, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from talia_voice.state import VoiceState


async def get_state(connection: HTTPConnection) -> VoiceState:
    """The voice state the lifespan put on the app (for requests and sockets)."""
    state = getattr(connection.app.state, "voice", None)
    if not isinstance(state, VoiceState):
        raise RuntimeError("the voice lifespan has not run")
    return state


State = Annotated[VoiceState, Depends(get_state)]

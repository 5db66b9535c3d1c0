"""Dependencies of the voice endpoints, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from talia_core.deps import app_state
from talia_voice.state import VoiceState

get_state = app_state("voice", VoiceState)
State = Annotated[VoiceState, Depends(get_state)]

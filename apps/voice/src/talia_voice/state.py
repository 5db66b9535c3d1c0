"""What the voice lifespan opened, and the calls live in this process."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from openai import AsyncOpenAI

from talia_core.ai.tools import ToolRunner
from talia_core.assistants.registry import AssistantRegistry
from talia_core.repositories.conversaciones import ConversacionesRepository
from talia_core.repositories.eventos import EventosRepository
from talia_core.repositories.llamadas import LlamadasRepository
from talia_core.security import TwilioSignatureVerifier
from talia_core.state import CoreState
from talia_voice.bridge import CallBridge
from talia_voice.call_control import CallControl
from talia_voice.config import Settings
from talia_voice.metrics import CallMetrics


@dataclass
class VoiceState:
    """What the voice lifespan opened, and the calls live in this process."""

    settings: Settings
    openai: AsyncOpenAI
    registry: AssistantRegistry
    calls: LlamadasRepository
    conversaciones: ConversacionesRepository
    eventos: EventosRepository
    tool_runner: ToolRunner
    control: CallControl
    verifier: TwilioSignatureVerifier
    core: CoreState
    live_calls: dict[str, CallBridge] = field(default_factory=dict)
    no_live_calls: asyncio.Event = field(default_factory=asyncio.Event)
    metrics: CallMetrics = field(init=False)

    def __post_init__(self) -> None:
        self.no_live_calls.set()
        self.metrics = CallMetrics(
            self.core.metrics.registry, live_calls=lambda: len(self.live_calls)
        )

    def call_started(self, call_sid: str, bridge: CallBridge) -> None:
        """Count a bridged call as live."""
        self.live_calls[call_sid] = bridge
        self.no_live_calls.clear()

    def call_finished(self, call_sid: str) -> None:
        """A call is over, its end recorded."""
        self.live_calls.pop(call_sid, None)
        if not self.live_calls:
            self.no_live_calls.set()

    @property
    def taking_calls(self) -> bool:
        """False while draining for shutdown or at the concurrent call cap."""
        return (
            not self.core.draining
            and len(self.live_calls) < self.settings.calls.max_concurrent_calls
        )

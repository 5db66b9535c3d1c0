"""The tools the model may call during a phone call: save the lead, transfer, hang up."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from talia_core.ai.tools import ToolRunner
from talia_core.repositories.eventos import EventosRepository
from talia_voice.call_control import CallControl
from talia_voice.live_call import LiveCall

Next = Literal["answer", "transferred", "hang_up"]


@dataclass(frozen=True)
class PhoneToolResult:
    """The output for the model, and what the call does next."""

    output: str
    next: Next = "answer"


def _result(**values: object) -> str:
    return json.dumps(values, ensure_ascii=False)


class PhoneTools:
    """Runs one call's tool calls against the database and the live call."""

    def __init__(
        self,
        call: LiveCall,
        *,
        runner: ToolRunner,
        control: CallControl,
        eventos: EventosRepository,
    ) -> None:
        self._call = call
        self._runner = runner
        self._control = control
        self._eventos = eventos

    async def run(self, name: str, arguments: str) -> PhoneToolResult:
        """Run `name` if the profile enables it; errors come back to the model to explain."""
        if name not in self._call.profile.tools:
            return PhoneToolResult(_result(ok=False, error=f"tool {name} is not available"))
        if name == "transferir_llamada":
            return await self._transfer()
        if name == "colgar":
            return PhoneToolResult(_result(ok=True), next="hang_up")
        outcome = await self._runner.run(
            name=name,
            arguments=arguments,
            conversacion_id=self._call.conversacion_id,
            contacto_id=self._call.contacto_id,
        )
        return PhoneToolResult(outcome.output)

    async def _transfer(self) -> PhoneToolResult:
        profile = self._call.profile
        if profile.transfer_number is None:
            return PhoneToolResult(_result(ok=False, error="no transfer number is configured"))
        transferred = await self._control.transfer(
            self._call.call_sid,
            number=profile.transfer_number,
            announcement=profile.fallback.handoff,
            language=self._call.language,
        )
        if not transferred:
            return PhoneToolResult(_result(ok=False, error="the transfer failed"))
        await self._eventos.record(
            "call_transferred",
            conversacion_id=self._call.conversacion_id,
            contacto_id=self._call.contacto_id,
            payload={"call_sid": self._call.call_sid},
        )
        return PhoneToolResult(_result(ok=True), next="transferred")

"""Text-channel tools the model may call: save the lead, ask for a person."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError

from talia_core.repositories.contactos import ContactosRepository
from talia_core.repositories.conversaciones import ConversacionesRepository
from talia_core.repositories.errors import InvalidRecord, TextTooLong

TEXT_TOOLS: Final = frozenset({"guardar_lead", "solicitar_humano"})


class LeadArguments(BaseModel):
    """Arguments of `guardar_lead`; absent values are null."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    nombre: str | None = None
    email: str | None = None
    telefono: str | None = None
    interes: str | None = None
    notas: str | None = None


class HandoffArguments(BaseModel):
    """Arguments of `solicitar_humano`."""

    model_config = ConfigDict(extra="ignore")

    motivo: str | None = None


@dataclass(frozen=True)
class ToolOutcome:
    """What goes back to the model, and whether the conversation left the assistant."""

    output: str
    handed_off: bool = False


def _result(**values: object) -> str:
    return json.dumps(values, ensure_ascii=False)


class ToolRunner:
    """Runs a tool call against the database for one conversation."""

    def __init__(
        self, contactos: ContactosRepository, conversaciones: ConversacionesRepository
    ) -> None:
        self._contactos = contactos
        self._conversaciones = conversaciones

    async def run(
        self, *, name: str, arguments: str, conversacion_id: UUID, contacto_id: UUID
    ) -> ToolOutcome:
        """Run `name`; bad arguments come back to the model as an error it can fix."""
        try:
            if name == "guardar_lead":
                lead = LeadArguments.model_validate_json(arguments or "{}")
                await self._contactos.update_lead(
                    contacto_id, **lead.model_dump(), conversacion_id=conversacion_id
                )
                saved = sorted(k for k, v in lead.model_dump().items() if v)
                return ToolOutcome(_result(ok=True, saved=saved))
            if name == "solicitar_humano":
                handoff = HandoffArguments.model_validate_json(arguments or "{}")
                await self._conversaciones.hand_off(conversacion_id, motivo=handoff.motivo)
                return ToolOutcome(_result(ok=True), handed_off=True)
        except ValidationError as exc:
            return ToolOutcome(
                _result(ok=False, error=f"invalid arguments: {exc.error_count()} errors")
            )
        except (InvalidRecord, TextTooLong) as exc:
            return ToolOutcome(_result(ok=False, error=exc.message))
        return ToolOutcome(_result(ok=False, error=f"unknown tool {name}"))

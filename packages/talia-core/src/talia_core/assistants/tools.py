"""The tools an assistant may use, as JSON schemas for the Responses and Realtime APIs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from openai.types.realtime.realtime_function_tool_param import RealtimeFunctionToolParam
from openai.types.responses.function_tool_param import FunctionToolParam

from talia_core.assistants.profile import ToolName


def _nullable_string(description: str) -> dict[str, Any]:
    return {"type": ["string", "null"], "description": description}


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its name, what it does, and its strict argument schema."""

    name: ToolName
    description: str
    properties: dict[str, dict[str, Any]]

    @property
    def parameters(self) -> dict[str, object]:
        # Strict mode: every property required, absence spelled as null.
        return {
            "type": "object",
            "properties": self.properties,
            "required": list(self.properties),
            "additionalProperties": False,
        }


TOOL_SPECS: Final[dict[ToolName, ToolSpec]] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            "guardar_lead",
            "Save what the customer has told about themselves and what they want.",
            {
                "nombre": _nullable_string("Customer's name"),
                "email": _nullable_string("Customer's email address"),
                "telefono": _nullable_string("Customer's phone number, international format"),
                "interes": _nullable_string("What the customer wants or asks about"),
                "notas": _nullable_string("Other useful details"),
            },
        ),
        ToolSpec(
            "solicitar_humano",
            "Hand the conversation over to a person on the business's staff.",
            {"motivo": _nullable_string("Why a person is needed")},
        ),
        ToolSpec(
            "transferir_llamada",
            "Transfer the phone call to the business's staff.",
            {"motivo": _nullable_string("Why the call is transferred")},
        ),
        ToolSpec(
            "colgar",
            "End the phone call after the last words have been heard.",
            {"motivo": _nullable_string("Why the call ends")},
        ),
    )
}


def response_tools(names: Iterable[ToolName]) -> list[FunctionToolParam]:
    """Function tools in the Responses API shape (flat, strict)."""
    return [
        {
            "type": "function",
            "name": TOOL_SPECS[name].name,
            "description": TOOL_SPECS[name].description,
            "parameters": TOOL_SPECS[name].parameters,
            "strict": True,
        }
        for name in names
    ]


def realtime_tools(names: Iterable[ToolName]) -> list[RealtimeFunctionToolParam]:
    """Function tools in the Realtime API shape."""
    return [
        {
            "type": "function",
            "name": TOOL_SPECS[name].name,
            "description": TOOL_SPECS[name].description,
            "parameters": TOOL_SPECS[name].parameters,
        }
        for name in names
    ]

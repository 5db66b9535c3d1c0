"""The text engine: one OpenAI conversation per TalIA conversation, replies streamed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from uuid import UUID

import openai
import psycopg
import structlog
from openai import AsyncOpenAI
from openai.types.responses.function_tool_param import FunctionToolParam
from openai.types.responses.response_create_params import ResponseCreateParamsStreaming
from openai.types.responses.response_input_param import ResponseInputParam
from opentelemetry.trace import Span, SpanKind
from psycopg_pool import AsyncConnectionPool

from talia_core.ai.events import EngineEvent, ReplyFinished, TextDelta
from talia_core.ai.metrics import ModelMetrics
from talia_core.ai.responses import (
    Completed,
    FunctionCall,
    ModelUnusable,
    OutputText,
    stream_response,
)
from talia_core.ai.tools import TEXT_TOOLS, ToolRunner
from talia_core.assistants.profile import AssistantProfile
from talia_core.assistants.registry import AssistantRegistry
from talia_core.assistants.tools import response_tools
from talia_core.errors import TaliaError
from talia_core.repositories.contactos import ContactosRepository
from talia_core.repositories.conversaciones import (
    Canal,
    ConversacionEnCurso,
    ConversacionesRepository,
)
from talia_core.repositories.eventos import EventosRepository
from talia_core.repositories.mensajes import MensajesRepository
from talia_core.tracing import failed, span, tracer

log = structlog.stdlib.get_logger("talia.ai")


@dataclass(frozen=True)
class UserTurn:
    """A user's message to answer: its text, the stored message and the reply's key."""

    conversacion_id: UUID
    text: str
    reply_to: int | None
    idempotency_key: str


@dataclass
class _Round:
    text: list[str] = field(default_factory=list)
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # call_id, name, arguments
    usage: dict[str, int] = field(default_factory=dict)


class TextEngine:
    """Answers text turns with the conversation's profile; tools run between rounds."""

    def __init__(
        self,
        *,
        client: AsyncOpenAI,
        registry: AssistantRegistry,
        pool: AsyncConnectionPool,
        metrics: ModelMetrics | None = None,
        max_tool_rounds: int = 4,
    ) -> None:
        self._client = client
        self._registry = registry
        self._conversaciones = ConversacionesRepository(pool)
        self._mensajes = MensajesRepository(pool)
        self._eventos = EventosRepository(pool)
        self._tools = ToolRunner(ContactosRepository(pool), self._conversaciones)
        self._max_tool_rounds = max_tool_rounds
        self._metrics = metrics or ModelMetrics()
        self._preparing: set[asyncio.Task[str | None]] = set()

    async def reply(
        self,
        turn: UserTurn,
        *,
        conversation: ConversacionEnCurso | None = None,
        profile: AssistantProfile | None = None,
    ) -> AsyncIterator[EngineEvent]:
        """Stream the reply to `turn` as deltas, then one `ReplyFinished` (stored).

        A caller that has just read the conversation and its channel's profile passes them,
        and they are not read again.
        """
        if conversation is None:
            conversation = await self._conversaciones.get(turn.conversacion_id)
            if conversation is None:
                raise LookupError(f"conversation {turn.conversacion_id} does not exist")
        if profile is None:
            profile = await self._registry.get(conversation.asistente_clave)
            profile = profile.for_channel(conversation.canal)
        if conversation.estado == "handoff":
            notice = profile.fallback.handoff
            yield ReplyFinished(text="", message_id=None, handed_off=True, notice=notice)
            return
        started = time.perf_counter()
        usage: dict[str, int] = {}
        handed_off = False
        text = ""
        try:
            openai_id = await self._openai_conversation(conversation)
            tools = response_tools(name for name in profile.tools if name in TEXT_TOOLS)
            pending: ResponseInputParam = [{"role": "user", "content": turn.text}]
            for _ in range(self._max_tool_rounds + 1):
                result = _Round()
                # Not the current span: it would have to stay current across the yields.
                request_span = _model_span(profile.model, openai_id)
                try:
                    async for delta in self._stream_round(
                        profile, openai_id, pending, tools, result
                    ):
                        yield TextDelta(delta)
                except BaseException as exc:
                    failed(request_span, exc)
                    raise
                finally:
                    _end_model_span(request_span, result)
                _add_usage(usage, result.usage)
                text += "".join(result.text)
                if not result.calls:
                    break
                pending = []
                for call_id, name, arguments in result.calls:
                    with span(
                        f"execute_tool {name}",
                        attributes={
                            "gen_ai.operation.name": "execute_tool",
                            "gen_ai.tool.name": name,
                        },
                    ):
                        outcome = await self._tools.run(
                            name=name,
                            arguments=arguments,
                            conversacion_id=conversation.conversacion_id,
                            contacto_id=conversation.contacto_id,
                        )
                    handed_off = handed_off or outcome.handed_off
                    pending.append(
                        {
                            "type": "function_call_output",
                            "call_id": call_id,
                            "output": outcome.output,
                        }
                    )
            else:
                raise ModelUnusable("too many tool rounds")
        except (openai.APIError, ModelUnusable) as exc:
            fallback = await self._fall_back(turn, conversation, profile, exc, usage)
            self._metrics.reply(
                channel=conversation.canal,
                outcome="fallback",
                seconds=time.perf_counter() - started,
            )
            yield fallback
            return

        stored = await self._mensajes.record_outbound(
            conversacion_id=conversation.conversacion_id,
            contenido=text,
            idempotency_key=turn.idempotency_key,
            respuesta_a=turn.reply_to,
            metadata={"model": profile.model, "usage": usage},
        )
        seconds = time.perf_counter() - started
        self._metrics.reply(channel=conversation.canal, outcome="answered", seconds=seconds)
        log.info(
            "reply_generated",
            conversation_id=str(conversation.conversacion_id),
            latency_ms=round(seconds * 1000),
            output_tokens=usage.get("output_tokens", 0),
            chars=len(text),
        )
        yield ReplyFinished(
            text=text,
            message_id=stored.mensaje_id,
            handed_off=handed_off,
            notice=profile.fallback.handoff if handed_off else None,
            usage=usage,
        )

    async def open_openai_conversation(self, conversacion_id: UUID, canal: Canal) -> str:
        """Create the OpenAI conversation of a TalIA conversation and store it; the one
        stored first when two were created at once (it is the one both then use)."""
        created = await self._client.conversations.create(
            metadata={"talia_conversation_id": str(conversacion_id), "channel": canal}
        )
        return await self._conversaciones.attach_openai_conversation(conversacion_id, created.id)

    def prepare_openai_conversation_soon(self, conversacion_id: UUID, canal: Canal) -> None:
        """Start `prepare_openai_conversation` in the background and return at once."""
        task = asyncio.create_task(self.prepare_openai_conversation(conversacion_id, canal))
        self._preparing.add(task)
        task.add_done_callback(self._preparing.discard)

    async def prepare_openai_conversation(self, conversacion_id: UUID, canal: Canal) -> str | None:
        """Create the OpenAI conversation ahead of the first reply, off its critical path.

        None (logged) when that failed: the first reply then creates it, as it would have.
        """
        try:
            return await self.open_openai_conversation(conversacion_id, canal)
        except (openai.APIError, psycopg.Error, TaliaError) as exc:
            log.warning("openai_conversation_not_prepared", channel=canal, error=type(exc).__name__)
            return None

    async def _openai_conversation(self, conversation: ConversacionEnCurso) -> str:
        if conversation.openai_conversation_id:
            return conversation.openai_conversation_id
        return await self.open_openai_conversation(conversation.conversacion_id, conversation.canal)

    async def _stream_round(
        self,
        profile: AssistantProfile,
        openai_id: str,
        pending: ResponseInputParam,
        tools: list[FunctionToolParam],
        result: _Round,
    ) -> AsyncIterator[str]:
        body: ResponseCreateParamsStreaming = {
            "model": profile.model,
            "conversation": openai_id,
            "instructions": profile.instructions,
            "input": pending,
            "tools": tools,
            "stream": True,
            "store": True,
        }
        async for event in stream_response(self._client, body):
            if isinstance(event, OutputText):
                result.text.append(event.text)
                yield event.text
            elif isinstance(event, FunctionCall):
                result.calls.append((event.call_id, event.name, event.arguments))
            elif isinstance(event, Completed):
                result.usage = event.usage

    async def _fall_back(
        self,
        turn: UserTurn,
        conversation: ConversacionEnCurso,
        profile: AssistantProfile,
        exc: Exception,
        usage: dict[str, int],
    ) -> ReplyFinished:
        status = getattr(exc, "status_code", None)
        log.warning(
            "model_failed",
            conversation_id=str(conversation.conversacion_id),
            error_type=type(exc).__name__,
            status=status,
        )
        await self._eventos.record(
            "model_failed",
            conversacion_id=conversation.conversacion_id,
            payload={"error": type(exc).__name__, "status": status, "detail": str(exc)[:200]},
        )
        text = profile.fallback.default
        stored = await self._mensajes.record_outbound(
            conversacion_id=conversation.conversacion_id,
            contenido=text,
            idempotency_key=turn.idempotency_key,
            respuesta_a=turn.reply_to,
            metadata={"fallback": True, "usage": usage},
        )
        return ReplyFinished(text=text, message_id=stored.mensaje_id, fallback=True, usage=usage)


def _model_span(model: str, openai_conversation: str) -> Span:
    """A span for one Responses request, named and described as OpenTelemetry's GenAI
    conventions say (the prompt and the reply's text are never recorded)."""
    return tracer().start_span(
        f"chat {model}",
        kind=SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": model,
            "gen_ai.conversation.id": openai_conversation,
        },
        record_exception=False,
        set_status_on_exception=False,
    )


def _end_model_span(request_span: Span, result: _Round) -> None:
    for name, value in result.usage.items():
        request_span.set_attribute(f"gen_ai.usage.{name}", value)
    request_span.set_attribute("talia.tool_calls", len(result.calls))
    request_span.end()


def _add_usage(total: dict[str, int], more: dict[str, int]) -> None:
    for key, value in more.items():
        total[key] = total.get(key, 0) + value

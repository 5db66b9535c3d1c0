"""The text engine through the real openai SDK to the fake model, on real Postgres."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from openai import AsyncOpenAI
from psycopg_pool import AsyncConnectionPool

from talia_core.ai.engine import TextEngine, UserTurn
from talia_core.ai.events import ReplyFinished, TextDelta
from talia_core.assistants.registry import AssistantRegistry
from talia_core.repositories.asistentes import AsistentesRepository
from talia_core.repositories.contactos import ContactosRepository
from talia_core.repositories.conversaciones import ConversacionesRepository
from talia_core.repositories.eventos import EventosRepository
from talia_core.repositories.mensajes import EntranteRegistrado, MensajesRepository
from talia_testkit.fake_openai import FakeOpenAI, ToolCall, Turn
from talia_testkit.profiles import throwaway_profile


def _profile(**changes: Any) -> dict[str, Any]:
    return throwaway_profile(**{"instructions": "test instructions v1", **changes})


@dataclass
class Harness:
    engine: TextEngine
    fake: FakeOpenAI
    pool: AsyncConnectionPool
    counter: int = 0

    async def inbound(self, text: str) -> EntranteRegistrado:
        self.counter += 1
        return await MensajesRepository(self.pool).record_inbound(
            canal="whatsapp",
            identidad="whatsapp:+5215500000001",
            asistente="tienda",
            proveedor_id=f"SM{self.counter}",
            contenido=text,
        )

    async def answer(self, text: str) -> tuple[list[str], ReplyFinished, EntranteRegistrado]:
        inbound = await self.inbound(text)
        turn = UserTurn(
            conversacion_id=inbound.conversacion_id,
            text=text,
            reply_to=inbound.mensaje_id,
            idempotency_key=f"reply:{inbound.mensaje_id}",
        )
        deltas: list[str] = []
        finished: ReplyFinished | None = None
        async for event in self.engine.reply(turn):
            if isinstance(event, TextDelta):
                deltas.append(event.text)
            else:
                finished = event
        assert finished is not None
        return deltas, finished, inbound


@pytest.fixture
async def harness(fake_openai: FakeOpenAI, db_pool: AsyncConnectionPool) -> AsyncIterator[Harness]:
    await AsistentesRepository(db_pool).save("tienda", _profile())
    async with AsyncOpenAI(
        base_url=fake_openai.base_url, api_key="sk-test", max_retries=2
    ) as client:
        registry = AssistantRegistry(db_pool, ttl_seconds=0)
        yield Harness(
            TextEngine(client=client, registry=registry, pool=db_pool), fake_openai, db_pool
        )


async def test_deltas_joined_equal_the_stored_reply(harness: Harness) -> None:
    harness.fake.add_turns(Turn(text="¡Hola! Tenemos planes desde 10 €.", deltas=5))

    deltas, finished, inbound = await harness.answer("hola")

    history = await MensajesRepository(harness.pool).history(inbound.conversacion_id)
    assert len(deltas) == 5
    assert "".join(deltas) == finished.text == history[-1].contenido
    assert history[-1].respuesta_a == inbound.mensaje_id
    assert history[-1].metadata["usage"]["output_tokens"] > 0


async def test_second_turn_reuses_the_openai_conversation(harness: Harness) -> None:
    await harness.answer("hola")
    await harness.answer("¿y el precio?")

    creates = harness.fake.requests("/v1/conversations")
    turns = harness.fake.requests("/v1/responses")
    assert len(creates) == 1
    assert turns[0].body["conversation"] == turns[1].body["conversation"]
    assert turns[1].body["input"] == [{"role": "user", "content": "¿y el precio?"}]


async def test_instructions_are_sent_with_every_request(harness: Harness) -> None:
    await harness.answer("hola")

    body = harness.fake.requests("/v1/responses")[0].body
    assert body["instructions"] == "test instructions v1"
    assert body["model"] == "gpt-test"
    assert [tool["name"] for tool in body["tools"]] == ["guardar_lead", "solicitar_humano"]


async def test_guardar_lead_updates_the_contact(harness: Harness) -> None:
    harness.fake.add_turns(
        Turn(tool_call=ToolCall("guardar_lead", {"nombre": "Ana", "email": "ana@example.com"})),
        Turn(text="Gracias, Ana."),
    )

    _, finished, inbound = await harness.answer("Soy Ana, ana@example.com")

    contact = await ContactosRepository(harness.pool).get(inbound.contacto_id)
    tool_output = harness.fake.requests("/v1/responses")[1].body["input"][0]
    assert contact is not None
    assert (contact.nombre, contact.email) == ("Ana", "ana@example.com")
    assert tool_output["type"] == "function_call_output"
    assert '"ok": true' in tool_output["output"]
    assert finished.text == "Gracias, Ana."


async def test_an_invalid_lead_goes_back_to_the_model_as_an_error(harness: Harness) -> None:
    harness.fake.add_turns(
        Turn(tool_call=ToolCall("guardar_lead", {"email": "not-an-email"})),
        Turn(text="¿Me repites tu correo?"),
    )

    _, finished, _ = await harness.answer("mi correo es not-an-email")

    tool_output = harness.fake.requests("/v1/responses")[1].body["input"][0]["output"]
    assert '"ok": false' in tool_output
    assert "email" in tool_output
    assert finished.text == "¿Me repites tu correo?"


async def test_handoff_stops_replies_until_staff_gives_it_back(harness: Harness) -> None:
    harness.fake.add_turns(
        Turn(tool_call=ToolCall("solicitar_humano", {"motivo": "wants a person"})),
        Turn(text="Te paso con una persona."),
    )
    _, handing, inbound = await harness.answer("quiero hablar con una persona")

    _, silent, _ = await harness.answer("¿hola?")
    await ConversacionesRepository(harness.pool).give_back(inbound.conversacion_id)
    harness.fake.add_turns(Turn(text="De vuelta."))
    _, back, _ = await harness.answer("¿sigues ahí?")

    assert handing.handed_off
    assert (silent.handed_off, silent.message_id, silent.text) == (True, None, "")
    assert len(harness.fake.requests("/v1/responses")) == 3
    assert back.text == "De vuelta."


async def test_a_429_then_success_gives_one_reply(harness: Harness) -> None:
    harness.fake.add_turns(Turn(status=429), Turn(text="ok"))

    _, finished, inbound = await harness.answer("hola")

    history = await MensajesRepository(harness.pool).history(inbound.conversacion_id)
    assert finished.text == "ok"
    assert [m.direccion for m in history] == ["inbound", "outbound"]


async def test_a_model_down_for_good_gives_the_fallback_and_an_event(harness: Harness) -> None:
    harness.fake.add_turns(*[Turn(status=500)] * 3)

    _, finished, inbound = await harness.answer("hola")

    events = await EventosRepository(harness.pool).list_for_conversation(inbound.conversacion_id)
    history = await MensajesRepository(harness.pool).history(inbound.conversacion_id)
    assert finished.fallback
    assert finished.text == history[-1].contenido == "test fallback text"
    assert events[-1].tipo == "model_failed"
    assert events[-1].payload["status"] == 500


async def test_a_stream_dropped_midway_gives_the_fallback(harness: Harness) -> None:
    harness.fake.add_turns(Turn(text="una respuesta que se corta", deltas=6, drop_after=2))

    deltas, finished, _ = await harness.answer("hola")

    assert len(deltas) == 2
    assert finished.fallback
    assert finished.text == "test fallback text"


async def test_a_response_failed_midway_gives_the_fallback_and_an_event(
    harness: Harness,
) -> None:
    harness.fake.add_turns(Turn(text="una respuesta que falla", deltas=6, fail_after=3))

    deltas, finished, inbound = await harness.answer("hola")

    assert len(deltas) == 3
    assert finished.fallback
    assert finished.text == "test fallback text"
    events = await EventosRepository(harness.pool).list_for_conversation(inbound.conversacion_id)
    assert events[-1].tipo == "model_failed"
    assert events[-1].payload["error"] == "ModelUnusable"


async def test_a_profile_edited_in_the_database_changes_the_next_instructions(
    harness: Harness,
) -> None:
    await harness.answer("hola")
    await AsistentesRepository(harness.pool).save(
        "tienda", _profile(instructions="test instructions v2")
    )

    await harness.answer("otra vez")

    sent = [r.body["instructions"] for r in harness.fake.requests("/v1/responses")]
    assert sent == ["test instructions v1", "test instructions v2"]


async def test_endless_tool_calls_are_cut_off_with_the_fallback(harness: Harness) -> None:
    harness.fake.add_turns(*[Turn(tool_call=ToolCall("guardar_lead", {"notas": "x"}))] * 10)

    _, finished, _ = await harness.answer("hola")

    assert finished.fallback
    assert len(harness.fake.requests("/v1/responses")) == 5

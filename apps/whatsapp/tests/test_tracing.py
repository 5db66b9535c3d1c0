"""OpenTelemetry: one trace from the webhook to the reply's send, exported over OTLP/HTTP."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest

from talia_testkit.fake_openai import FakeOpenAI, ToolCall, Turn
from talia_testkit.fake_otlp import ExportedSpan, FakeCollector, run_fake_collector
from talia_testkit.fake_twilio import FakeTwilio
from talia_testkit.plugin import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from talia_testkit.processes import start_python
from talia_testkit.server import RunningServer, free_port
from talia_testkit.settings import TEST_WHATSAPP_FROM
from talia_testkit.signing import TwilioSigner

from .whatsapp_kit import CUSTOMER, PUBLIC, WhatsApp, save_profile, wait_for

SERVER, CLIENT = 2, 3  # OTLP's SpanKind values


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    with run_fake_collector() as fake:
        yield fake


RunApp = Callable[[str | None], AbstractContextManager[tuple[WhatsApp, list[str]]]]


@pytest.fixture
def run_app(
    database_url: str,
    fake_openai: FakeOpenAI,
    fake_twilio: FakeTwilio,
    twilio_signer: TwilioSigner,
    tmp_path: Path,
) -> RunApp:
    """`uvicorn talia_whatsapp.main:app` as operators run it, exporting spans to `otlp`
    (if given); yields the app and, once it has stopped, its output lines."""

    @contextmanager
    def run(otlp: str | None) -> Iterator[tuple[WhatsApp, list[str]]]:
        env = {
            "DATABASE_URL": database_url,
            "TALIA_PUBLIC_BASE_URL": PUBLIC,
            "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
            "TWILIO_API_BASE_URL": fake_twilio.base_url,
            "TWILIO_WHATSAPP_FROM": TEST_WHATSAPP_FROM,
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": fake_openai.base_url,
            "TALIA_WHATSAPP_DEBOUNCE_MS": "100",
            "TALIA_WHATSAPP_POLL_SECONDS": "0.1",
            # Export each batch of spans within 0.1 s rather than OpenTelemetry's 5 s.
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            **({"OTEL_EXPORTER_OTLP_ENDPOINT": otlp} if otlp else {}),
        }
        port = free_port()
        process = start_python(
            ["-m", "uvicorn", "talia_whatsapp.main:app", "--port", str(port)],
            cwd=tmp_path,
            env=env,
        )
        output: list[str] = []
        try:
            server = RunningServer("127.0.0.1", port)
            with httpx.Client(base_url=server.http_url, timeout=5) as http:
                wait_for(lambda: _answers(http), timeout=20)
                yield (
                    WhatsApp(http, twilio_signer, fake_openai, fake_twilio, database_url),
                    output,
                )
        finally:
            process.terminate()
            output.extend(process.communicate(timeout=20)[0].splitlines())

    return run


@pytest.fixture
def traced_whatsapp(
    database_url: str, run_app: RunApp, collector: FakeCollector
) -> Iterator[WhatsApp]:
    save_profile(database_url, tools=["guardar_lead"])
    with run_app(collector.base_url) as (whatsapp, _):
        yield whatsapp


def _answers(http: httpx.Client) -> bool:
    try:
        return http.get("/health").status_code == 200
    except httpx.TransportError:
        return False


def _named(spans: list[ExportedSpan], name: str) -> ExportedSpan:
    matching = [span for span in spans if span.name == name]
    assert len(matching) == 1, f"{len(matching)} spans named {name!r}"
    return matching[0]


def test_one_trace_runs_from_the_webhook_through_the_job_to_the_model_and_twilio(
    database_url: str, run_app: RunApp, collector: FakeCollector
) -> None:
    save_profile(database_url, tools=["guardar_lead"])
    with run_app(collector.base_url) as (whatsapp, output):
        whatsapp.fake.add_turns(
            Turn(tool_call=ToolCall("guardar_lead", {"email": "ana@example.com"})),
            Turn(text="Guardado, Ana. Le escribimos pronto."),
        )
        assert whatsapp.send("Soy Ana, mi correo es ana@example.com").status_code == 200
        wait_for(lambda: whatsapp.replies() == ["Guardado, Ana. Le escribimos pronto."])

    spans = collector.wait_for(
        lambda spans: any(span.name == "twilio messages.create" for span in spans)
    )
    webhook = _named(spans, "POST /api/whatsapp/webhook")
    job = _named(spans, "whatsapp reply")
    tool = _named(spans, "execute_tool guardar_lead")
    models = [span for span in spans if span.name.startswith("chat ")]
    send = _named(spans, "twilio messages.create")

    assert webhook.kind == SERVER
    assert webhook.service == "talia-whatsapp"
    assert webhook.attributes["http.response.status_code"] == 200
    # The job ran after the webhook had answered, in the webhook's trace.
    assert job.trace_id == webhook.trace_id
    assert job.parent_span_id == webhook.span_id
    assert job.attributes["talia.messages"] == 1
    # Two model requests (the tool call, then the answer), the tool and the send, in the job.
    assert len(models) == 2
    for child in [*models, tool, send]:
        assert (child.trace_id, child.parent_span_id) == (job.trace_id, job.span_id)
    assert {m.kind for m in models} == {CLIENT}
    assert models[0].attributes["gen_ai.request.model"] == "gpt-test"
    assert [m.attributes["talia.tool_calls"] for m in models] == [1, 0]
    assert all(m.attributes["gen_ai.usage.output_tokens"] > 0 for m in models)
    assert send.kind == CLIENT
    stored_sid = whatsapp.rows("select proveedor_id from public.mensajes where rol = 'assistant'")
    assert send.attributes["talia.twilio.message_sid"] == stored_sid[0][0]

    # The webhook's log line leads to its trace.
    [access] = [line for line in output if '"route": "/api/whatsapp/webhook"' in line]
    assert f'"trace_id": "{webhook.trace_id}"' in access
    # Ids, names and counts only: nothing the customer wrote, nor who they are.
    everything = " ".join(span.text for span in spans)
    for personal in ("ana@example.com", "Soy Ana", "Guardado", CUSTOMER, "34600111222"):
        assert personal not in everything


def test_a_burst_answered_by_one_job_links_every_message_trace(
    traced_whatsapp: WhatsApp, collector: FakeCollector
) -> None:
    whatsapp = traced_whatsapp
    whatsapp.fake.add_turns(Turn(text="Entendido."))
    for text in ("hola", "quería", "una cita"):
        assert whatsapp.send(text).status_code == 200
    wait_for(lambda: whatsapp.replies() == ["Entendido."])

    spans = collector.wait_for(
        lambda spans: any(span.name == "twilio messages.create" for span in spans)
    )
    webhooks = [span for span in spans if span.name == "POST /api/whatsapp/webhook"]
    job = _named(spans, "whatsapp reply")

    assert len(webhooks) == 3
    assert job.attributes["talia.messages"] == 3
    assert job.parent_span_id == webhooks[0].span_id
    assert job.links == [(w.trace_id, w.span_id) for w in webhooks[1:]]


def test_a_failed_send_marks_its_span_failed_with_twilios_code(
    traced_whatsapp: WhatsApp, collector: FakeCollector
) -> None:
    whatsapp = traced_whatsapp
    whatsapp.fake.add_turns(Turn(text="hola"))
    whatsapp.twilio.fail_next(400, 63016, "outside the window")
    assert whatsapp.send().status_code == 200

    spans = collector.wait_for(
        lambda spans: any(span.name == "twilio messages.create" for span in spans)
    )
    send = _named(spans, "twilio messages.create")
    assert send.status_code == 2  # ERROR
    assert send.attributes["talia.twilio.error_code"] == "63016"
    assert "outside the window" not in send.text


def test_without_an_endpoint_nothing_is_traced(database_url: str, run_app: RunApp) -> None:
    save_profile(database_url)
    with run_app(None) as (whatsapp, output):
        whatsapp.fake.add_turns(Turn(text="hola"))
        assert whatsapp.send().status_code == 200
        wait_for(lambda: whatsapp.replies() == ["hola"])

    # No trace context is kept with the message, and the app never said it traced.
    metadata = whatsapp.rows("select metadata from public.mensajes where rol = 'user'")
    assert metadata == [({},)]
    assert output
    assert not [line for line in output if "tracing_on" in line or "trace_id" in line]

"""WhatsApp: from a customer's message to the reply's send, segment by segment.

The app runs as operators run it (`uvicorn talia_whatsapp.main:app`, its reply worker inside)
over the embedded PostgreSQL, with the fake model in a process of its own, a fake Twilio and
a fake OpenTelemetry collector. Each message comes from a new customer, signed as Twilio
signs it, one at a time; each customer writes twice, the second time once the first reply
was sent, so a first message (a new conversation, whose OpenAI conversation is created
before the model request) and a returning one are both timed. The moments come from the
app's own trace of each message (spans' start and end, on the machine's clock):
  webhook -> job started      the reply job starts; the quiet wait (debounce) is part of it
  job -> model request        what the job does before asking the model
  model request -> send       the model's whole reply (WhatsApp sends it whole) and its storing
  Twilio send                 the `messages.create` call itself
and, from this client's clock, the webhook's answer (the message is stored by then).

    uv run python bench/whatsapp_first_reply.py [--messages 20] [--debounce-ms 1500]
                                                [--poll-seconds 0.5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from figures import p99
from twilio.request_validator import RequestValidator
from webchat import REPLY

from apps import database_with_profile, free_port, start_app, stopped_after
from talia_testkit.fake_openai import Turn
from talia_testkit.fake_openai.process import run_fake_openai_process
from talia_testkit.fake_otlp import ExportedSpan, FakeCollector, run_fake_collector
from talia_testkit.fake_twilio import run_fake_twilio

PUBLIC = "https://bench.talia.example"
PATH = "/api/whatsapp/webhook"
ACCOUNT_SID, AUTH_TOKEN = "AC" + "1" * 32, "b" * 32
FROM = "whatsapp:+14155238886"


def _signed(index: int) -> tuple[dict[str, str], dict[str, str]]:
    form = {
        "MessageSid": f"SM{index:032d}",
        "AccountSid": ACCOUNT_SID,
        "From": f"whatsapp:+34611{index // 2:06d}",  # each customer writes twice
        "To": FROM,
        "Body": "Hola, ¿cuánto cuesta el plan anual?",
        "NumMedia": "0",
        "ProfileName": "Cliente",
    }
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + PATH, form)
    return form, {"X-Twilio-Signature": signature}


def _traces(collector: FakeCollector, count: int) -> list[dict[str, ExportedSpan]]:
    """Per message (one trace each), its first span of each name, once all have arrived."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        traces: dict[str, dict[str, ExportedSpan]] = {}
        for exported in list(collector.spans):
            traces.setdefault(exported.trace_id, {}).setdefault(exported.name, exported)
        done = [t for t in traces.values() if "twilio messages.create" in t]
        if len(done) >= count:
            return done
        time.sleep(0.2)
    raise RuntimeError("not every message's trace arrived")


def _line(name: str, values: Sequence[float]) -> str:
    ordered = sorted(values)
    high = p99(ordered)
    return f"  {name:28s} p50 {statistics.median(ordered):8.1f} ms   p99 {high:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--debounce-ms", type=int, default=1500)  # the app's default
    parser.add_argument("--poll-seconds", type=float, default=0.5)  # the app's default
    args = parser.parse_args()
    port = free_port()
    with (
        tempfile.TemporaryDirectory(prefix="talia-bench-") as tmp,
        run_fake_openai_process() as fake,
        run_fake_twilio(ACCOUNT_SID, AUTH_TOKEN) as twilio,
        run_fake_collector() as collector,
        database_with_profile(Path(tmp)) as database_url,
    ):
        environment = {
            "DATABASE_URL": database_url,
            "TALIA_PUBLIC_BASE_URL": PUBLIC,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": twilio.base_url,
            "TWILIO_WHATSAPP_FROM": FROM,
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": fake.base_url,
            "TALIA_WHATSAPP_DEBOUNCE_MS": str(args.debounce_ms),
            "TALIA_WHATSAPP_POLL_SECONDS": str(args.poll_seconds),
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.base_url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "TALIA_LOG_LEVEL": "WARNING",
        }
        app = start_app(
            "talia_whatsapp.main:app",
            port,
            environment,
            flags=["--no-proxy-headers"],
            cwd=Path(tmp),
        )
        with stopped_after(app), httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            answered: list[float] = []
            for index in range(args.messages):
                fake.add_turns(Turn(text=REPLY, deltas=12))
                form, headers = _signed(index)
                sent = time.perf_counter()
                http.post(PATH, data=form, headers=headers).raise_for_status()
                answered.append((time.perf_counter() - sent) * 1000)
                sends = len(twilio.sent_messages())
                while len(twilio.sent_messages()) == sends:  # one at a time
                    time.sleep(0.01)
            traces = _traces(collector, args.messages)

    webhook, send = f"POST {PATH}", "twilio messages.create"
    # Messages went one at a time: in the order of their webhooks, a customer's first, then
    # their second.
    traces.sort(key=lambda t: t[webhook].start_ns)
    first, returning = traces[0::2], traces[1::2]
    print(f"whatsapp, {args.messages} messages from {args.messages // 2} customers, fake model")
    print(f"  (quiet wait {args.debounce_ms} ms, job polling every {args.poll_seconds} s)")
    print(_line("webhook answered (client)", answered))
    for title, group in (
        ("a returning customer's message", returning),
        ("a new customer's first message", first),
    ):
        print(title)
        print(_line("webhook -> job started", _between(group, webhook, "whatsapp reply")))
        print(_line("job -> model request", _between(group, "whatsapp reply", "chat fake-model")))
        print(_line("model request -> send", _between(group, "chat fake-model", send)))
        print(_line("Twilio send", _between(group, send, send, end=True)))
        print(_line("webhook -> sent", _between(group, webhook, send, end=True)))


def _between(
    traces: list[dict[str, ExportedSpan]], first: str, then: str, *, end: bool = False
) -> list[float]:
    return [
        ((t[then].end_ns if end else t[then].start_ns) - t[first].start_ns) / 1e6 for t in traces
    ]


if __name__ == "__main__":
    main()

"""Logs never show phone numbers, emails, tokens or message text."""

import json
import logging

import psycopg
import pytest
import structlog

from talia_core.logging import configure_logging
from talia_core.masking import mask_text
from talia_testkit.settings import logging_settings


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> None:
    """JSON logs on the captured stdout (the handler binds sys.stdout when configured)."""
    structlog.reset_defaults()
    configure_logging(logging_settings())


def _last_line(captured: str) -> dict[str, object]:
    line = captured.strip().splitlines()[-1]
    parsed: dict[str, object] = json.loads(line)
    return parsed


@pytest.mark.usefixtures("json_logs")
def test_phone_email_and_bearer_token_are_masked_in_a_log_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = structlog.stdlib.get_logger("test")

    log.warning(
        "contact_updated",
        note="call +34 612 345 678 or write to ana.garcia@example.com",
        header="Bearer sk-live-abcdefghijklmnop",
    )

    output = capsys.readouterr().out
    assert "612 345" not in output
    assert "ana.garcia" not in output
    assert "sk-live-abcdefghijklmnop" not in output
    line = _last_line(output)
    assert line["note"] == "call ***78 or write to ***@example.com"
    assert line["header"] == "Bearer ***"


@pytest.mark.usefixtures("json_logs")
def test_message_text_is_replaced_by_its_length(capsys: pytest.CaptureFixture[str]) -> None:
    log = structlog.stdlib.get_logger("test")

    log.info("message_received", text="Hola, quiero información", from_="whatsapp:+5215512345678")

    line = _last_line(capsys.readouterr().out)
    assert line["text"] == "<24 chars>"
    assert line["from_"] == "whatsapp:***78"


@pytest.mark.usefixtures("json_logs")
def test_stdlib_records_are_masked_too(capsys: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("psycopg.pool").warning(
        "error connecting to postgresql://talia:hunter2@db.example.com/talia"
    )

    output = capsys.readouterr().out
    assert "hunter2" not in output
    assert "postgresql://talia:***@db.example.com/talia" in output


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+14155238886", "***86"),
        ("60011122", "***22"),  # the shortest phone number: eight digits
        ("a@b.io", "***@b.io"),
        ("key sk-abcdefghijkl", "key sk-***"),
        ("0123456789abcdef0123456789abcdef", "***"),  # exactly 32 hex digits
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln here", "token ***jwt*** here"),
        ("auth 0123456789abcdef0123456789abcdef", "auth ***"),
        (
            "MessageSid SM0123456789abcdef0123456789abcdef",
            "MessageSid SM0123456789abcdef0123456789abcdef",
        ),
    ],
)
def test_free_text_masking(raw: str, masked: str) -> None:
    assert mask_text(raw) == masked


def _store_a_message_the_schema_refuses(database_url: str, customer_phone: str, text: str) -> None:
    """Fails with a NotNullViolation whose DETAIL quotes the whole row, text and all."""
    only_in_a_locals_dump = "LOCAL" + "-VALUE-SHOWN"
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "insert into public.mensajes (conversacion_id, canal, direccion, rol, contenido)"
            " values (gen_random_uuid(), 'whatsapp', null, 'user', %s)",
            (f"{text} ({customer_phone}) {only_in_a_locals_dump[:0]}",),
        )


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_a_crash_with_customer_data_logs_none_of_it_and_no_local_variables(
    capsys: pytest.CaptureFixture[str], database_url: str, log_format: str
) -> None:
    structlog.reset_defaults()
    configure_logging(logging_settings(format=log_format))
    customer_phone = "+34 600 111 222"
    message_text = "hola, soy Ana Pérez, escribidme a ana@example.com"
    capsys.readouterr()

    try:
        _store_a_message_the_schema_refuses(database_url, customer_phone, message_text)
    except psycopg.Error as exc:
        structlog.stdlib.get_logger("talia.test").error("request_crashed", exc_info=exc)
    output = capsys.readouterr().out

    assert "NotNullViolation" in output  # the traceback is there, its data is not
    assert "Failing row contains" not in output
    for secret in ("600 111 222", "600111222", "Ana Pérez", "ana@example.com"):
        assert secret not in output
    assert "LOCAL-VALUE-SHOWN" not in output  # no local variables
    assert len(output) < 8_000

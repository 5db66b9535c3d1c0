"""Logs never show phone numbers, emails, tokens or message text."""

import json
import logging

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

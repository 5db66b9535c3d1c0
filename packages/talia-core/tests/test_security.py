"""Twilio signatures, checked against twilio's published vectors and a real endpoint."""

from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import SecretStr

from talia_core.app import create_service_app
from talia_core.config import ServiceSettings
from talia_core.security import MAX_FORM_BYTES, SignedTwilioForm, TwilioSignatureVerifier
from talia_testkit.plugin import TEST_AUTH_TOKEN
from talia_testkit.server import RunningServer, serve_app
from talia_testkit.settings import app_settings, database_settings, logging_settings
from talia_testkit.signing import TwilioSigner

DOCS_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
]
DOCS_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
PUBLIC_ORIGIN = "https://talia.example.com"
WEBHOOK_PATH = "/api/test/webhook"


@pytest.fixture
def docs_verifier() -> TwilioSignatureVerifier:
    return TwilioSignatureVerifier(
        auth_token=SecretStr("12345"), public_base_url="https://mycompany.com"
    )


def test_published_vector_is_accepted(docs_verifier: TwilioSignatureVerifier) -> None:
    assert docs_verifier.is_valid_form(
        path="/myapp.php", query="foo=1&bar=2", params=DOCS_PARAMS, signature=DOCS_SIGNATURE
    )


def test_tampered_parameter_is_rejected(docs_verifier: TwilioSignatureVerifier) -> None:
    tampered = [*DOCS_PARAMS[:2], ("Digits", "9999"), *DOCS_PARAMS[3:]]

    assert not docs_verifier.is_valid_form(
        path="/myapp.php", query="foo=1&bar=2", params=tampered, signature=DOCS_SIGNATURE
    )


def test_wrong_url_is_rejected(docs_verifier: TwilioSignatureVerifier) -> None:
    assert not docs_verifier.is_valid_form(
        path="/other.php", query="foo=1&bar=2", params=DOCS_PARAMS, signature=DOCS_SIGNATURE
    )


def test_missing_signature_is_rejected(docs_verifier: TwilioSignatureVerifier) -> None:
    assert not docs_verifier.is_valid_form(
        path="/myapp.php", query="foo=1&bar=2", params=DOCS_PARAMS, signature=None
    )


def test_json_body_vector_is_accepted(docs_verifier: TwilioSignatureVerifier) -> None:
    body = b'{"property": "value", "boolean": true}'
    body_hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"

    assert docs_verifier.is_valid_json(
        path="/myapp.php",
        query=f"foo=1&bar=2&bodySHA256={body_hash}",
        body=body,
        signature="a9nBmqA0ju/hNViExpshrM61xv4=",
    )


def test_json_body_changed_after_signing_is_rejected(
    docs_verifier: TwilioSignatureVerifier,
) -> None:
    body_hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"

    assert not docs_verifier.is_valid_json(
        path="/myapp.php",
        query=f"foo=1&bar=2&bodySHA256={body_hash}",
        body=b'{"property": "other", "boolean": true}',
        signature="a9nBmqA0ju/hNViExpshrM61xv4=",
    )


def test_signatures_with_and_without_the_default_port_are_both_accepted_in_any_order(
    twilio_signer: TwilioSigner,
) -> None:
    verifier = TwilioSignatureVerifier(
        auth_token=SecretStr(TEST_AUTH_TOKEN), public_base_url=PUBLIC_ORIGIN
    )
    form = [("Body", "hola")]
    with_port = twilio_signer.sign("https://talia.example.com:443" + WEBHOOK_PATH, form)
    without_port = twilio_signer.sign(PUBLIC_ORIGIN + WEBHOOK_PATH, form)

    for signature in (with_port, with_port, without_port, with_port, without_port):
        assert verifier.is_valid_form(path=WEBHOOK_PATH, query="", params=form, signature=signature)
    for signature in (with_port, without_port):
        assert not verifier.is_valid_form(
            path=WEBHOOK_PATH, query="", params=[("Body", "adios")], signature=signature
        )


def test_websocket_upgrade_is_checked_over_the_wss_url(twilio_signer: TwilioSigner) -> None:
    verifier = TwilioSignatureVerifier(
        auth_token=SecretStr(TEST_AUTH_TOKEN), public_base_url=PUBLIC_ORIGIN
    )
    signature = twilio_signer.sign("wss://talia.example.com/api/voice/stream")

    assert verifier.is_valid_websocket(path="/api/voice/stream", signature=signature)
    assert not verifier.is_valid_websocket(path="/api/voice/other", signature=signature)


@pytest.fixture
def signed_app(database_url: str) -> Iterator[RunningServer]:
    router = APIRouter(prefix="/api/test")

    @router.post(WEBHOOK_PATH.removeprefix("/api/test"))
    async def webhook(form: SignedTwilioForm) -> dict[str, str]:
        return {"body": str(form.get("Body", ""))}

    settings = ServiceSettings(
        app=app_settings(public_base_url=PUBLIC_ORIGIN),
        database=database_settings(database_url),
        logging=logging_settings(),
    )
    app: FastAPI = create_service_app(channel="test", settings=settings, router=router)
    app.state.twilio_signature_verifier = TwilioSignatureVerifier(
        auth_token=SecretStr(TEST_AUTH_TOKEN), public_base_url=PUBLIC_ORIGIN
    )
    with serve_app(app) as server:
        yield server


def test_endpoint_accepts_a_request_signed_for_the_public_url(
    signed_app: RunningServer, twilio_signer: TwilioSigner
) -> None:
    form = {"From": "whatsapp:+14155550100", "Body": "hola"}
    signature = twilio_signer.sign(PUBLIC_ORIGIN + WEBHOOK_PATH, form)

    response = httpx.post(
        signed_app.http_url + WEBHOOK_PATH, data=form, headers={"X-Twilio-Signature": signature}
    )

    assert response.status_code == 200
    assert response.json() == {"body": "hola"}


def test_a_name_sent_twice_is_signed_whole_and_read_as_its_last_value(
    signed_app: RunningServer, twilio_signer: TwilioSigner
) -> None:
    signature = twilio_signer.sign(PUBLIC_ORIGIN + WEBHOOK_PATH, [("Body", "uno"), ("Body", "dos")])
    headers = {"X-Twilio-Signature": signature}
    url = signed_app.http_url + WEBHOOK_PATH

    accepted = httpx.post(url, data={"Body": ["uno", "dos"]}, headers=headers)
    refused = httpx.post(url, data={"Body": ["uno", "tres"]}, headers=headers)

    assert accepted.status_code == 200
    assert accepted.json() == {"body": "dos"}
    assert refused.status_code == 403


def test_endpoint_accepts_a_signature_made_with_the_default_port(
    signed_app: RunningServer, twilio_signer: TwilioSigner
) -> None:
    form = {"Body": "hola"}
    signature = twilio_signer.sign("https://talia.example.com:443" + WEBHOOK_PATH, form)

    response = httpx.post(
        signed_app.http_url + WEBHOOK_PATH,
        data=form,
        headers={"X-Twilio-Signature": signature, "Host": "talia.example.com:8443"},
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("headers_for", "form"),
    [
        ("tampered", {"Body": "adios"}),
        ("wrong_url", {"Body": "hola"}),
        ("missing", {"Body": "hola"}),
    ],
)
def test_endpoint_refuses_bad_signatures_with_a_json_403(
    signed_app: RunningServer, twilio_signer: TwilioSigner, headers_for: str, form: dict[str, str]
) -> None:
    signed_url = PUBLIC_ORIGIN + ("/api/test/other" if headers_for == "wrong_url" else WEBHOOK_PATH)
    signature = twilio_signer.sign(signed_url, {"Body": "hola"})
    headers = {} if headers_for == "missing" else {"X-Twilio-Signature": signature}

    response = httpx.post(signed_app.http_url + WEBHOOK_PATH, data=form, headers=headers)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_signature"


def test_a_signature_header_that_is_not_ascii_is_refused_not_a_500(
    signed_app: RunningServer,
) -> None:
    response = httpx.post(
        signed_app.http_url + WEBHOOK_PATH,
        data={"Body": "hola"},
        headers={b"X-Twilio-Signature": "é".encode("latin-1") * 28},
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_signature"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"Body=caf\xe9", "The form body is not UTF-8."),
        (b"&".join(b"f%d=x" % n for n in range(1001)), "The form body has too many fields."),
    ],
)
def test_a_form_that_cannot_be_read_is_a_clear_400(
    signed_app: RunningServer, body: bytes, reason: str
) -> None:
    response = httpx.post(
        signed_app.http_url + WEBHOOK_PATH,
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": "x" * 28,
        },
    )

    assert response.status_code == 400
    assert response.json()["error"] == {"code": "bad_request", "message": reason}


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_larger_than_any_twilio_form_is_a_clear_413(
    signed_app: RunningServer, framing: str
) -> None:
    body = b"Body=" + b"a" * MAX_FORM_BYTES

    def in_chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = httpx.post(
        signed_app.http_url + WEBHOOK_PATH,
        content=body if framing == "content-length" else in_chunks(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": "x" * 28,
        },
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"

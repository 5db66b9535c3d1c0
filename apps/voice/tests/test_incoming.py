"""POST /api/voice/incoming and /status: signed, registered, answered with TwiML."""

from collections.abc import Iterator
from xml.etree import ElementTree

import httpx
import psycopg
import pytest

from talia_testkit.server import serve_app
from talia_testkit.signing import TwilioSigner
from talia_voice.main import create_app

from .voice_kit import CALL_SID, PUBLIC, incoming_form, save_voice_profile, voice_settings


@pytest.fixture
def http(database_url: str) -> Iterator[httpx.Client]:
    save_voice_profile(database_url)
    with (
        serve_app(create_app(voice_settings(database_url))) as server,
        httpx.Client(base_url=server.http_url) as client,
    ):
        yield client


def _post(
    http: httpx.Client, signer: TwilioSigner, path: str, form: dict[str, str]
) -> httpx.Response:
    signature = signer.sign(PUBLIC + path, form)
    return http.post(path, data=form, headers={"X-Twilio-Signature": signature})


def test_incoming_call_connects_to_the_stream_with_parameters_and_no_query(
    http: httpx.Client, twilio_signer: TwilioSigner, database_url: str
) -> None:
    response = _post(http, twilio_signer, "/api/voice/incoming", incoming_form())

    twiml = ElementTree.fromstring(response.text)
    stream = twiml.find("./Connect/Stream")
    assert response.headers["content-type"].startswith("text/xml")
    assert twiml.findtext("./Say") == "test greeting"
    assert stream is not None
    assert stream.get("url") == "wss://talia.example.com/api/voice/stream"
    assert stream.get("statusCallback") == "https://talia.example.com/api/voice/status"
    parameters = {p.get("name"): p.get("value") for p in stream.findall("./Parameter")}
    assert parameters["call_sid"] == CALL_SID
    assert len(parameters["token"] or "") >= 32
    with psycopg.connect(database_url) as conn:
        events = conn.execute("select tipo from public.eventos order by evento_id").fetchall()
    assert [e for (e,) in events] == ["conversation_opened", "call_started"]


def test_unsigned_incoming_call_is_refused_and_nothing_stored(
    http: httpx.Client, database_url: str
) -> None:
    response = http.post("/api/voice/incoming", data=incoming_form())

    assert response.status_code == 403
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from public.conversaciones").fetchone() == (0,)


def test_final_status_is_recorded(
    http: httpx.Client, twilio_signer: TwilioSigner, database_url: str
) -> None:
    _post(http, twilio_signer, "/api/voice/incoming", incoming_form())
    form = {"CallSid": CALL_SID, "CallStatus": "completed", "CallDuration": "42"}

    response = _post(http, twilio_signer, "/api/voice/status", form)
    again = _post(http, twilio_signer, "/api/voice/status", form)

    assert response.status_code == again.status_code == 204
    with psycopg.connect(database_url) as conn:
        ended = conn.execute(
            "select e.payload, c.estado from public.eventos e"
            " join public.conversaciones c using (conversacion_id) where e.tipo = 'call_ended'"
        ).fetchall()
    assert ended == [
        ({"call_sid": CALL_SID, "status": "completed", "duration_seconds": 42}, "closed")
    ]


def test_status_of_an_unknown_call_is_acknowledged_and_stores_nothing(
    http: httpx.Client, twilio_signer: TwilioSigner, database_url: str
) -> None:
    form = {"CallSid": CALL_SID, "CallStatus": "completed", "CallDuration": "3"}

    response = _post(http, twilio_signer, "/api/voice/status", form)

    assert response.status_code == 204
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from public.eventos").fetchone() == (0,)

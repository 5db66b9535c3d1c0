"""SIGTERM under uvicorn: no new calls, the live call goes on, then the process exits."""

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from talia_testkit.fake_openai import FakeOpenAI
from talia_testkit.fake_twilio import FakeTwilio
from talia_testkit.plugin import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from talia_testkit.processes import start_python
from talia_testkit.server import RunningServer, free_port
from talia_testkit.signing import TwilioSigner

from .voice_kit import PUBLIC, Phone, TwilioSide, call_ended, save_voice_profile, wait_for


@pytest.fixture
def voice_process(
    database_url: str,
    fake_openai: FakeOpenAI,
    fake_twilio: FakeTwilio,
    twilio_signer: TwilioSigner,
    tmp_path: Path,
) -> Iterator[tuple[subprocess.Popen[str], Phone]]:
    """`uvicorn talia_voice.main:app` as operators run it, with a 20 s drain period."""
    save_voice_profile(database_url)
    port = free_port()
    process = start_python(
        ["-m", "uvicorn", "talia_voice.main:app", "--port", str(port)],
        cwd=tmp_path,
        env={
            "DATABASE_URL": database_url,
            "TALIA_PUBLIC_BASE_URL": PUBLIC,
            "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
            "TWILIO_API_BASE_URL": fake_twilio.base_url,
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": fake_openai.base_url,
            "TALIA_VOICE_DRAIN_SECONDS": "20",
        },
    )
    server = RunningServer("127.0.0.1", port)
    try:
        with httpx.Client(base_url=server.http_url, timeout=5) as http:
            wait_for(lambda: _answers(http), timeout=20)
            yield process, Phone(server, http, twilio_signer, fake_openai, fake_twilio)
    finally:
        process.kill()
        process.communicate(timeout=10)


def _answers(http: httpx.Client) -> bool:
    try:
        return http.get("/health").status_code == 200
    except httpx.TransportError:
        return False


def test_sigterm_drains_a_live_call_before_exiting(
    voice_process: tuple[subprocess.Popen[str], Phone], database_url: str
) -> None:
    process, phone = voice_process
    with phone.call() as socket:
        caller = TwilioSide(socket)
        caller.say(1)
        wait_for(lambda: len(phone.fake.realtime.audio_in) == 1)

        process.send_signal(signal.SIGTERM)
        wait_for(lambda: phone.http.get("/ready").status_code == 503)
        ready = phone.http.get("/ready").json()
        refused = phone.post("/api/voice/incoming", {"CallSid": "CA" + "9" * 32})
        caller.say(5)  # the live call still flows after SIGTERM
        wait_for(lambda: len(phone.fake.realtime.audio_in) == 6)
        time.sleep(0.5)
        still_running = process.poll() is None
        caller.hang_up()
        output, _ = process.communicate(timeout=15)

    assert still_running
    assert "test busy" in refused.text
    assert ready["error"]["code"] == "shutting_down"
    assert (call_ended(database_url) or {})["reason"] == "caller_hung_up"
    assert process.returncode in {0, -signal.SIGTERM}, output
    assert output.index("drained") < output.index("app_stopped")

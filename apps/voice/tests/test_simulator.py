"""`talia simulate call` places a real signed call against a running voice app."""

import base64
import math
import os
import re
import shutil
import struct
import time
import wave
from pathlib import Path

import pytest

from talia.cli import main
from talia_testkit.fake_openai import CallerSpeech, RealtimeReply, ToolCall
from talia_testkit.plugin import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from talia_testkit.simulators.audio import FRAME_BYTES, mulaw_byte, speech_from_wav

from .conftest import OpenPhone
from .voice_kit import FRAME, PUBLIC, Phone, wait_for

HAS_SPEECH_TOOLS = all(map(shutil.which, ("espeak-ng", "sox")))


def _dev_env(tmp_path: Path, database_url: str) -> Path:
    """What `talia dev` writes for the simulators: the account that signs, the database."""
    path = tmp_path / "dev.env"
    path.write_text(
        f"TALIA_PUBLIC_BASE_URL={PUBLIC}\n"
        f"TWILIO_ACCOUNT_SID={TEST_ACCOUNT_SID}\n"
        f"TWILIO_AUTH_TOKEN={TEST_AUTH_TOKEN}\n"
        f"DATABASE_URL={database_url}\n"
    )
    return path


def _tone_wav(path: Path, *, lead: float, tone: float, tail: float) -> Path:
    """8 kHz 16-bit mono: silence, a 440 Hz tone standing in for speech, silence."""
    samples = [0] * int(lead * 8000)
    samples += [
        round(8000 * math.sin(2 * math.pi * 440 * n / 8000)) for n in range(int(tone * 8000))
    ]
    samples += [0] * int(tail * 8000)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return path


def _simulate(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    main(["simulate", "call", *args])
    return capsys.readouterr().out


def test_a_recorded_call_is_streamed_in_real_time_answered_and_transcribed(
    phone: Phone, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    phone.fake.realtime.echo = True  # the fake answers with the caller's own audio
    recording = _tone_wav(tmp_path / "caller.wav", lead=0.2, tone=1.0, tail=0.4)
    dev_env = _dev_env(tmp_path, database_url)

    started = time.monotonic()
    out = _simulate(
        capsys, "--wav", str(recording), "--to", phone.server.ws_url, "--dev-env", str(dev_env)
    )
    elapsed = time.monotonic() - started

    assert "twilio says: test greeting" in out
    assert f"> {recording} (1.00 s of speech in 20 ms frames)" in out
    assert "< 1.00 s of reply audio" in out
    found = re.search(r"first reply audio after end of speech: (\d+) ms", out)
    assert found is not None, out
    # The fake's voice detection waits 500 ms of quiet, like the real server VAD.
    assert 400 <= int(found.group(1)) <= 3000
    assert out.endswith(
        "transcript:\n"
        "  assistant: test greeting\n"
        "  user: caller audio, 1.00 s\n"
        "  assistant: echo of 1.00 s of caller audio\n"
        "hung up by the caller\n"
    )
    # Every frame of the recording reached the model unchanged and in order, paced at
    # 20 ms: the 1.6 s recording cannot have been sent faster than real time.
    sent = speech_from_wav(recording)
    received = b"".join(base64.b64decode(a) for a in phone.fake.realtime.audio_in)
    assert received.startswith(sent)
    assert elapsed >= 1.6


def test_the_assistant_hanging_up_ends_the_call_once_its_audio_has_played(
    phone: Phone, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Heard once the 0.2 s of speech (10 frames) and two frames of silence have arrived.
    phone.fake.add_caller_speech(CallerSpeech(after_frames=12, transcript="adiós"))
    goodbye = FRAME * 25  # 0.5 s, played back at real time by the simulated caller
    phone.fake.add_realtime_replies(
        RealtimeReply(audio=goodbye, transcript="hasta luego", tool_call=ToolCall("colgar", {}))
    )
    recording = _tone_wav(tmp_path / "caller.wav", lead=0, tone=0.2, tail=0.2)

    started = time.monotonic()
    out = _simulate(
        capsys,
        "--wav",
        str(recording),
        "--to",
        phone.server.ws_url,
        "--dev-env",
        str(_dev_env(tmp_path, database_url)),
    )

    assert "< 0.50 s of reply audio" in out
    assert "  assistant: hasta luego\n" in out
    assert out.endswith("hung up by the assistant\n")
    # The app waited for the simulator to return the last mark, after 0.5 s of playback.
    assert time.monotonic() - started >= 0.5


@pytest.mark.skipif(
    not HAS_SPEECH_TOOLS and os.environ.get("CI") != "true",
    reason="espeak-ng and sox are not installed (`apt-get install espeak-ng sox`; .ci/run does it)",
)
def test_spoken_text_is_made_with_espeak_and_sox(
    phone: Phone, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    phone.fake.realtime.echo = True
    out = _simulate(
        capsys,
        "hola, quiero una cita para el martes",
        "--to",
        phone.server.ws_url,
        "--dev-env",
        str(_dev_env(tmp_path, database_url)),
    )

    speech = re.search(r"\((\d+\.\d+) s of speech", out)
    reply = re.search(r"< (\d+\.\d+) s of reply audio", out)
    assert speech is not None, out
    assert reply is not None, out
    assert float(speech.group(1)) > 1.0  # real speech, not a blip
    assert float(reply.group(1)) > 1.0
    assert re.search(r"  user: caller audio, \d+\.\d+ s\n", out)


def test_a_busy_line_is_reported_with_what_the_caller_hears(
    open_phone: OpenPhone,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    recording = _tone_wav(tmp_path / "caller.wav", lead=0, tone=0.2, tail=0)
    with open_phone(max_concurrent_calls=1) as phone, phone.call():
        wait_for(lambda: phone.fake.realtime.connections == 1)
        with pytest.raises(SystemExit) as refused:
            main(
                [
                    "simulate",
                    "call",
                    "--wav",
                    str(recording),
                    "--to",
                    phone.server.ws_url,
                    "--dev-env",
                    str(_dev_env(tmp_path, database_url)),
                ]
            )
    assert str(refused.value) == (
        "talia simulate call: the app did not connect the call; the caller hears: test busy"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "localhost:8003"], "--to must look like ws://localhost:8003"),
        (["--to", "ws://127.0.0.1:9", "--wav", "caller.wav"], "http://127.0.0.1:9 does not answer"),
        (["--wav", "missing.wav"], "cannot read missing.wav as a WAV file"),
    ],
)
def test_bad_input_stops_with_one_clear_line(
    args: list[str],
    message: str,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    _tone_wav(tmp_path / "caller.wav", lead=0, tone=0.1, tail=0)
    with pytest.raises(SystemExit) as stopped:
        main(["simulate", "call", *args, "--dev-env", str(_dev_env(tmp_path, database_url))])
    assert str(stopped.value).startswith(f"talia simulate call: {message}")


def test_without_an_account_the_simulator_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TALIA_PUBLIC_BASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as stopped:
        main(["simulate", "call", "--dev-env", str(tmp_path / "none.env")])
    assert "TWILIO_AUTH_TOKEN not set" in str(stopped.value)


def test_an_8_khz_wav_is_encoded_to_g711_mu_law_without_sox(tmp_path: Path) -> None:
    assert mulaw_byte(0) == 0xFF  # silence
    assert mulaw_byte(32767) == 0x80
    assert mulaw_byte(-32768) == 0x00
    assert mulaw_byte(1000) == 0xCE
    assert mulaw_byte(-1000) == 0x4E
    recording = _tone_wav(tmp_path / "caller.wav", lead=0.02, tone=0.02, tail=0)
    encoded = speech_from_wav(recording)
    assert len(encoded) == 2 * FRAME_BYTES
    assert encoded[:FRAME_BYTES] == b"\xff" * FRAME_BYTES

"""Voice: from the caller's end of speech to the first reply audio they hear, and the
bridge's own share of it.

The voice app runs as in `voice_bridge.py` (its own uvicorn process, the Dockerfile's
WebSocket settings); this process plays Twilio for one call and serves the fake Realtime,
both on one event loop. The caller speaks `--turns` times, each time `--speech-frames`
frames of 20 ms in real time; the fake hears the speech end with the last of them (a real
model's server VAD would first wait for its silence window, 500 ms by default) and answers
with stamped audio. Each frame and each reply chunk carries `time.perf_counter()` as it
was sent, so:
  bridge in       the caller's last speech frame -> the fake Realtime
  model (fake)    the fake's own turn-around -> its first reply chunk
  bridge out      that chunk -> the caller (the Media Stream's `media`)
  end of speech -> first reply audio   the three together, as the caller hears it

    uv run python bench/voice_first_audio.py [--turns 30] [--speech-frames 50]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import struct
import time
from collections.abc import Sequence

import httpx
import uvloop
from figures import p99
from voice_bridge import FRAME_BYTES, FRAME_SECONDS, Call, FakeRealtime, _place, running_voice

from talia_testkit.fake_openai import CallerSpeech, RealtimeReply

ANSWER_FRAMES = 25  # half a second of reply audio


async def _say(caller: Call, frames: int) -> float:
    """`frames` frames of speech in real time; the stamp of the last one."""
    start, last = time.perf_counter(), 0.0
    for sequence in range(frames):
        await asyncio.sleep(max(0.0, start + sequence * FRAME_SECONDS - time.perf_counter()))
        frame = caller.frame(sequence)
        last = struct.unpack_from("<d", frame)[0]
        payload = base64.b64encode(frame).decode()
        media = {"event": "media", "streamSid": caller.stream_sid, "media": {"payload": payload}}
        await caller.socket.send(json.dumps(media))
    return last


async def _turns(
    port: int, fake_port: int, turns: int, speech_frames: int
) -> dict[str, list[float]]:
    segments: dict[str, list[float]] = {
        "bridge in": [],
        "model (fake)": [],
        "bridge out": [],
        "end of speech -> first reply audio": [],
    }
    async with (
        FakeRealtime(fake_port) as fake,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        caller = await _place(http, f"ws://127.0.0.1:{port}", 0)
        listening = asyncio.create_task(caller.listen())
        await asyncio.sleep(0.5)  # the greeting, if any, is not a turn
        for _ in range(turns):
            reply = RealtimeReply(
                audio=bytes(FRAME_BYTES * ANSWER_FRAMES), chunk_interval=FRAME_SECONDS, stamp=True
            )
            fake.fake.add_realtime_replies(reply)
            # Heard from the first frame the caller sends; the last of them ends the speech.
            fake.fake.add_caller_speech(CallerSpeech(1, "bench", speech_frames - 1))
            heard_before = len(caller.heard)
            ended = await _say(caller, speech_frames)
            while len(caller.heard) == heard_before:  # noqa: ASYNC110  (a listener fills it)
                await asyncio.sleep(0.001)
            arrived, sent = caller.heard[heard_before]
            reached = _arrival_of(fake, ended)
            segments["bridge in"].append(reached - ended)
            segments["model (fake)"].append(sent - reached)
            segments["bridge out"].append(arrived - sent)
            segments["end of speech -> first reply audio"].append(arrived - ended)
            await asyncio.sleep(ANSWER_FRAMES * FRAME_SECONDS + 0.2)  # the reply plays out
        await caller.socket.send(json.dumps({"event": "stop", "streamSid": caller.stream_sid}))
        await caller.socket.close()
        await asyncio.gather(listening, return_exceptions=True)
    return segments


def _arrival_of(fake: FakeRealtime, stamp: float) -> float:
    """When the frame stamped `stamp` reached the fake Realtime."""
    script = fake.fake.realtime
    with script.lock:
        pairs = list(zip(script.audio_in, script.audio_in_at, strict=True))
    for audio, arrived in reversed(pairs):
        if struct.unpack_from("<d", base64.b64decode(audio))[0] == stamp:
            return arrived
    raise RuntimeError("the caller's last speech frame never reached the fake")


def _line(name: str, values: Sequence[float]) -> str:
    ordered = sorted(values)
    high = p99(ordered)
    return (
        f"  {name:36s} p50 {statistics.median(ordered) * 1000:7.2f} ms   p99 {high * 1000:7.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--speech-frames", type=int, default=50)
    args = parser.parse_args()
    with (
        running_voice(max_calls=1) as voice,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        segments = runner.run(_turns(voice.port, voice.fake_port, args.turns, args.speech_frames))
    print(f"voice, one call, {args.turns} turns of {args.speech_frames * 20} ms speech each")
    for name, values in segments.items():
        print(_line(name, values))
    print("(a real model adds its server VAD's silence window, 500 ms by default, and its own")
    print(" time to the first audio; the bridge's share is `bridge in` + `bridge out`)")


if __name__ == "__main__":
    main()

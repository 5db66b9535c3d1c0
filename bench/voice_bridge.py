"""Per-frame latency the voice bridge adds, with N calls at once in real time.

The voice app runs as one uvicorn process (the Dockerfile's WebSocket settings) pinned to
one core. On the other core, this process plays Twilio for every call and serves the fake
Realtime API, both on one event loop. Calls start one after another over a second; each
posts a signed /incoming, opens a signed Media Stream, then for `--seconds`:

- the caller sends a 20 ms frame every 20 ms, stamped with `time.perf_counter()` in its first
  8 bytes and its call and sequence numbers in the next 6; the fake Realtime notes when each
  `input_audio_buffer.append` arrives;
- the fake Realtime streams a reply at 50 chunks a second, each stamped as it is sent; the
  caller notes when each `media` arrives and returns its `mark` at once.

Latency is arrival minus stamp, so it holds the two localhost hops and the bridge: an upper
bound on what the bridge adds. A frame that never arrives is a drop. Bounded: one round
of `--seconds` per N given.

    uv run python bench/voice_bridge.py [--calls 25,50,100,150] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import statistics
import struct
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import httpx
import psutil
import uvicorn
import uvloop
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect

from apps import database_with_profile, free_port, start_app, stopped_after
from talia_testkit.fake_openai import CallerSpeech, FakeOpenAI, RealtimeReply
from talia_testkit.fake_twilio import run_fake_twilio
from talia_testkit.profiles import throwaway_profile

PUBLIC = "https://bench.talia.example"
ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = secrets.token_hex(16)
FRAME_BYTES = 160
FRAME_SECONDS = 0.02
TARGET_P99_MS = 5.0
RAMP_SECONDS = 1.0
APP_CORE, BENCH_CORE = 0, 1


class FakeRealtime:
    """The test kit's fake OpenAI, served by uvicorn on the callers' own event loop: one
    thread, so neither side waits on a GIL or on the scheduler to hand over the core."""

    def __init__(self, port: int) -> None:
        self.fake = FakeOpenAI()
        self.fake.realtime.timed = True
        self.fake.base_url = f"http://127.0.0.1:{port}/v1"
        config = uvicorn.Config(
            self.fake.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)

    async def __aenter__(self) -> FakeRealtime:
        self.serving = asyncio.create_task(self.server.serve())
        while not self.server.started:  # noqa: ASYNC110  (uvicorn offers only a flag)
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.server.should_exit = True
        await self.serving

    def script(self, calls: int, speech_frames: int, answer_frames: int) -> None:
        """Each call speaks for `speech_frames` and is answered for `answer_frames`."""
        script = self.fake.realtime
        with script.lock:
            script.audio_in.clear()
            script.audio_in_at.clear()
        self.fake.add_caller_speech(
            *(CallerSpeech(1, "bench", speech_frames) for _ in range(calls))
        )
        reply = RealtimeReply(
            audio=bytes(FRAME_BYTES * answer_frames), chunk_interval=FRAME_SECONDS, stamp=True
        )
        self.fake.add_realtime_replies(*(reply for _ in range(calls)))

    def inbound_latencies(self) -> list[float]:
        """Caller->Realtime latency (ms) of every frame that arrived."""
        script = self.fake.realtime
        with script.lock:
            pairs = list(zip(script.audio_in, script.audio_in_at, strict=True))
        return [
            (arrived - struct.unpack_from("<d", base64.b64decode(audio))[0]) * 1000
            for audio, arrived in pairs
        ]


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


@dataclass
class Call:
    """One caller: what it sent, and when each reply chunk reached it (with the chunk's
    stamp: when the fake sent it)."""

    number: int
    socket: ClientConnection
    stream_sid: str
    sent: int = 0
    heard: list[tuple[float, float]] = field(default_factory=list)  # (arrived, stamped)

    def frame(self, sequence: int) -> bytes:
        head = struct.pack("<dHI", time.perf_counter(), self.number, sequence)
        return head + b"\xff" * (FRAME_BYTES - len(head))

    async def talk(self, start: float, frames: int) -> None:
        for sequence in range(frames):
            await asyncio.sleep(max(0.0, start + sequence * FRAME_SECONDS - time.perf_counter()))
            payload = base64.b64encode(self.frame(sequence)).decode()
            message = {
                "event": "media",
                "streamSid": self.stream_sid,
                "media": {"payload": payload},
            }
            await self.socket.send(json.dumps(message))
            self.sent += 1

    async def listen(self) -> None:
        async for raw in self.socket:
            arrived = time.perf_counter()
            message = json.loads(raw)
            if message["event"] == "media":
                payload = base64.b64decode(message["media"]["payload"])
                self.heard.append((arrived, struct.unpack_from("<d", payload)[0]))
            elif message["event"] == "mark":
                # Played as soon as it arrived (the reply comes in real time): echo it.
                await self.socket.send(raw)


async def _place(http: httpx.AsyncClient, ws_url: str, number: int) -> Call:
    validator = RequestValidator(AUTH_TOKEN)
    call_sid = "CA" + secrets.token_hex(16)
    form = {
        "CallSid": call_sid,
        "AccountSid": ACCOUNT_SID,
        "From": f"+3460{number:07d}",
        "To": "+34910000000",
        "CallStatus": "ringing",
        "Direction": "inbound",
    }
    signature = validator.compute_signature(PUBLIC + "/api/voice/incoming", form)
    answer = await http.post(
        "/api/voice/incoming", data=form, headers={"X-Twilio-Signature": signature}
    )
    stream = ElementTree.fromstring(answer.text).find("./Connect/Stream")  # noqa: S314
    if stream is None:
        raise RuntimeError(f"call {number} not connected: {answer.text}")
    parameters = {str(p.get("name")): str(p.get("value")) for p in stream.findall("Parameter")}
    url = str(stream.get("url"))
    upgrade = {"X-Twilio-Signature": validator.compute_signature(url, {})}
    ws = await connect(ws_url + "/api/voice/stream", additional_headers=upgrade, max_queue=None)
    stream_sid = "MZ" + secrets.token_hex(16)
    await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
    start = {"streamSid": stream_sid, "callSid": call_sid, "customParameters": parameters}
    await ws.send(json.dumps({"event": "start", "streamSid": stream_sid, "start": start}))
    return Call(number, ws, stream_sid)


@dataclass
class Round:
    calls: int
    inbound: list[float]
    outbound: list[float]
    dropped_in: int
    dropped_out: int
    app_cpu: float
    bench_cpu: float

    def ok(self) -> bool:
        return (
            self.dropped_in == 0
            and self.dropped_out == 0
            and _percentile(self.inbound, 0.99) < TARGET_P99_MS
            and _percentile(self.outbound, 0.99) < TARGET_P99_MS
        )

    def line(self) -> str:
        def figures(latencies: list[float]) -> str:
            return (
                f"p50 {statistics.median(latencies):5.2f} p99 {_percentile(latencies, 0.99):6.2f}"
            )

        return (
            f"{self.calls:>5}  in {figures(self.inbound)}  out {figures(self.outbound)}"
            f"  dropped {self.dropped_in}/{self.dropped_out}"
            f"  app CPU {self.app_cpu:4.0%}  bench CPU {self.bench_cpu:4.0%}"
        )


async def _round(
    port: int, fake: FakeRealtime, app: psutil.Process, calls: int, seconds: float
) -> Round:
    frames = int(seconds / FRAME_SECONDS)
    # Each call is heard speaking from its first frame until every call has started (the
    # fake's script is one queue: no call may take another's turn), then answered in real
    # time until it stops sending.
    speech_frames = int(RAMP_SECONDS / FRAME_SECONDS) + 10
    answer_frames = frames - speech_frames - 2
    fake.script(calls, speech_frames, answer_frames)

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        placed = [await _place(http, f"ws://127.0.0.1:{port}", n) for n in range(calls)]
    await asyncio.sleep(1)  # every Realtime session set up
    listeners = [asyncio.create_task(call.listen()) for call in placed]
    bench = psutil.Process()
    app_before, bench_before = app.cpu_times(), bench.cpu_times()
    started = time.perf_counter() + 0.1
    # Calls start one after another over a second, not all in one instant, so their frames
    # fall all over the 20 ms period and their set-up events do not come as one burst.
    offsets = [started + RAMP_SECONDS * n / calls for n in range(calls)]
    await asyncio.gather(
        *(call.talk(offset, frames) for call, offset in zip(placed, offsets, strict=True))
    )
    elapsed = time.perf_counter() - started
    app_after, bench_after = app.cpu_times(), bench.cpu_times()
    await asyncio.sleep(1)  # the last frames in flight
    for call in placed:
        await call.socket.send(json.dumps({"event": "stop", "streamSid": call.stream_sid}))
        await call.socket.close()
    await asyncio.gather(*listeners, return_exceptions=True)

    inbound = fake.inbound_latencies()
    outbound = [(arrived - sent) * 1000 for call in placed for arrived, sent in call.heard]
    expected_out = calls * answer_frames
    return Round(
        calls=calls,
        inbound=sorted(inbound),
        outbound=sorted(outbound),
        dropped_in=sum(call.sent for call in placed) - len(inbound),
        dropped_out=max(0, expected_out - len(outbound)),
        app_cpu=(sum(app_after[:2]) - sum(app_before[:2])) / elapsed,
        bench_cpu=(sum(bench_after[:2]) - sum(bench_before[:2])) / elapsed,
    )


async def bench(
    port: int, fake_port: int, app: psutil.Process, counts: list[int], seconds: float
) -> None:
    print(f"{seconds:.0f} s per round, 50 frames/s each way per call; latency in ms")
    print(f"{'calls':>5}  direction: caller->Realtime (in), Realtime->caller (out)")
    best = 0
    async with FakeRealtime(fake_port) as fake:
        for calls in counts:
            result = await _round(port, fake, app, calls, seconds)
            print(result.line(), flush=True)
            if result.ok():
                best = max(best, calls)
    target = f"p99 < {TARGET_P99_MS:.0f} ms both ways and no frame dropped"
    print(f"largest N with {target}: {best} (goal >= 100)")


@dataclass(frozen=True)
class RunningVoice:
    """The voice app in its own process, and the port its fake Realtime must serve on."""

    port: int
    fake_port: int
    app: psutil.Process


@contextmanager
def running_voice(max_calls: int) -> Iterator[RunningVoice]:
    """A migrated embedded PostgreSQL with a `default` profile, a fake Twilio, and
    `uvicorn talia_voice.main:app` (the Dockerfile's WebSocket settings) over them, calling
    the fake Realtime the caller serves on `fake_port`; all stopped afterwards."""
    profile = throwaway_profile(key="default", greeting="bench", tools=["colgar"])
    port, fake_port = free_port(), free_port()
    with (
        tempfile.TemporaryDirectory(prefix="talia-bench-") as tmp,
        database_with_profile(Path(tmp), profile) as database_url,
        run_fake_twilio(ACCOUNT_SID, AUTH_TOKEN) as twilio,
    ):
        env = {
            "DATABASE_URL": database_url,
            "TALIA_PUBLIC_BASE_URL": PUBLIC,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": twilio.base_url,
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{fake_port}/v1",
            "TALIA_VOICE_MAX_CONCURRENT_CALLS": str(max_calls),
        }
        flags = ["--log-level", "warning", "--ws-per-message-deflate", "false"]
        app = start_app("talia_voice.main:app", port, env, flags=flags, cwd=Path(tmp))
        with stopped_after(app):
            yield RunningVoice(port, fake_port, psutil.Process(app.pid))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", default="25,50,75,100,125,150")
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    counts = [int(n) for n in args.calls.split(",")]

    cores = os.sched_getaffinity(0)
    pinned = {APP_CORE, BENCH_CORE} <= cores
    with running_voice(max(counts)) as voice:
        if pinned:
            voice.app.cpu_affinity([APP_CORE])
            psutil.Process().cpu_affinity([BENCH_CORE])
        print(
            f"voice app on CPU {APP_CORE}; callers and fake Realtime on CPU {BENCH_CORE}"
            if pinned
            else f"not pinned: this machine offers CPUs {sorted(cores)}"
        )
        # uvloop, as uvicorn uses: the callers' side must keep up with the app.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(bench(voice.port, voice.fake_port, voice.app, counts, args.seconds))


if __name__ == "__main__":
    main()

"""The fake's HTTP server: conversations, responses (JSON and SSE), transcriptions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from talia_testkit.fake_openai.realtime import (
    CallerSpeech,
    RealtimeReply,
    RealtimeScript,
    serve_realtime,
)
from talia_testkit.fake_openai.responses import (
    new_id,
    output_item,
    response_body,
    stream_events,
    usage,
)
from talia_testkit.fake_openai.script import Recorded, Script, Turn
from talia_testkit.server import serve_app

ERROR_TYPES = {429: "rate_limit_exceeded", 500: "server_error", 503: "server_error"}


def _input_text(body: dict[str, Any]) -> str:
    """The user text of a request, for default replies and usage figures."""
    given = body.get("input")
    if isinstance(given, str):
        return given
    texts: list[str] = []
    for item in given or []:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "\n".join(texts)


def _error(status: int) -> JSONResponse:
    kind = ERROR_TYPES.get(status, "invalid_request_error")
    body = {"error": {"message": f"fake {kind}", "type": kind, "param": None, "code": kind}}
    # A short retry-after keeps SDK retries fast in tests.
    return JSONResponse(body, status_code=status, headers={"retry-after-ms": "10"})


# Where `_stamp_arrival` leaves a request's arrival time in its ASGI scope.
ARRIVED_AT = "talia.arrived_at"


def _stamp_arrival(app: ASGIApp) -> ASGIApp:
    """Note when each request reaches the app, before any routing: the time the fake's own
    Python takes to route it is not the client's."""

    async def stamped(scope: Scope, receive: Receive, send: Send) -> None:
        scope[ARRIVED_AT] = time.perf_counter()
        await app(scope, receive, send)

    return stamped


class FakeOpenAI:
    """The fake model's state and its ASGI app; `base_url` is set while it serves."""

    def __init__(self) -> None:
        self.script = Script()
        self.base_url = ""
        self.app: ASGIApp = _stamp_arrival(
            Starlette(
                routes=[
                    Route("/v1/conversations", self._create_conversation, methods=["POST"]),
                    Route("/v1/conversations/{conversation_id}", self._get_conversation),
                    Route(
                        "/v1/conversations/{conversation_id}",
                        self._delete_conversation,
                        methods=["DELETE"],
                    ),
                    Route("/v1/responses", _ResponsesEndpoint(self), methods=["POST"]),
                    Route("/v1/audio/transcriptions", self._transcribe, methods=["POST"]),
                    WebSocketRoute("/v1/realtime", self._realtime),
                ]
            )
        )
        self.realtime = RealtimeScript()

    def add_turns(self, *turns: Turn) -> None:
        """Queue what the next requests get, in order."""
        with self.script.lock:
            self.script.turns.extend(turns)

    def add_transcripts(self, *texts: str) -> None:
        """Queue what the next transcription requests get."""
        with self.script.lock:
            self.script.transcripts.extend(texts)

    def add_realtime_replies(self, *replies: RealtimeReply) -> None:
        """Queue the next Realtime responses (on `response.create` or after caller speech)."""
        with self.realtime.lock:
            self.realtime.replies.extend(replies)

    def add_caller_speech(self, *speech: CallerSpeech) -> None:
        """Queue when the caller is heard speaking on the Realtime socket, and what they say."""
        with self.realtime.lock:
            self.realtime.speech.extend(speech)

    async def _realtime(self, websocket: WebSocket) -> None:
        await serve_realtime(websocket, self.realtime)

    def requests(self, path: str | None = None) -> list[Recorded]:
        """Requests received so far, optionally only those to `path`."""
        with self.script.lock:
            return [r for r in self.script.recorded if path is None or r.path == path]

    def conversation_items(self, conversation_id: str) -> list[dict[str, Any]]:
        """The items a conversation holds: inputs and outputs, in order."""
        with self.script.lock:
            return list(self.script.conversations.get(conversation_id, []))

    async def _record(self, request: Request) -> dict[str, Any]:
        arrived = float(request.scope.get(ARRIVED_AT) or time.perf_counter())
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {}
        self.script.record(
            Recorded(request.method, request.url.path, dict(request.headers), body, arrived)
        )
        return body if isinstance(body, dict) else {}

    async def _create_conversation(self, request: Request) -> JSONResponse:
        body = await self._record(request)
        conversation_id = new_id("conv")
        with self.script.lock:
            self.script.conversations[conversation_id] = list(body.get("items") or [])
        return JSONResponse(
            {
                "id": conversation_id,
                "object": "conversation",
                "created_at": int(time.time()),
                "metadata": body.get("metadata") or {},
            }
        )

    async def _get_conversation(self, request: Request) -> JSONResponse:
        conversation_id = request.path_params["conversation_id"]
        if conversation_id not in self.script.conversations:
            return JSONResponse(
                {"error": {"message": "not found", "type": "invalid_request_error"}}, 404
            )
        return JSONResponse(
            {"id": conversation_id, "object": "conversation", "created_at": 0, "metadata": {}}
        )

    async def _delete_conversation(self, request: Request) -> JSONResponse:
        await self._record(request)
        conversation_id = request.path_params["conversation_id"]
        with self.script.lock:
            known = self.script.conversations.pop(conversation_id, None) is not None
        if not known:
            return JSONResponse(
                {"error": {"message": "not found", "type": "invalid_request_error"}}, 404
            )
        return JSONResponse(
            {"id": conversation_id, "object": "conversation.deleted", "deleted": True}
        )

    def conversation_exists(self, conversation_id: str) -> bool:
        """Whether the conversation was created and not deleted."""
        with self.script.lock:
            return conversation_id in self.script.conversations

    async def _transcribe(self, request: Request) -> JSONResponse:
        async with request.form() as form:
            upload = form.get("file")
            size = len(await upload.read()) if isinstance(upload, UploadFile) else 0
            model = form.get("model")
        self.script.record(
            Recorded(
                request.method,
                request.url.path,
                dict(request.headers),
                {"model": model, "file_bytes": size},
            )
        )
        return JSONResponse({"text": self.script.next_transcript(default="fake transcript")})


class _ResponsesEndpoint:
    """`POST /v1/responses` as a raw ASGI app, so a turn can drop the connection mid-stream."""

    def __init__(self, fake: FakeOpenAI) -> None:
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await self.fake._record(request)
        input_text = _input_text(body)
        turn = self.fake.script.next_turn(default=Turn(text=f"[fake model] {input_text}"))
        if turn.delay:
            await asyncio.sleep(turn.delay)
        if turn.status is not None:
            await _error(turn.status)(scope, receive, send)
            return
        text = turn.text or ""
        item = output_item(turn, text)
        self._remember(body, item)
        if not body.get("stream"):
            payload = response_body(body, item, "completed", usage(input_text, text))
            await JSONResponse(payload)(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        deltas_sent = 0
        first_sent = last_sent = 0.0
        for number, event in enumerate(stream_events(body, item, text, turn, input_text)):
            event["sequence_number"] = number
            if event["type"].endswith(".delta"):
                if turn.drop_after is not None and deltas_sent >= turn.drop_after:
                    return  # the response never completes: the client sees a broken stream
                if turn.fail_after is not None and deltas_sent >= turn.fail_after:
                    failed = {"type": "response.failed", "sequence_number": number}
                    failed["response"] = {
                        **response_body(body, None, "failed", None),
                        "error": {"code": "server_error", "message": "fake failure"},
                    }
                    chunk = f"event: response.failed\ndata: {json.dumps(failed)}\n\n".encode()
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    break
                if turn.delta_delay and deltas_sent:
                    await asyncio.sleep(turn.delta_delay)
                deltas_sent += 1
            chunk = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if event["type"].endswith(".delta"):
                last_sent = time.perf_counter()
                first_sent = first_sent or last_sent
        with self.fake.script.lock:
            self.fake.script.delta_marks.append((first_sent, last_sent))
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _remember(self, body: dict[str, Any], item: dict[str, Any]) -> None:
        conversation_id = body.get("conversation")
        if isinstance(conversation_id, dict):
            conversation_id = conversation_id.get("id")
        if not isinstance(conversation_id, str):
            return
        given = body.get("input")
        inputs = (
            [{"role": "user", "content": given}] if isinstance(given, str) else list(given or [])
        )
        with self.fake.script.lock:
            self.fake.script.conversations.setdefault(conversation_id, []).extend([*inputs, item])


@contextmanager
def run_fake_openai() -> Iterator[FakeOpenAI]:
    """Serve a fake on an ephemeral localhost port until the block ends."""
    fake = FakeOpenAI()
    with serve_app(fake.app) as server:
        fake.base_url = f"{server.http_url}/v1"
        yield fake

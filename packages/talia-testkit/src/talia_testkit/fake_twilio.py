"""A fake Twilio REST API (Messages, Calls, media, typing indicator) on localhost.

Messages can be created, listed, fetched and deleted.

Reached through `TWILIO_API_BASE_URL`; checks HTTP Basic auth like Twilio and records every
request. Failures are scripted per request: `fail_next(status, code)`, and hangs of a message
creation, before or after Twilio takes the message: `stall_next_message(seconds, accepted=)`.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from talia_testkit.server import serve_app

API = "/2010-04-01/Accounts/{account_sid}"


@dataclass(frozen=True)
class TwilioRequest:
    """A request the fake received, its form fields in order (repeats kept)."""

    method: str
    path: str
    form: list[tuple[str, str]]
    authenticated: bool
    succeeded: bool

    def field(self, name: str) -> str | None:
        """The first value of a form field, or None."""
        return next((value for key, value in self.form if key == name), None)


@dataclass(frozen=True)
class Failure:
    """A scripted Twilio error: HTTP status and Twilio error code."""

    status: int
    code: int
    message: str = "scripted failure"


@dataclass(frozen=True)
class Stall:
    """A scripted hang of a message creation; `accepted`: the message was taken first (only
    the answer is late), else it is taken after the hang, if the client still waits."""

    seconds: float
    accepted: bool


@dataclass
class FakeTwilio:
    """The fake's state and app; `base_url` is set while it serves."""

    account_sid: str
    auth_token: str
    base_url: str = ""
    requests: list[TwilioRequest] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    # Seconds a call update waits before it is answered (Twilio may act on it, and stop the
    # call's stream, before its answer arrives).
    call_update_delay: float = 0.0
    _failures: deque[Failure] = field(default_factory=deque)
    _stalls: deque[Stall] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route(API + "/Messages.json", self._create_message, methods=["POST"]),
                Route(API + "/Messages.json", self._list_messages, methods=["GET"]),
                Route(API + "/Messages/{sid}.json", self._fetch_message, methods=["GET"]),
                Route(API + "/Messages/{sid}.json", self._delete_message, methods=["DELETE"]),
                Route(API + "/Calls/{sid}.json", self._update_call, methods=["POST"]),
                Route("/v2/Indicators/Typing.json", self._typing, methods=["POST"]),
                Route(API + "/Messages/{message_sid}/Media/{media_sid}", self._media),
                Route("/cdn/{media_sid}", self._cdn),
            ]
        )

    def fail_next(self, status: int, code: int, message: str = "scripted failure") -> None:
        """The next write request answers this error instead of succeeding."""
        with self._lock:
            self._failures.append(Failure(status, code, message))

    def stall_next_message(self, seconds: float, *, accepted: bool) -> None:
        """The next message creation hangs `seconds`, after taking the message (`accepted`)
        or before; a client that hangs up during a hang before leaves nothing sent."""
        with self._lock:
            self._stalls.append(Stall(seconds, accepted))

    def add_media(self, content: bytes, content_type: str) -> str:
        """Host media as Twilio does for an inbound message; returns its `MediaUrl`."""
        media_sid = "ME" + secrets.token_hex(16)
        with self._lock:
            self.media[media_sid] = (content, content_type)
        message_sid = "MM" + secrets.token_hex(16)
        account = API.format(account_sid=self.account_sid)
        return f"{self.base_url}{account}/Messages/{message_sid}/Media/{media_sid}"

    def sent_messages(self) -> list[TwilioRequest]:
        """Authenticated, successful message creations, in order."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/Messages.json") and r.succeeded]

    def calls_updates(self) -> list[TwilioRequest]:
        """Call updates received, in order."""
        with self._lock:
            return [r for r in self.requests if "/Calls/" in r.path]

    def _is_authenticated(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    async def _record(self, request: Request) -> tuple[TwilioRequest, Failure | None]:
        async with request.form() as form:
            items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        authenticated = self._is_authenticated(request)
        with self._lock:
            failure = self._failures.popleft() if authenticated and self._failures else None
        recorded = TwilioRequest(
            request.method,
            request.url.path,
            items,
            authenticated,
            succeeded=authenticated and failure is None,
        )
        with self._lock:
            self.requests.append(recorded)
        return recorded, failure

    async def _write(self, request: Request) -> tuple[TwilioRequest, Response | None]:
        """Record a write request; with Twilio's error answer when it is refused (bad
        credentials, or a scripted failure)."""
        recorded, failure = await self._record(request)
        if not recorded.authenticated:
            return recorded, self._error(401, 20003, "Authenticate")
        if failure is not None:
            return recorded, self._error(failure.status, failure.code, failure.message)
        return recorded, None

    @staticmethod
    def _error(status: int, code: int, message: str) -> JSONResponse:
        return JSONResponse(
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            status_code=status,
        )

    async def _create_message(self, request: Request) -> Response:
        recorded, refusal = await self._write(request)
        if refusal is not None:
            return refusal
        with self._lock:
            stall = self._stalls.popleft() if self._stalls else None
        if stall is not None and not stall.accepted:
            await asyncio.sleep(stall.seconds)
            if await request.is_disconnected():
                with self._lock:
                    self.requests[self.requests.index(recorded)] = replace(
                        recorded, succeeded=False
                    )
                return Response(status_code=499)  # no one is listening
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True)
        message = {
            "sid": sid,
            "account_sid": request.path_params["account_sid"],
            "messaging_service_sid": recorded.field("MessagingServiceSid"),
            "from": recorded.field("From"),
            "to": recorded.field("To"),
            "body": recorded.field("Body") or "",
            "status": "accepted" if recorded.field("MessagingServiceSid") else "queued",
            "direction": "outbound-api",
            "num_segments": "1",
            "num_media": str(len([k for k, _ in recorded.form if k == "MediaUrl"])),
            "error_code": None,
            "error_message": None,
            "price": None,
            "price_unit": "USD",
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "uri": f"{API.format(account_sid=self.account_sid)}/Messages/{sid}.json",
            "subresource_uris": {},
        }
        with self._lock:
            self.messages[sid] = message
        if stall is not None and stall.accepted:
            await asyncio.sleep(stall.seconds)
        return JSONResponse(message, status_code=201)

    async def _list_messages(self, request: Request) -> Response:
        if not self._is_authenticated(request):
            return self._error(401, 20003, "Authenticate")
        to = request.query_params.get("To")
        from_ = request.query_params.get("From")
        with self._lock:
            found = [
                m
                for m in reversed(self.messages.values())  # newest first, as Twilio lists
                if to in (None, m["to"]) and from_ in (None, m["from"])
            ]
        uri = f"{API.format(account_sid=self.account_sid)}/Messages.json"
        return JSONResponse(
            {
                "messages": found,
                "page": 0,
                "page_size": max(len(found), 50),
                "first_page_uri": uri,
                "next_page_uri": None,
                "previous_page_uri": None,
                "uri": uri,
            }
        )

    async def _fetch_message(self, request: Request) -> Response:
        if not self._is_authenticated(request):
            return self._error(401, 20003, "Authenticate")
        message = self.messages.get(request.path_params["sid"])
        if message is None:
            return self._error(404, 20404, "The requested resource was not found")
        return JSONResponse(message)

    async def _delete_message(self, request: Request) -> Response:
        _, refusal = await self._write(request)
        if refusal is not None:
            return refusal
        with self._lock:
            found = self.messages.pop(request.path_params["sid"], None)
        if found is None:
            return self._error(404, 20404, "The requested resource was not found")
        return Response(status_code=204)

    async def _update_call(self, request: Request) -> Response:
        recorded, refusal = await self._write(request)
        await asyncio.sleep(self.call_update_delay)
        if refusal is not None:
            return refusal
        status = recorded.field("Status") or "in-progress"
        return JSONResponse(
            {
                "sid": request.path_params["sid"],
                "account_sid": request.path_params["account_sid"],
                "status": status,
                "api_version": "2010-04-01",
            }
        )

    async def _typing(self, request: Request) -> Response:
        _, refusal = await self._write(request)
        if refusal is not None:
            return refusal
        return JSONResponse({"success": True})

    async def _media(self, request: Request) -> Response:
        # Twilio answers with a redirect to a short-lived CDN URL that needs no credentials.
        if not self._is_authenticated(request):
            return self._error(401, 20003, "Authenticate")
        return RedirectResponse(
            f"{self.base_url}/cdn/{request.path_params['media_sid']}", status_code=307
        )

    async def _cdn(self, request: Request) -> Response:
        if "authorization" in request.headers:
            return Response("credentials must not follow the redirect", status_code=400)
        found = self.media.get(request.path_params["media_sid"])
        if found is None:
            return Response(status_code=404)
        content, content_type = found
        return Response(content, media_type=content_type)


@contextmanager
def run_fake_twilio(account_sid: str, auth_token: str) -> Iterator[FakeTwilio]:
    """Serve a fake Twilio on an ephemeral localhost port until the block ends."""
    fake = FakeTwilio(account_sid=account_sid, auth_token=auth_token)
    with serve_app(fake.app) as server:
        fake.base_url = server.http_url
        yield fake

"""One Responses API request, streamed: the SDK's transport, without its per-call models.

`client.responses.create` checks every parameter against the SDK's TypedDicts on each call
(the input union and the tools' JSON schemas) and validates every streamed event against a
union of some fifty models. On this path that cost about 3 ms before the request left and
1.5 ms before the first delta was seen (bench/first_token.py). Here the body is typed with the
SDK's own `ResponseCreateParamsStreaming`, checked by mypy instead of at run time, and goes
through `client.post`, so authentication, retries, timeouts and API errors stay the SDK's. Of
the events, only the few a reply needs are read, from their JSON.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from openai import AsyncOpenAI, AsyncStream
from openai.types.responses.response_create_params import ResponseCreateParamsStreaming


@dataclass(frozen=True)
class OutputText:
    """A piece of the reply's text."""

    text: str


@dataclass(frozen=True)
class FunctionCall:
    """The model asks for a tool to run."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Completed:
    """The response is complete; its token usage."""

    usage: dict[str, int]


ResponseEvent = OutputText | FunctionCall | Completed

# The stream ends without an answer a customer can be given.
_UNUSABLE = frozenset({"response.failed", "response.incomplete", "error"})


class ModelUnusable(Exception):
    """The model answered, but not usably: a failed stream, or tools called past the bound."""


async def stream_response(
    client: AsyncOpenAI, body: ResponseCreateParamsStreaming
) -> AsyncIterator[ResponseEvent]:
    """Send `body` to `POST /responses` and yield what the reply is made of, as it comes.

    Raises `openai.APIError` as the SDK does, and `ModelUnusable` for a failed stream.
    """
    stream = await client.post(
        "/responses",
        body=body,
        cast_to=object,
        stream=True,
        stream_cls=AsyncStream[object],
    )
    async with stream:
        async for event in stream:
            if not isinstance(event, Mapping):
                continue
            read = _read(event)
            if read is not None:
                yield read


def _read(event: Mapping[str, Any]) -> ResponseEvent | None:
    kind = event.get("type")
    if kind == "response.output_text.delta":
        return OutputText(str(event.get("delta") or ""))
    if kind == "response.output_item.done":
        item = event.get("item")
        if not isinstance(item, Mapping) or item.get("type") != "function_call":
            return None
        call_id, name, arguments = item.get("call_id"), item.get("name"), item.get("arguments")
        if not (isinstance(call_id, str) and isinstance(name, str) and isinstance(arguments, str)):
            raise ModelUnusable("function call without its id, name or arguments")
        return FunctionCall(call_id, name, arguments)
    if kind == "response.completed":
        response = event.get("response")
        usage = response.get("usage") if isinstance(response, Mapping) else None
        if not isinstance(usage, Mapping):
            return Completed({})
        return Completed(
            {name: int(usage[name]) for name in ("input_tokens", "output_tokens") if name in usage}
        )
    if kind in _UNUSABLE:
        raise ModelUnusable(str(kind))
    return None

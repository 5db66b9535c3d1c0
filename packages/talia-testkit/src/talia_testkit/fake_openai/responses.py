"""Bodies and server-sent events of the Responses API, as the SDK parses them."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from talia_testkit.fake_openai.script import Turn


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def split_text(text: str, pieces: int) -> list[str]:
    """`text` in up to `pieces` consecutive chunks that join back to it."""
    pieces = max(1, min(pieces, len(text) or 1))
    size = -(-len(text) // pieces)
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def usage(input_text: str, output_text: str) -> dict[str, Any]:
    input_tokens, output_tokens = max(1, len(input_text) // 4), max(1, len(output_text) // 4)
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def output_item(turn: Turn, text: str) -> dict[str, Any]:
    """The output item a turn produces: a message, or a function call."""
    if turn.tool_call is not None:
        return {
            "type": "function_call",
            "id": new_id("fc"),
            "call_id": new_id("call"),
            "name": turn.tool_call.name,
            "arguments": json.dumps(turn.tool_call.arguments),
            "status": "completed",
        }
    return {
        "type": "message",
        "id": new_id("msg"),
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def response_body(
    request: dict[str, Any], item: dict[str, Any] | None, status: str, usage_: Any
) -> dict[str, Any]:
    return {
        "id": request.get("_response_id") or new_id("resp"),
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": request.get("model", "fake-model"),
        "instructions": request.get("instructions"),
        "output": [item] if item else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": request.get("tools", []),
        "conversation": {"id": request["conversation"]} if request.get("conversation") else None,
        "usage": usage_,
    }


def stream_events(
    request: dict[str, Any], item: dict[str, Any], text: str, turn: Turn, input_text: str
) -> Iterator[dict[str, Any]]:
    """The event sequence of a streamed response, without sequence numbers."""
    yield {
        "type": "response.created",
        "response": response_body(request, None, "in_progress", None),
    }
    yield {
        "type": "response.in_progress",
        "response": response_body(request, None, "in_progress", None),
    }
    pending = {**item, "status": "in_progress"}
    if item["type"] == "function_call":
        yield {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**pending, "arguments": ""},
        }
        for piece in split_text(item["arguments"], turn.deltas):
            yield {
                "type": "response.function_call_arguments.delta",
                "item_id": item["id"],
                "output_index": 0,
                "delta": piece,
            }
        yield {
            "type": "response.function_call_arguments.done",
            "item_id": item["id"],
            "output_index": 0,
            "name": item["name"],
            "arguments": item["arguments"],
        }
    else:
        yield {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**pending, "content": []},
        }
        part = {"type": "output_text", "text": "", "annotations": []}
        where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
        yield {"type": "response.content_part.added", **where, "part": part}
        for piece in split_text(text, turn.deltas):
            yield {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
        yield {"type": "response.output_text.done", **where, "text": text, "logprobs": []}
        yield {"type": "response.content_part.done", **where, "part": {**part, "text": text}}
    yield {"type": "response.output_item.done", "output_index": 0, "item": item}
    body = response_body(request, item, "completed", usage(input_text, text))
    yield {"type": "response.completed", "response": body}

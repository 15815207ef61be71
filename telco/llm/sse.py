"""A complete Messages API answer rendered as the server-sent events of a streamed one.

The event sequence is the API's: message_start (the message with empty content and the input usage),
then per content block content_block_start / content_block_delta... / content_block_stop, a ping, then
message_delta (stop reason and output usage) and message_stop. Text is cut into word-sized deltas and a tool's
input into a few partial-JSON pieces, as a real stream would deliver them.
"""
from __future__ import annotations

import json
import re
from typing import Any

from telco.errors import InvalidInput


def frame(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _pieces(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def events(message: dict[str, Any], *, error_after_deltas: int | None = None,
           error: dict[str, Any] | None = None) -> list[bytes]:
    """The frames for `message`; with `error_after_deltas`, an error event replaces the rest after that many deltas."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**usage, "output_tokens": 1}}
    out = [frame("message_start", {"type": "message_start", "message": start})]
    deltas = 0
    for i, block in enumerate(message["content"]):
        if block["type"] == "text":
            empty: dict[str, Any] = {"type": "text", "text": ""}
            parts = [{"type": "text_delta", "text": w} for w in re.findall(r"\S+\s*|\s+", block["text"])]
        elif block["type"] == "tool_use":
            empty = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            raw = block["input"] if isinstance(block["input"], str) else json.dumps(block["input"])
            parts = [{"type": "input_json_delta", "partial_json": p} for p in _pieces(raw, 24)]
        else:
            raise InvalidInput(f"cannot stream a content block of type {block['type']!r}")
        out.append(frame("content_block_start", {"type": "content_block_start", "index": i, "content_block": empty}))
        if i == 0:
            out.append(frame("ping", {"type": "ping"}))
        for d in parts:
            if error_after_deltas is not None and deltas >= error_after_deltas:
                out.append(frame("error", {"type": "error", "error": error or {
                    "type": "overloaded_error", "message": "Overloaded"}}))
                return out
            out.append(frame("content_block_delta", {"type": "content_block_delta", "index": i, "delta": d}))
            deltas += 1
        out.append(frame("content_block_stop", {"type": "content_block_stop", "index": i}))
    out.append(frame("message_delta", {"type": "message_delta",
                                       "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                                       "usage": {"output_tokens": usage["output_tokens"]}}))
    out.append(frame("message_stop", {"type": "message_stop"}))
    return out

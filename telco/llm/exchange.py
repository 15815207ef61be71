"""Building the messages of an exchange with the model and reading its answers' plain facts.

The model's turn is echoed back as request blocks, a failed answer gets its repair message, tool results are
JSON text, and usage / error bodies are read defensively (a field the API leaves out counts as zero).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

import anthropic
from pydantic import BaseModel

from telco.errors import InvalidInput

DegradeReason = Literal["budget_exhausted", "circuit_open", "timeout", "api_error", "invalid_output", "refused"]


def check_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    msgs = list(messages)
    if not msgs:
        raise InvalidInput("a model request needs at least one message")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant") or "content" not in m:
            raise InvalidInput(f"message {i} must be a dict with role 'user' or 'assistant' and content")
    return msgs


def usage_tokens(usage: Any | None) -> dict[str, int]:
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0}
    return {"input_tokens": usage.input_tokens or 0, "output_tokens": usage.output_tokens or 0,
            "cache_read_input_tokens": usage.cache_read_input_tokens or 0,
            "cache_creation_input_tokens": usage.cache_creation_input_tokens or 0}


def error_message(err: anthropic.APIStatusError) -> str:
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and inner.get("message"):
            return f"{inner.get('type', 'error')}: {inner['message']}"
    return str(err.message)


def as_json(value: Any) -> str:
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value, default=str, sort_keys=True)


def echo(blocks: Sequence[Any]) -> list[dict[str, Any]]:
    """The model's content as request blocks, to send its turn back. A tool input that is not an object (the
    API never accepts one) is sent as {}: the error result that follows says what the model wrote."""
    out: list[dict[str, Any]] = []
    for b in blocks:
        if b.type == "text":
            if b.text:
                out.append({"type": "text", "text": b.text})
        elif b.type == "tool_use":
            out.append({"type": "tool_use", "id": b.id, "name": b.name,
                        "input": b.input if isinstance(b.input, dict) else {}})
        else:
            out.append(b.to_dict(mode="json"))
    return out


def repair_messages(content: Sequence[Any], mine: Any, uses: Sequence[Any], name: str,
                    problem: str) -> list[dict[str, Any]]:
    ask = f"Call {name} again with input that matches its input schema exactly."
    echoed = echo(content)
    msgs: list[dict[str, Any]] = [{"role": "assistant", "content": echoed}] if echoed else []
    if not uses:
        return [*msgs, {"role": "user", "content": f"{problem}. {ask}"}]
    results = []
    for u in uses:  # every tool_use needs its tool_result in the next message
        if mine is not None and u.id == mine.id:
            text = f"Error: {problem}. {ask}"
        else:
            text = f"Not run: only {name} may be called now."
        results.append({"type": "tool_result", "tool_use_id": u.id, "is_error": True, "content": text})
    if mine is None:
        results.append({"type": "text", "text": f"{problem}. {ask}"})
    return [*msgs, {"role": "user", "content": results}]

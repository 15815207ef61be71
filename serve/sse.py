"""Server-sent events for a turn: `meta` (what the turn is about), `delta` (the reply in order), `done` (the TurnOut).

The planner returns a whole turn, and in offline mode the reply exists in full before the first byte goes out, so
the deltas are the reply cut at sentence and line ends. Concatenating the `text` of every delta gives the reply
exactly, which is what a client renders progressively. Errors are reported before the stream opens (with their
own HTTP status), never in the middle of one.

On the Claude path (live_turn_events) the deltas are the model's, passed through as it writes them; `meta` comes
with the first of them and `done` once the turn is committed. If the model fails mid-reply, `done` says mode
"degraded" and its `reply` (the template reply) replaces what was shown: `done.reply` is always the reply. An
error after the stream opened (the commit failed) is an `error` event with an ErrorOut.
"""
from __future__ import annotations

import json
import re
from typing import Any, AsyncIterator

from telco.contract.http import TurnOut

MEDIA_TYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

# A chunk runs to a sentence end (.!? followed by space or the end) or a newline, and keeps its trailing spaces.
_CHUNK = re.compile(r".+?(?:[.!?](?=\s|$)|\n|$)\s*", re.S)


def wants_stream(accept: str | None) -> bool:
    return bool(accept) and any(part.split(";")[0].strip().lower() == MEDIA_TYPE for part in accept.split(","))


def reply_chunks(text: str) -> list[str]:
    return [m.group(0) for m in _CHUNK.finditer(text)] if text else []


def event(name: str, data: Any) -> bytes:
    # json.dumps never emits a raw newline, so each event's data fits on the one `data:` line SSE expects.
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode("utf-8")


def turn_meta(turn: TurnOut) -> dict[str, Any]:
    return {"turn_id": turn.turn_id, "conversation_id": turn.conversation_id, "mode": turn.mode,
            "status": turn.status, "intents": [i.model_dump(mode="json") for i in turn.intents]}


async def turn_events(turn: TurnOut) -> AsyncIterator[bytes]:
    yield event("meta", turn_meta(turn))
    for i, chunk in enumerate(reply_chunks(turn.reply)):
        yield event("delta", {"index": i, "text": chunk})
    yield event("done", turn.model_dump(mode="json"))


async def live_turn_events(items: AsyncIterator[tuple[str, Any]]) -> AsyncIterator[bytes]:
    """SSE from the planner's turn_stream: ("meta", facts), ("delta", text)... then ("turn", TurnOut).
    When the model wrote nothing live (offline brain, degraded before the first delta), it is turn_events."""
    live, index = False, 0
    try:
        async for kind, data in items:
            if kind == "meta":
                live = True
                yield event("meta", data)
            elif kind == "delta":
                yield event("delta", {"index": index, "text": data})
                index += 1
            elif kind == "turn":
                turn = data if isinstance(data, TurnOut) else TurnOut.model_validate(data)
                if live:
                    yield event("done", turn.model_dump(mode="json"))
                else:
                    async for frame in turn_events(turn):
                        yield frame
    except Exception as exc:  # noqa: BLE001 - the stream is open: the failure can only be told as an event
        from actors.runtime.errors import as_telco_error

        err = as_telco_error(exc)
        yield event("error", {"code": err.code, "message": err.message})


def parse_events(raw: str) -> list[tuple[str, Any]]:
    """Read an SSE body back into (event, data) pairs: for clients (telco chat) and tests."""
    out: list[tuple[str, Any]] = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name, data_lines = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[len("event:"):].strip()
            elif line.startswith("data:"):
                data_lines.append(line[len("data:"):].lstrip())
        out.append((name, json.loads("\n".join(data_lines)) if data_lines else None))
    return out

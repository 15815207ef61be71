"""A scripted Messages API: plays a model at the HTTP boundary so the real anthropic SDK can be tested and
benchmarked on machines that cannot reach the API.

The script is a queue of replies or a function (request JSON) -> reply. A reply is an answer (text, tool_use
blocks, usage) or an HTTP error (429 with retry-after, 529 overloaded, 500); either may come after a delay.
Streamed requests (stream: true) get the answer as server-sent events. Usage is the reply's own, or else
estimated with a simulated prompt cache (cache_sim.py). Every request is recorded; anything the real API would
reject with a 400 (a tool_use without its tool_result, an unknown forced tool...) is answered with a 400 and
noted in `problems`, so a test can assert that our requests were well formed.

The Message Batches endpoints are served too (create, retrieve, results as JSONL), shaped as the real API shapes
them: a batch stays "in_progress" for `batch_polls` retrieves, then every request is answered by the same script
(a 200 reply succeeds, an error reply is an "errored" entry, `expired()` an "expired" one) and the results are
read from the batch's results_url.

Serve it in-process with `transport()` (an httpx2.MockTransport for the SDK's http_client) or over a loopback
socket with telco.testing.loopback.serve(api).
"""
from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx2

from telco.llm.sse import events
from telco.testing.cache_sim import CacheSimulator


@dataclass
class Reply:
    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None  # default: tool_use when a tool is called, else end_turn
    status: int = 200
    error_type: str = "api_error"
    error_message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    usage: dict[str, int] | None = None  # None: estimated (and cache-simulated) from the request
    delay_s: float | None = None  # None: the API's default delay
    error_after_deltas: int | None = None  # streams only: an error event after this many deltas


def text(t: str, **kw: Any) -> Reply:
    return Reply(content=[{"type": "text", "text": t}], **kw)


def tool_use(name: str, input: Any, *, id: str | None = None, preface: str | None = None, **kw: Any) -> Reply:
    """A call of tool `name`; `input` may be a string to play a model that wrote broken JSON."""
    blocks = [{"type": "text", "text": preface}] if preface else []
    blocks.append({"type": "tool_use", "id": id or "", "name": name, "input": input})
    return Reply(content=blocks, **kw)


def tool_uses(*calls: tuple[str, Any], **kw: Any) -> Reply:
    return Reply(content=[{"type": "tool_use", "id": "", "name": n, "input": i} for n, i in calls], **kw)


def refusal(**kw: Any) -> Reply:
    return Reply(content=[], stop_reason="refusal", **kw)


def rate_limited(retry_after_s: float = 0.01, **kw: Any) -> Reply:
    return Reply(status=429, error_type="rate_limit_error", error_message="Number of requests has exceeded your "
                 "rate limit (scripted)", headers={"retry-after": f"{retry_after_s:g}"}, **kw)


def overloaded(retry_after_s: float | None = 0.01, **kw: Any) -> Reply:
    # With no retry-after the SDK backs off 0.5 s, 1 s, ...: tests pass a short one to stay fast.
    headers = {"retry-after": f"{retry_after_s:g}"} if retry_after_s is not None else {}
    return Reply(status=529, error_type="overloaded_error", error_message="Overloaded (scripted)", headers=headers,
                 **kw)


def server_error(status: int = 500, retry_after_s: float | None = 0.01, **kw: Any) -> Reply:
    headers = {"retry-after": f"{retry_after_s:g}"} if retry_after_s is not None else {}
    return Reply(status=status, error_type="api_error", error_message="Internal server error (scripted)",
                 headers=headers, **kw)


def expired(**kw: Any) -> Reply:
    """Batches only: the request was not processed before the batch expired."""
    return Reply(status=0, error_type="expired", **kw)


_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
BATCHES = "/v1/messages/batches"


@dataclass
class ScriptedBatch:
    id: str
    requests: list[dict[str, Any]]
    created_at: datetime
    polls_left: int
    results: list[dict[str, Any]] | None = None  # one JSONL line each, once the batch has ended
    ended_at: datetime | None = None


@dataclass
class RecordedRequest:
    body: dict[str, Any]
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival

    @property
    def retry_count(self) -> int:
        """The SDK's own count of earlier attempts of this call (x-stainless-retry-count)."""
        return int(self.headers.get("x-stainless-retry-count", "0"))

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def forced_tool(self) -> str | None:
        choice = self.body.get("tool_choice") or {}
        return choice.get("name") if choice.get("type") == "tool" else None

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        """The tool_result blocks of the last message."""
        last = (self.body.get("messages") or [{}])[-1]
        content = last.get("content")
        return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] \
            if isinstance(content, list) else []

    def cache_marked(self) -> list[str]:
        """Where cache_control sits: 'tools[i]', 'system[i]' or 'messages[i].content[j]'."""
        out = [f"tools[{i}]" for i, t in enumerate(self.body.get("tools") or []) if "cache_control" in t]
        system = self.body.get("system")
        if isinstance(system, list):
            out += [f"system[{i}]" for i, b in enumerate(system) if "cache_control" in b]
        for i, m in enumerate(self.body.get("messages") or []):
            if isinstance(m.get("content"), list):
                out += [f"messages[{i}].content[{j}]" for j, b in enumerate(m["content"])
                        if isinstance(b, dict) and "cache_control" in b]
        return out


Script = Iterable[Reply] | Callable[[dict[str, Any]], Reply]


class ScriptedMessagesApi:
    def __init__(self, script: Script, *, delay_s: float = 0.0, chunk_delay_s: float = 0.0,
                 cache: CacheSimulator | None = None, batch_polls: int = 1) -> None:
        self._fn = script if callable(script) else None
        self._queue: deque[Reply] = deque() if callable(script) else deque(script)
        self.delay_s = delay_s
        self.chunk_delay_s = chunk_delay_s
        self.cache = cache or CacheSimulator()
        self.requests: list[RecordedRequest] = []
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self._ids = 0
        self.batch_polls = batch_polls
        self.batches: dict[str, ScriptedBatch] = {}

    @property
    def pending(self) -> int:
        return len(self._queue)

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            return f"{prefix}_{self._ids:05d}"

    # ---- one request ------------------------------------------------------------------------------------------
    async def respond(self, raw: bytes, headers: dict[str, str]
                      ) -> tuple[int, dict[str, str], bytes | AsyncIterator[bytes]]:
        """(status, headers, body or an async iterator of SSE frames) for one POST /v1/messages."""
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as err:
            return self._invalid(f"request body is not JSON: {err}")
        with self._lock:
            self.requests.append(RecordedRequest(body, {k.lower(): v for k, v in headers.items()}, time.monotonic()))
            n = len(self.requests)
        problem = check_request(body)
        if problem is not None:
            return self._invalid(problem)
        try:
            reply = self._reply_for(body)
        except Exception as err:  # a broken script must fail the test loudly, not be retried by the SDK
            with self._lock:
                self.problems.append(f"script raised on request {n}: {err!r}")
            return 500, {"content-type": "application/json", "x-should-retry": "false"}, json.dumps(
                {"type": "error", "error": {"type": "api_error", "message": f"script raised: {err!r}"}}).encode()
        if reply is None:
            return self._invalid(f"scripted API: no reply left for request {n}")
        delay = self.delay_s if reply.delay_s is None else reply.delay_s
        if delay > 0:
            await asyncio.sleep(delay)
        if reply.status != 200:
            return reply.status, {"content-type": "application/json", **reply.headers}, json.dumps(
                {"type": "error", "error": {"type": reply.error_type, "message": reply.error_message}}).encode()
        message = self._message(body, reply)
        if body.get("stream"):
            frames = events(message, error_after_deltas=reply.error_after_deltas)
            return 200, {"content-type": "text/event-stream", **reply.headers}, self._drip(frames)
        return 200, {"content-type": "application/json", **reply.headers}, json.dumps(message).encode()

    def _reply_for(self, body: dict[str, Any]) -> Reply | None:
        if self._fn is not None:
            return self._fn(body)
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def _invalid(self, problem: str) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.problems.append(problem)
        return 400, {"content-type": "application/json"}, json.dumps(
            {"type": "error", "error": {"type": "invalid_request_error", "message": problem}}).encode()

    def _message(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        content = []
        for b in reply.content:
            if b.get("type") == "tool_use" and not b.get("id"):
                b = {**b, "id": self._next_id("toolu")}
            content.append(b)
        usage = reply.usage
        if usage is None:
            out_tokens = max(1, self.cache.tokens(json.dumps(content)))
            usage = {**self.cache.usage(body), "output_tokens": out_tokens}
        usage = {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                 "cache_read_input_tokens": 0, **usage}
        stop = reply.stop_reason or ("tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn")
        return {"id": self._next_id("msg"), "type": "message", "role": "assistant", "model": body.get("model"),
                "content": content, "stop_reason": stop, "stop_sequence": None, "usage": usage}

    async def _drip(self, frames: list[bytes]) -> AsyncIterator[bytes]:
        for f in frames:
            if self.chunk_delay_s > 0:
                await asyncio.sleep(self.chunk_delay_s)
            yield f

    # ---- message batches --------------------------------------------------------------------------------------
    async def route(self, method: str, path: str, raw: bytes, headers: dict[str, str], base_url: str
                    ) -> tuple[int, dict[str, str], bytes | AsyncIterator[bytes]]:
        """Any request: POST /v1/messages, the batches endpoints, else a 404."""
        path = path.rstrip("/")
        if method == "POST" and path == "/v1/messages":
            return await self.respond(raw, headers)
        if method == "POST" and path == BATCHES:
            return self.create_batch(raw, base_url)
        found = re.fullmatch(rf"{BATCHES}/([^/]+)(/results)?", path)
        if method == "GET" and found:
            return await (self.batch_results(found.group(1)) if found.group(2) else self.retrieve_batch(
                found.group(1), base_url))
        return _not_found(f"scripted API does not serve {method} {path}")

    def create_batch(self, raw: bytes, base_url: str) -> tuple[int, dict[str, str], bytes]:
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as err:
            return self._invalid(f"request body is not JSON: {err}")
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            return self._invalid("requests: at least one request is required")
        ids = [r.get("custom_id") if isinstance(r, dict) else None for r in requests]
        bad = next((i for i in ids if not isinstance(i, str) or not _CUSTOM_ID.match(i)), "")
        if bad != "":
            return self._invalid(f"requests: custom_id {bad!r} must be 1-64 letters, digits, '-' or '_'")
        if len(set(ids)) != len(ids):
            return self._invalid("requests: custom_id values must be unique within a batch")
        if any(not isinstance(r.get("params"), dict) or r["params"].get("stream") for r in requests):
            return self._invalid("requests: each needs params (a non-streaming Messages request)")
        batch = ScriptedBatch(self._next_id("msgbatch"), requests, datetime.now(timezone.utc), self.batch_polls)
        with self._lock:
            self.batches[batch.id] = batch
        return 200, {"content-type": "application/json"}, json.dumps(self._batch_json(batch, base_url)).encode()

    async def retrieve_batch(self, batch_id: str, base_url: str) -> tuple[int, dict[str, str], bytes]:
        batch = self.batches.get(batch_id)
        if batch is None:
            return _not_found(f"no batch {batch_id!r}")
        if batch.results is None:
            if batch.polls_left <= 0:
                await self._process(batch)
            batch.polls_left -= 1
        return 200, {"content-type": "application/json"}, json.dumps(self._batch_json(batch, base_url)).encode()

    async def batch_results(self, batch_id: str) -> tuple[int, dict[str, str], bytes]:
        batch = self.batches.get(batch_id)
        if batch is None or batch.results is None:
            return _not_found(f"batch {batch_id!r} has no results (not ended)")
        lines = "".join(json.dumps(r) + "\n" for r in reversed(batch.results))  # order is not promised
        return 200, {"content-type": "application/binary"}, lines.encode()

    async def _process(self, batch: ScriptedBatch) -> None:
        results = []
        for r in batch.requests:
            params = r["params"]
            with self._lock:
                self.requests.append(RecordedRequest(params, {"x-batch-id": batch.id}, time.monotonic()))
            problem = check_request(params)
            try:
                reply = None if problem else self._reply_for(params)
            except Exception as err:
                with self._lock:
                    self.problems.append(f"script raised on batch request {r['custom_id']}: {err!r}")
                problem = f"script raised: {err!r}"
                reply = None
            if problem is None and reply is None:
                problem = f"scripted API: no reply left for batch request {r['custom_id']}"
            if problem is not None:
                result: dict[str, Any] = {"type": "errored", "error": {"type": "error", "error": {
                    "type": "invalid_request_error", "message": problem}}}
            elif reply.status == 0:
                result = {"type": reply.error_type}
            elif reply.status != 200:
                result = {"type": "errored", "error": {"type": "error", "error": {
                    "type": reply.error_type, "message": reply.error_message}}}
            else:
                result = {"type": "succeeded", "message": self._message(params, reply)}
            results.append({"custom_id": r["custom_id"], "result": result})
        batch.results, batch.ended_at = results, datetime.now(timezone.utc)

    def _batch_json(self, batch: ScriptedBatch, base_url: str) -> dict[str, Any]:
        counts = {"processing": len(batch.requests), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if batch.results is not None:
            counts["processing"] = 0
            for r in batch.results:
                counts[r["result"]["type"]] += 1
        ended = batch.results is not None
        return {"id": batch.id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
                "request_counts": counts, "created_at": batch.created_at.isoformat(),
                "expires_at": (batch.created_at + timedelta(hours=24)).isoformat(),
                "ended_at": batch.ended_at.isoformat() if batch.ended_at else None, "archived_at": None,
                "cancel_initiated_at": None,
                "results_url": f"{base_url}{BATCHES}/{batch.id}/results" if ended else None}

    # ---- serving it -------------------------------------------------------------------------------------------
    def transport(self) -> httpx2.MockTransport:
        """In-process: pass `httpx2.AsyncClient(transport=api.transport())` as the SDK's http_client."""
        async def handle(request: httpx2.Request) -> httpx2.Response:
            base = f"{request.url.scheme}://{request.url.netloc.decode()}"
            status, headers, content = await self.route(request.method, request.url.path, await request.aread(),
                                                        dict(request.headers), base)
            return httpx2.Response(status, headers=headers, content=content)
        return httpx2.MockTransport(handle)

    def http_client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=self.transport())


def forced_tool(body: dict[str, Any]) -> str | None:
    """The tool a request forces (tool_choice type "tool"), for script functions."""
    choice = body.get("tool_choice") or {}
    return choice.get("name") if choice.get("type") == "tool" else None


def check_request(body: Any) -> str | None:
    """What the real API would reject in this request body (a subset of its checks), or None."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    for key in ("model", "max_tokens", "messages"):
        if key not in body:
            return f"{key}: Field required"
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        return "max_tokens: must be a positive integer"
    msgs = body["messages"]
    if not isinstance(msgs, list) or not msgs:
        return "messages: at least one message is required"
    tools = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool" and choice.get("name") not in tools:
        return f"tool_choice: tool {choice.get('name')!r} is not among the request's tools"
    marks = sum("cache_control" in t for t in body.get("tools") or [])
    if isinstance(body.get("system"), list):
        marks += sum("cache_control" in b for b in body["system"])
    pending: set[str] = set()
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: must be 'user' or 'assistant'"
        content = m.get("content")
        blocks = content if isinstance(content, list) else []
        marks += sum(isinstance(b, dict) and "cache_control" in b for b in blocks)
        answered = {b.get("tool_use_id") for b in blocks if isinstance(b, dict) and b.get("type") == "tool_result"}
        if pending and (m["role"] != "user" or not pending <= answered):
            return (f"messages.{i}: tool_use ids {sorted(pending - answered)} were found without tool_result "
                    "blocks immediately after")
        if answered - pending:
            return f"messages.{i}: tool_result for unknown tool_use ids {sorted(answered - pending)}"
        pending = set()
        if m["role"] == "assistant":
            for b in blocks:
                if isinstance(b, dict) and b.get("type") == "tool_use":
                    if not isinstance(b.get("input"), dict):
                        return f"messages.{i}: tool_use.input must be an object"
                    pending.add(b.get("id"))
    if msgs[0].get("role") != "user":
        return "messages.0.role: the first message must use the user role"
    if marks > 4:
        return f"a request may carry at most 4 blocks with cache_control, found {marks}"
    return None


def _not_found(message: str) -> tuple[int, dict[str, str], bytes]:
    return 404, {"content-type": "application/json"}, json.dumps(
        {"type": "error", "error": {"type": "not_found_error", "message": message}}).encode()

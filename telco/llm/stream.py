"""The streamed final reply: text deltas as they arrive, then how the call went.

The SDK retries only while opening the stream (before the first byte); a failure mid-stream is not retried and
leaves the text received so far, with mode "degraded", for the agent to replace with its template reply.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

import anthropic
import httpx2

from telco.errors import InvalidInput
from telco.llm.accounting import Budget, CallRecord
from telco.llm.attempts import observe_attempts
from telco.llm.exchange import DegradeReason, error_message

if TYPE_CHECKING:
    from telco.llm.client import LlmClient


class TextStream:
    """An async iterator of text deltas; after it ends, `mode`, `reason`, `detail`, `text` and `record` say how
    it went. A degraded stream yields nothing (or stops early, keeping the text so far) and the agent falls back
    to its template reply. The SDK retries only before the first byte; a failure mid-stream is not retried."""

    def __init__(self, client: LlmClient, role: str, model: str, kwargs: dict[str, Any], budget: Budget | None,
                 conversation_id: str | None, turn_id: str | None) -> None:
        self._client, self._role, self._model, self._kwargs = client, role, model, kwargs
        self._budget, self._conversation_id, self._turn_id = budget, conversation_id, turn_id
        self.mode: Literal["llm", "degraded"] = "llm"
        self.reason: DegradeReason | None = None
        self.detail: str | None = None
        self.text = ""
        self.record: CallRecord | None = None
        self._used = False

    @property
    def records(self) -> list[CallRecord]:
        return [self.record] if self.record is not None else []

    def __aiter__(self) -> AsyncIterator[str]:
        if self._used:
            raise InvalidInput("a TextStream can be iterated once")
        self._used = True
        return self._run()

    def _fail(self, reason: DegradeReason, detail: str) -> None:
        self.mode, self.reason, self.detail = "degraded", reason, detail

    async def _run(self) -> AsyncIterator[str]:
        c = self._client
        gated = c._gate(self._role, self._model, self._budget, self._conversation_id, self._turn_id)
        if gated is not None:
            self._fail(gated.reason, gated.detail)  # type: ignore[arg-type]
            self._close(gated.record)
            return
        breaker = c.breakers.for_model(self._model)
        t0 = time.perf_counter()
        first: float | None = None
        usage = None
        done = False
        manager = c._sdk.messages.stream(**self._kwargs)
        stream = None
        try:
            try:
                with observe_attempts() as attempts:  # only opening the stream: that is where the SDK retries
                    stream = await manager.__aenter__()
            except anthropic.APITimeoutError:
                self._fail("timeout", f"no answer within {c.settings.timeout_s}s")
            except anthropic.APIStatusError as err:
                self._fail("api_error", f"HTTP {err.status_code}: {error_message(err)}")
            except anthropic.APIError as err:
                self._fail("api_error", f"{err.__class__.__name__}: {err}")
            if stream is not None:
                try:
                    async for delta in stream.text_stream:
                        if first is None:
                            first = time.perf_counter()
                        self.text += delta
                        yield delta
                    final = await stream.get_final_message()
                    usage, done = final.usage, True
                    if final.stop_reason == "refusal":
                        self._fail("refused", "the model declined to answer")
                except anthropic.APIStatusError as err:  # an error event inside the stream
                    self._fail("api_error", f"stream error: {error_message(err)}")
                except (anthropic.APIError, httpx2.HTTPError, ValueError) as err:
                    self._fail("api_error", f"stream broke: {err.__class__.__name__}: {err}")
                if usage is None:  # broke mid-stream: what message_start reported is still worth counting
                    snapshot = stream._current_snapshot_or_none()
                    usage = snapshot.usage if snapshot is not None else None
        except (GeneratorExit, asyncio.CancelledError):
            breaker.release_probe()
            raise
        finally:
            if stream is not None:
                await manager.__aexit__(None, None, None)
            if self.reason in ("timeout", "api_error"):
                breaker.record_failure()
            elif stream is not None:
                breaker.record_success()
            rec = c._record(self._role, self._model, self._conversation_id, self._turn_id,
                            (time.perf_counter() - t0) * 1000, attempts, usage, stream=True,
                            first_token_ms=None if first is None else (first - t0) * 1000)
            rec.outcome = "ok" if self.mode == "llm" else "failed"
            if self.reason is not None:
                rec.error = f"{self.reason}: {self.detail}"
            elif not done:
                rec.error = "stream closed early by the caller"
            self._close(rec)

    def _close(self, rec: CallRecord) -> None:
        self.record = rec
        if self._budget is not None:
            self._budget.charge(rec)

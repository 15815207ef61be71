"""The one LLM client every agent uses: structured decisions by forced tool use, and the streamed final reply.

Nothing here raises into an agent because the model or the API misbehaved: every such case comes back as a
result with mode "degraded" and a reason, and the agent answers with its offline brain. Bad arguments from our
own code (an unknown role, a schema that is not a pydantic model) do raise InvalidInput: they are bugs.

Each request goes through the real anthropic SDK, which builds it, retries 408/409/429/5xx/529 and timeouts
(settings.max_retries, with backoff honouring retry-after) and parses the answer; `base_url` and `http_client`
(an httpx2.AsyncClient: the SDK's own HTTP library, it refuses an httpx one) point it at a scripted Messages API
in tests and benchmarks.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, Literal, TypeVar

import anthropic
import httpx2
from pydantic import BaseModel

from telco.config import AnthropicSettings
from telco.errors import InvalidInput, TelcoError
from telco.llm.accounting import Budget, CallRecord, Outcome
from telco.llm.attempts import note_attempt, observe_attempts
from telco.llm.breaker import Breakers
from telco.llm.caching import SystemBlock, as_blocks, with_cache_marks
from telco.llm.exchange import (
    DegradeReason,
    as_json,
    check_messages,
    echo,
    error_message,
    repair_messages,
    usage_tokens,
)
from telco.llm.prices import PriceTable, cached_prices
from telco.llm.stream import TextStream
from telco.llm.structured import LlmTool, decision_tool, read_input, tool_param
from telco.redact import redact, redact_text

T = TypeVar("T", bound=BaseModel)

SystemArg = str | SystemBlock | Sequence[SystemBlock]


@dataclass
class ToolCall:
    """A tool the model called before deciding, for the turn's trace."""

    name: str
    args: dict[str, Any]
    ok: bool
    error: str | None = None


@dataclass
class Decision(Generic[T]):
    mode: Literal["llm", "degraded"]
    value: T | None = None
    reason: DegradeReason | None = None  # why degraded
    detail: str | None = None
    records: list[CallRecord] = field(default_factory=list)  # one per request (and per skipped one)
    tool_calls: list[ToolCall] = field(default_factory=list)
    # The messages sent plus the model's final turn, and the id of its decision tool_use: answer that id with a
    # tool_result (e.g. what executing the decision did) to continue the exchange.
    transcript: list[dict[str, Any]] = field(default_factory=list)
    tool_use_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.mode == "llm"

    @property
    def calls(self) -> int:
        """Requests actually sent: the sequential LLM calls this decision put on the critical path."""
        return sum(r.sent for r in self.records)


@dataclass
class _Sent:
    message: Any | None
    record: CallRecord
    reason: DegradeReason | None = None
    detail: str | None = None


class LlmClient:
    def __init__(self, settings: AnthropicSettings, *, http_client: httpx2.AsyncClient | None = None,
                 base_url: str | None = None, prices: PriceTable | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if settings.api_key is None:
            raise InvalidInput("no Anthropic API key: set TELCO_ANTHROPIC__API_KEY or ANTHROPIC_API_KEY "
                               "(without one every agent runs its offline brain and needs no LLM client)")
        self.settings = settings
        self.prices = prices or cached_prices(str(settings.prices_file))
        for m in sorted(settings.models_in_use()):
            self.prices.price(m)  # a model without a price cannot be budgeted: refuse now, not mid-conversation
        self.breakers = Breakers(settings.breaker, clock=clock)
        self._sdk = anthropic.AsyncAnthropic(
            api_key=settings.api_key.get_secret_value(), base_url=base_url or settings.base_url,
            timeout=settings.timeout_s, max_retries=settings.max_retries, http_client=http_client,
            middleware=[note_attempt])

    async def aclose(self) -> None:
        await self._sdk.close()

    async def __aenter__(self) -> "LlmClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- structured decisions ---------------------------------------------------------------------------
    async def decide(self, role: str, system: SystemArg, messages: Sequence[dict[str, Any]], schema: type[T], *,
                     tools: Sequence[LlmTool] = (), tool_name: str | None = None, budget: Budget | None = None,
                     conversation_id: str | None = None, turn_id: str | None = None, max_tool_rounds: int = 1,
                     max_tokens: int | None = None) -> Decision[T]:
        """Ask the model for a decision shaped like `schema`.

        With `tools`, the model may first call them (up to `max_tool_rounds` requests; their results go back as
        tool_result blocks); the last round forces the decision tool. An answer that does not fit the schema
        gets one repair request (the validation error sent back as an error tool_result), then the decision
        degrades. `budget`, when given, is checked before and charged after every request.
        """
        model = self.settings.model_for(role)
        dtool = decision_tool(schema, tool_name)
        name = dtool["name"]
        by_name = {t.name: t for t in tools}
        if name in by_name or len(by_name) != len(tools):
            raise InvalidInput(f"tool names must be unique and differ from the decision tool {name!r}")
        tool_json, system_json = with_cache_marks([*map(tool_param, tools), dtool], as_blocks(system))
        msgs = check_messages(messages)
        out: Decision[T] = Decision(mode="degraded")
        rounds, repairing = 0, False
        while True:
            forced = repairing or not by_name or rounds >= max_tool_rounds
            choice = ({"type": "tool", "name": name, "disable_parallel_tool_use": True} if forced
                      else {"type": "any"})
            sent = await self._send(role, model, budget, conversation_id, turn_id, create=dict(
                max_tokens=max_tokens or self.settings.max_output_tokens, model=model, system=system_json,
                messages=msgs, tools=tool_json, tool_choice=choice))
            if sent.message is None:
                return self._degraded(out, sent, budget, msgs)
            msg = sent.message
            uses = [b for b in msg.content if b.type == "tool_use"]
            mine = next((u for u in uses if u.name == name), None)
            if msg.stop_reason == "refusal":
                sent.reason, sent.detail = "refused", "the model declined to answer"
                self._finish(out, sent.record, "failed", budget, "refused")
                return self._degraded(out, sent, budget, msgs, charged=True)
            if mine is None and uses and not forced:  # a tool-use round: run what it asked for, ask again
                self._finish(out, sent.record, "ok", budget)
                results = [await self._run_tool(by_name, u, out) for u in uses]
                msgs = [*msgs, {"role": "assistant", "content": echo(msg.content)},
                        {"role": "user", "content": results}]
                rounds += 1
                continue
            if mine is None:
                value, problem = None, f"the answer did not call the tool {name}"
            else:
                value, problem = read_input(schema, mine.input)
                if problem is not None and not isinstance(mine.input, dict):
                    problem += f"; you sent: {str(mine.input)[:200]!r}"  # the echo of its turn cannot carry it
            if problem is None:
                self._finish(out, sent.record, "repaired" if repairing else "ok", budget)
                out.mode, out.value, out.tool_use_id = "llm", value, mine.id
                out.transcript = [*msgs, {"role": "assistant", "content": echo(msg.content)}]
                return out
            self._finish(out, sent.record, "failed", budget, f"invalid_output: {problem}")
            if repairing:
                sent.reason, sent.detail = "invalid_output", problem
                return self._degraded(out, sent, budget, msgs, charged=True)
            repairing = True
            msgs = [*msgs, *repair_messages(msg.content, mine, uses, name, problem)]

    async def _run_tool(self, by_name: dict[str, LlmTool], use: Any, out: Decision) -> dict[str, Any]:
        tool = by_name.get(use.name)
        raw = use.input if isinstance(use.input, dict) else {"input": use.input}
        if tool is None:
            error = f"there is no tool named {use.name!r}; the tools are: {', '.join(by_name)}"
        else:
            args, error = read_input(tool.args, use.input)
            if error is None:
                try:
                    result = await tool.run(args)
                    out.tool_calls.append(ToolCall(use.name, raw, True))
                    return {"type": "tool_result", "tool_use_id": use.id, "content": as_json(result)}
                except TelcoError as err:
                    error = f"{err.code}: {err.message}"
        out.tool_calls.append(ToolCall(use.name, raw, False, error))
        return {"type": "tool_result", "tool_use_id": use.id, "is_error": True, "content": error}

    # ---- the streamed reply -------------------------------------------------------------------------------
    def stream_text(self, role: str, system: SystemArg, messages: Sequence[dict[str, Any]], *,
                    budget: Budget | None = None, conversation_id: str | None = None, turn_id: str | None = None,
                    max_tokens: int | None = None) -> TextStream:
        """The final reply as text deltas: `async for delta in stream`, then stream.mode / .text / .record."""
        model = self.settings.model_for(role)
        _, system_json = with_cache_marks([], as_blocks(system))
        kwargs = scrubbed(dict(max_tokens=max_tokens or self.settings.max_output_tokens, model=model,
                               system=system_json, messages=check_messages(messages)))
        return TextStream(self, role, model, kwargs, budget, conversation_id, turn_id)

    # ---- one request ------------------------------------------------------------------------------------------
    def _gate(self, role: str, model: str, budget: Budget | None, conversation_id: str | None,
              turn_id: str | None) -> _Sent | None:
        """A skipped call when the budget or the breaker says no; None when the call may go out."""
        rec = CallRecord(agent=role, model=model, conversation_id=conversation_id, turn_id=turn_id,
                         outcome="skipped")
        stop = budget.stop_reason() if budget is not None else None
        if stop is not None:
            return _Sent(None, rec.model_copy(update={"error": f"budget_exhausted: {stop}"}), "budget_exhausted",
                         stop)
        breaker = self.breakers.for_model(model)
        if not breaker.allow():
            detail = f"circuit for {model} is open; next probe in {breaker.retry_in_s():.1f}s"
            return _Sent(None, rec.model_copy(update={"error": f"circuit_open: {detail}"}), "circuit_open", detail)
        return None

    async def _send(self, role: str, model: str, budget: Budget | None, conversation_id: str | None,
                    turn_id: str | None, *, create: dict[str, Any]) -> _Sent:
        gated = self._gate(role, model, budget, conversation_id, turn_id)
        if gated is not None:
            return gated
        breaker = self.breakers.for_model(model)
        t0 = time.perf_counter()
        reason: DegradeReason | None = None
        detail = None
        message = None
        try:
            with observe_attempts() as attempts:
                message = await self._sdk.messages.create(**scrubbed(create))
        except anthropic.APITimeoutError as err:
            reason, detail = "timeout", f"no answer within {self.settings.timeout_s}s ({err.__class__.__name__})"
        except anthropic.APIStatusError as err:
            reason, detail = "api_error", f"HTTP {err.status_code}: {error_message(err)}"
        except anthropic.APIError as err:  # connection errors, unparseable responses
            reason, detail = "api_error", f"{err.__class__.__name__}: {err}"
        except asyncio.CancelledError:
            breaker.release_probe()
            raise
        ms = (time.perf_counter() - t0) * 1000
        if message is None:
            breaker.record_failure()
        else:
            breaker.record_success()
        rec = self._record(role, model, conversation_id, turn_id, ms, attempts,
                           message.usage if message is not None else None)
        if reason is not None:
            rec.error = f"{reason}: {detail}"
        return _Sent(message, rec, reason, detail)

    def _record(self, role: str, model: str, conversation_id: str | None, turn_id: str | None, ms: float,
                attempts: list[int | str], usage: Any | None, **extra: Any) -> CallRecord:
        tokens = usage_tokens(usage)
        return CallRecord(agent=role, model=model, conversation_id=conversation_id, turn_id=turn_id, ms=ms,
                          retries=max(0, len(attempts) - 1), attempts=list(attempts),
                          cost_usd=self.prices.cost(model, **tokens), **tokens, **extra)

    @staticmethod
    def _finish(out: Decision, rec: CallRecord, outcome: Outcome, budget: Budget | None,
                error: str | None = None) -> None:
        rec.outcome = outcome
        if error is not None and rec.error is None:
            rec.error = error
        out.records.append(rec)
        if budget is not None:
            budget.charge(rec)

    def _degraded(self, out: Decision, sent: _Sent, budget: Budget | None, msgs: list[dict[str, Any]], *,
                  charged: bool = False) -> Decision:
        if not charged:
            self._finish(out, sent.record, "skipped" if sent.record.outcome == "skipped" else "failed", budget)
        out.mode, out.value = "degraded", None
        out.reason, out.detail = sent.reason, sent.detail
        out.transcript = msgs
        return out


def scrubbed(create: dict[str, Any]) -> dict[str, Any]:
    """The request with card numbers, secrets, national ids and dates of birth scrubbed from the system prompt and
    the messages (telco/redact.py), whoever built it: nothing the model does not need leaves the system, and the
    SDK's own debug logging sees only the scrubbed body. Tool schemas are ours and pass as they are."""
    out = dict(create)
    system = out.get("system")
    if isinstance(system, list):
        out["system"] = [{**b, "text": _scrub_stable(b["text"])} if isinstance(b.get("text"), str) else b
                         for b in system]
    elif isinstance(system, str):
        out["system"] = _scrub_stable(system)
    out["messages"] = redact(out.get("messages") or [])
    return out


@lru_cache(maxsize=64)
def _scrub_stable(text: str) -> str:
    # The system prompt's stable blocks (role prompts, policy, catalogue) are the same on every call: scrubbed once.
    return redact_text(text)

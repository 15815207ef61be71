"""Structured decisions through the real anthropic SDK against the scripted Messages API (in-process transport):
forced tool use, the tool-use round trip, prompt-cache marks and accounting, retries, the repair attempt."""
from __future__ import annotations

import pytest
from llm_kit import USER, IntentCall, LineQuery, client, run, scripted
from pydantic import BaseModel

from telco.errors import InvalidInput, NotFound
from telco.llm import Budget, LlmTool, SystemBlock
from telco.testing import scripted_api as s

SYSTEM = [SystemBlock("You are the intent agent of a telecom operator. " * 20),
          SystemBlock("Policy excerpt: credits above $25 need a person. " * 10),
          SystemBlock("Customer C1001, fibre, area A3.", stable=False)]
GOOD = {"intent": "internet_drops", "confidence": 0.92, "needs": ["service_id"]}


def test_a_structured_decision_is_a_forced_tool_call_parsed_by_the_schema():
    api = scripted(s.tool_use("intent_call", GOOD))

    async def go():
        async with client(api) as c:
            return await c.decide("intent", SYSTEM, USER, IntentCall, conversation_id="K1", turn_id="T1")

    d = run(go())
    assert d.ok and d.mode == "llm" and d.reason is None
    assert d.value == IntentCall(**GOOD)
    assert d.calls == 1 and [r.outcome for r in d.records] == ["ok"]
    body = api.requests[0].body
    assert body["model"] == "claude-sonnet-4-6" and body["max_tokens"] == 1024
    assert body["tool_choice"] == {"type": "tool", "name": "intent_call", "disable_parallel_tool_use": True}
    [tool] = body["tools"]
    assert tool["name"] == "intent_call" and tool["input_schema"] == IntentCall.model_json_schema()
    assert tool["description"] == "Name the customer's main intent and how sure you are."
    assert body["messages"] == USER
    rec = d.records[0]
    assert (rec.agent, rec.conversation_id, rec.turn_id) == ("intent", "K1", "T1")
    assert d.tool_use_id.startswith("toolu_") and d.transcript[-1]["content"][0]["id"] == d.tool_use_id
    assert api.problems == []


def test_cache_control_marks_the_last_stable_system_block_and_cache_reads_are_accounted():
    api = scripted(s.tool_use("intent_call", GOOD), s.tool_use("intent_call", GOOD))

    async def go():
        async with client(api) as c:
            first = await c.decide("intent", SYSTEM, USER, IntentCall)
            volatile = [*SYSTEM[:2], SystemBlock("Customer C2002, DSL, area B1.", stable=False)]
            second = await c.decide("intent", volatile, [{"role": "user", "content": "No data on my phone"}],
                                    IntentCall)
            return first, second

    first, second = run(go())
    for req in api.requests:
        assert req.cache_marked() == ["system[1]"]  # the last stable block: it covers the tools before it too
        assert "cache_control" not in req.body["system"][2]
    a, b = first.records[0], second.records[0]
    assert a.cache_creation_input_tokens > 0 and a.cache_read_input_tokens == 0
    # the second request changed only what follows the mark: the whole stable prefix is read back
    assert b.cache_read_input_tokens == a.cache_creation_input_tokens and b.cache_creation_input_tokens == 0
    price = 3.00, 15.00, 3.75, 0.30  # telco/data/llm_prices.yaml, claude-sonnet-4-6, per MTok
    expect = (b.input_tokens * price[0] + b.output_tokens * price[1] + b.cache_read_input_tokens * price[3]) / 1e6
    assert b.cost_usd == pytest.approx(expect)
    assert b.cost_usd < a.cost_usd


def test_with_no_stable_system_block_the_last_tool_carries_the_mark():
    api = scripted(s.tool_use("intent_call", GOOD))

    async def go():
        async with client(api) as c:
            return await c.decide("intent", [SystemBlock("today's context", stable=False)], USER, IntentCall)

    assert run(go()).ok
    assert api.requests[0].cache_marked() == ["tools[0]"]


def test_a_stable_block_after_a_changing_one_is_refused_before_any_request():
    api = scripted(s.tool_use("intent_call", GOOD))

    async def go():
        async with client(api) as c:
            await c.decide("intent", [SystemBlock("ctx", stable=False), SystemBlock("role prompt")], USER, IntentCall)

    with pytest.raises(InvalidInput, match="stable system block follows a changing one"):
        run(go())
    assert api.requests == []


def test_tool_use_round_trip_runs_the_callers_tool_and_sends_its_result_back():
    seen = []

    async def line_status(q: LineQuery):
        seen.append(q.line_id)
        if q.line_id != "L1":
            raise NotFound(f"line {q.line_id} does not exist")
        return {"line_id": "L1", "status": "suspended", "reason": "overdue_bill"}

    tool = LlmTool("get_line_status", "Read a mobile line's status.", LineQuery, line_status)
    api = scripted(s.tool_uses(("get_line_status", {"line_id": "L1"}), ("get_line_status", {"line_id": "L9"})),
                   s.tool_use("intent_call", {"intent": "no_mobile_data", "confidence": 0.8}))

    async def go():
        async with client(api) as c:
            return await c.decide("technical", SYSTEM, USER, IntentCall, tools=[tool])

    d = run(go())
    assert d.ok and d.value.intent == "no_mobile_data"
    assert seen == ["L1", "L9"] and d.calls == 2
    assert [(t.name, t.args, t.ok) for t in d.tool_calls] == [("get_line_status", {"line_id": "L1"}, True),
                                                              ("get_line_status", {"line_id": "L9"}, False)]
    first, second = api.requests
    assert first.body["tool_choice"] == {"type": "any"}  # free to read first
    assert [t["name"] for t in first.body["tools"]] == ["get_line_status", "intent_call"]
    assert second.forced_tool == "intent_call"  # the last round forces the decision
    ok, err = second.tool_results
    uses = second.body["messages"][-2]["content"]  # the model's turn, sent back before the results
    assert [ok["tool_use_id"], err["tool_use_id"]] == [u["id"] for u in uses]
    assert "suspended" in ok["content"] and "is_error" not in ok
    assert err["is_error"] is True and "not_found: line L9 does not exist" in err["content"]
    assert api.problems == []  # every tool_use had its tool_result, as the real API demands


def test_bad_tool_arguments_and_unknown_tools_go_back_to_the_model_as_errors():
    async def never(q):
        raise AssertionError("a tool must not run on invalid arguments")

    tool = LlmTool("get_line_status", "Read a line.", LineQuery, never)
    api = scripted(s.tool_uses(("get_line_status", {"line": "L1"}), ("credit_account", {"amount": 500})),
                   s.tool_use("intent_call", GOOD))

    async def go():
        async with client(api) as c:
            return await c.decide("technical", SYSTEM, USER, IntentCall, tools=[tool])

    d = run(go())
    assert d.ok
    r1, r2 = api.requests[1].tool_results
    assert r1["is_error"] and "line_id: Field required" in r1["content"]
    assert r2["is_error"] and "no tool named 'credit_account'" in r2["content"]
    assert [t.ok for t in d.tool_calls] == [False, False]


def test_429_and_529_are_retried_by_the_sdk_and_counted():
    api = scripted(s.rate_limited(0.01), s.overloaded(0.01), s.tool_use("intent_call", GOOD))

    async def go():
        async with client(api) as c:
            return await c.decide("intent", SYSTEM, USER, IntentCall)

    d = run(go())
    assert d.ok and d.calls == 1
    rec = d.records[0]
    assert rec.retries == 2 and rec.attempts == [429, 529, 200]
    assert [r.retry_count for r in api.requests] == [0, 1, 2]  # the SDK's own count, seen at the server


def test_when_retries_run_out_the_decision_degrades_with_the_api_error():
    api = scripted(s.overloaded(0.01), s.overloaded(0.01), s.overloaded(0.01))

    async def go():
        async with client(api) as c:
            d = await c.decide("intent", SYSTEM, USER, IntentCall)
            return d, c.breakers.for_model("claude-sonnet-4-6")._recent

    d, failures = run(go())
    assert d.mode == "degraded" and d.value is None and d.reason == "api_error"
    assert "HTTP 529" in d.detail and "overloaded_error" in d.detail
    assert d.records[0].outcome == "failed" and d.records[0].attempts == [529, 529, 529]
    assert len(failures) == 1  # one failed call for the breaker, however many attempts


def test_invalid_json_gets_exactly_one_repair_then_degrades():
    api = scripted(s.tool_use("intent_call", '{"intent": "internet_drops", confidence: hi'),
                   s.tool_use("intent_call", {"intent": "internet_drops"}))

    async def go():
        async with client(api) as c:
            return await c.decide("intent", SYSTEM, USER, IntentCall)

    d = run(go())
    assert d.mode == "degraded" and d.reason == "invalid_output"
    assert "confidence: Field required" in d.detail
    assert len(api.requests) == 2 and [r.outcome for r in d.records] == ["failed", "failed"]
    repair = api.requests[1]
    assert repair.forced_tool == "intent_call"
    assert repair.body["messages"][:1] == USER
    echoed = repair.body["messages"][1]
    assert echoed["role"] == "assistant" and echoed["content"][0]["input"] == {}  # the API accepts objects only
    [result] = repair.tool_results
    assert result["is_error"] is True and result["tool_use_id"] == echoed["content"][0]["id"]
    assert "not valid JSON" in result["content"] and "confidence: hi" in result["content"]
    assert api.problems == []


def test_a_schema_violation_repaired_on_the_second_try_is_a_repaired_decision():
    api = scripted(s.tool_use("intent_call", {"intent": "internet_drops", "confidence": 7}),
                   s.tool_use("intent_call", GOOD))

    async def go():
        async with client(api) as c:
            return await c.decide("intent", SYSTEM, USER, IntentCall)

    d = run(go())
    assert d.ok and d.value == IntentCall(**GOOD)
    assert [r.outcome for r in d.records] == ["failed", "repaired"]
    assert "confidence: Input should be less than or equal to 1" in d.records[0].error
    [result] = api.requests[1].tool_results
    assert result["is_error"] and "confidence: Input should be less than or equal to 1" in result["content"]


def test_an_answer_without_the_tool_call_is_asked_again_once():
    api = scripted(s.text("I think it's the router."), s.text("Still just words."))

    async def go():
        async with client(api) as c:
            return await c.decide("intent", SYSTEM, USER, IntentCall)

    d = run(go())
    assert d.reason == "invalid_output" and len(api.requests) == 2
    msgs = api.requests[1].body["messages"]
    assert msgs[1] == {"role": "assistant", "content": [{"type": "text", "text": "I think it's the router."}]}
    assert msgs[2]["role"] == "user" and "did not call the tool intent_call" in msgs[2]["content"]


def test_a_refusal_degrades_without_a_repair():
    api = scripted(s.refusal(), s.tool_use("intent_call", GOOD))

    async def go():
        async with client(api) as c:
            return await c.decide("intent", SYSTEM, USER, IntentCall)

    d = run(go())
    assert d.reason == "refused" and len(api.requests) == 1 and api.pending == 1


def test_budget_stop_degrades_without_a_request():
    api = scripted(s.tool_use("intent_call", GOOD), s.tool_use("intent_call", GOOD))

    async def go():
        async with client(api) as c:
            budget = Budget.for_conversation(c.settings.budget.model_copy(update={"max_calls": 1}))
            first = await c.decide("intent", SYSTEM, USER, IntentCall, budget=budget)
            second = await c.decide("intent", SYSTEM, USER, IntentCall, budget=budget)
            return first, second, budget

    first, second, budget = run(go())
    assert first.ok and budget.spent.calls == 1
    assert second.mode == "degraded" and second.reason == "budget_exhausted"
    assert second.detail == "call budget spent: 1 of 1 calls"
    assert [r.outcome for r in second.records] == ["skipped"] and second.calls == 0
    assert len(api.requests) == 1


def test_a_cost_budget_counts_what_calls_cost():
    api = scripted(s.tool_use("intent_call", GOOD, usage={"input_tokens": 100_000, "output_tokens": 1000}),
                   s.tool_use("intent_call", GOOD))

    async def go():
        async with client(api) as c:
            budget = Budget.for_conversation(c.settings.budget.model_copy(update={"max_cost_usd": 0.30}))
            await c.decide("intent", SYSTEM, USER, IntentCall, budget=budget)
            return await c.decide("intent", SYSTEM, USER, IntentCall, budget=budget), budget

    d, budget = run(go())
    assert budget.spent.cost_usd == pytest.approx(0.315)  # 100k in at $3 + 1k out at $15 per MTok
    assert d.reason == "budget_exhausted" and "cost budget spent" in d.detail and len(api.requests) == 1


def test_a_budget_stop_between_a_failed_answer_and_its_repair_skips_the_repair():
    api = scripted(s.tool_use("intent_call", {"intent": "nope"}), s.tool_use("intent_call", GOOD))

    async def go():
        async with client(api) as c:
            budget = Budget.for_conversation(c.settings.budget.model_copy(update={"max_calls": 1}))
            return await c.decide("intent", SYSTEM, USER, IntentCall, budget=budget)

    d = run(go())
    assert d.reason == "budget_exhausted" and [r.outcome for r in d.records] == ["failed", "skipped"]
    assert len(api.requests) == 1


def test_bad_arguments_are_typed_errors():
    api = scripted()

    class NotAModel:
        pass

    async def go(**kw):
        async with client(api) as c:
            args = {"role": "intent", "system": SYSTEM, "messages": USER, "schema": IntentCall, **kw}
            await c.decide(**args)

    with pytest.raises(InvalidInput, match="unknown LLM role 'billing'"):
        run(go(role="billing"))
    with pytest.raises(InvalidInput, match="must be a pydantic model class"):
        run(go(schema=NotAModel))
    with pytest.raises(InvalidInput, match="at least one message"):
        run(go(messages=[]))
    with pytest.raises(InvalidInput, match="message 0 must be a dict with role"):
        run(go(messages=[{"role": "system", "content": "x"}]))
    assert api.requests == []


def test_the_decision_tool_name_can_be_chosen_and_is_checked():
    class Route(BaseModel):
        agent: str

    api = scripted(s.tool_use("choose_agent", {"agent": "technical"}))

    async def go(name):
        async with client(api) as c:
            return await c.decide("planner", SYSTEM, USER, Route, tool_name=name)

    assert run(go("choose_agent")).value == Route(agent="technical")
    with pytest.raises(InvalidInput, match="tool name must be"):
        run(go("choose agent!"))


def test_concurrent_decisions_each_count_only_their_own_retries():
    import asyncio

    def script(body):
        text = body["messages"][0]["content"]
        tries = sum(1 for r in api.requests if r.body["messages"][0]["content"] == text)
        if text == "slow lane" and tries <= 2:
            return s.rate_limited(0.02)
        return s.tool_use("intent_call", GOOD, delay_s=0.01)

    api = s.ScriptedMessagesApi(script)

    async def go():
        async with client(api) as c:
            return await asyncio.gather(
                c.decide("intent", SYSTEM, [{"role": "user", "content": "slow lane"}], IntentCall),
                c.decide("intent", SYSTEM, [{"role": "user", "content": "fast lane"}], IntentCall))

    slow, fast = run(go())
    assert slow.records[0].attempts == [429, 429, 200] and slow.records[0].retries == 2
    assert fast.records[0].attempts == [200] and fast.records[0].retries == 0

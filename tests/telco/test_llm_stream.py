"""The streamed final reply, and the client over a real loopback socket (timeouts, SSE delivered in pieces)."""
from __future__ import annotations

import time
from collections import deque

import pytest
from llm_kit import USER, IntentCall, client, run, scripted, settings

from telco.llm import Budget, LlmClient, SystemBlock
from telco.testing import scripted_api as s
from telco.testing.loopback import serve

REPLY = "I'm sorry the connection keeps dropping. Let's check your router's temperature first."
SYSTEM = [SystemBlock("You write the operator's replies: warm, brief, one step at a time. " * 10),
          SystemBlock("Say: the router may be overheating; ask to move it somewhere ventilated.", stable=False)]


async def collect(stream):
    return [d async for d in stream]


def test_text_deltas_assemble_into_the_reply_and_usage_is_accounted():
    api = scripted(s.text(REPLY), s.text(REPLY))

    async def go():
        async with client(api) as c:
            first = c.stream_text("dialogue", SYSTEM, USER, conversation_id="K1", turn_id="T1")
            d1 = await collect(first)
            second = c.stream_text("dialogue", SYSTEM, USER)
            await collect(second)
            return first, d1, second

    first, deltas, second = run(go())
    assert len(deltas) > 5 and "".join(deltas) == REPLY == first.text
    assert first.mode == "llm" and first.reason is None
    req = api.requests[0]
    assert req.stream and req.cache_marked() == ["system[0]"] and "tools" not in req.body
    rec = first.record
    assert rec.stream and rec.outcome == "ok" and (rec.agent, rec.turn_id) == ("dialogue", "T1")
    assert rec.output_tokens > 1 and rec.cache_creation_input_tokens > 0  # from message_start + message_delta
    assert second.record.cache_read_input_tokens == rec.cache_creation_input_tokens
    assert 0 < rec.first_token_ms <= rec.ms and rec.cost_usd > 0


def test_a_529_before_the_stream_starts_is_retried_and_counted():
    api = scripted(s.overloaded(0.01), s.text(REPLY))

    async def go():
        async with client(api) as c:
            st = c.stream_text("dialogue", SYSTEM, USER)
            return st, "".join(await collect(st))

    st, text = run(go())
    assert text == REPLY and st.record.retries == 1 and st.record.attempts == [529, 200]


def test_an_error_event_mid_stream_degrades_and_keeps_the_text_so_far():
    api = scripted(s.text(REPLY, error_after_deltas=3))

    async def go():
        async with client(api) as c:
            st = c.stream_text("dialogue", SYSTEM, USER)
            deltas = await collect(st)
            return st, deltas, c.breakers.for_model("claude-sonnet-4-6")._recent

    st, deltas, failures = run(go())
    assert len(deltas) == 3 and st.text == "".join(deltas) and st.text != REPLY
    assert st.mode == "degraded" and st.reason == "api_error" and "overloaded_error" in st.detail
    assert st.record.outcome == "failed" and st.record.input_tokens > 0  # message_start's usage still counted
    assert len(failures) == 1


def test_a_stream_over_budget_yields_nothing_and_sends_nothing():
    api = scripted(s.text(REPLY))

    async def go():
        async with client(api) as c:
            budget = Budget.for_conversation(c.settings.budget.model_copy(update={"max_tokens": 0}))
            st = c.stream_text("dialogue", SYSTEM, USER, budget=budget)
            return st, await collect(st), budget

    st, deltas, budget = run(go())
    assert deltas == [] and st.mode == "degraded" and st.reason == "budget_exhausted"
    assert st.record.outcome == "skipped" and budget.spent.skipped == 1 and api.requests == []


def test_streaming_over_a_loopback_socket_arrives_in_pieces():
    api = scripted(s.text(REPLY), chunk_delay_s=0.005)

    async def go(url):
        async with LlmClient(settings(), base_url=url) as c:
            st = c.stream_text("dialogue", SYSTEM, USER)
            arrivals = []
            async for _ in st:
                arrivals.append(time.perf_counter())
            return st, arrivals

    with serve(api) as url:
        st, arrivals = run(go(url))
    assert st.text == REPLY and st.mode == "llm"
    assert arrivals[-1] - arrivals[0] >= 0.005 * (len(arrivals) - 1)  # not one buffered body
    assert st.record.first_token_ms < st.record.ms


def test_a_slow_api_times_out_each_attempt_and_the_decision_degrades():
    api = scripted(s.tool_use("intent_call", {"intent": "other", "confidence": 0.5}, delay_s=1.0),
                   s.tool_use("intent_call", {"intent": "other", "confidence": 0.5}, delay_s=1.0))

    async def go(url):
        async with LlmClient(settings(timeout_s=0.15, max_retries=1), base_url=url) as c:
            t0 = time.perf_counter()
            d = await c.decide("intent", "You route.", USER, IntentCall)
            return d, time.perf_counter() - t0

    with serve(api) as url:
        d, elapsed = run(go(url))
    assert d.mode == "degraded" and d.reason == "timeout"
    assert d.records[0].attempts == ["timeout", "timeout"] and len(api.requests) == 2
    assert elapsed < 1.5  # two 0.15 s attempts plus the SDK's backoff, never the server's full second


def test_a_stream_can_be_iterated_once():
    api = scripted(s.text(REPLY))

    async def go():
        async with client(api) as c:
            st = c.stream_text("dialogue", SYSTEM, USER)
            await collect(st)
            await collect(st)

    from telco.errors import InvalidInput
    with pytest.raises(InvalidInput, match="iterated once"):
        run(go())


def test_a_caller_that_stops_early_closes_the_stream_without_blaming_the_api():
    from contextlib import aclosing

    api = scripted(s.text(REPLY))

    async def go():
        async with client(api) as c:
            st = c.stream_text("dialogue", SYSTEM, USER)
            async with aclosing(aiter(st)) as it:
                async for _ in it:
                    break
            return st, c.breakers.for_model("claude-sonnet-4-6")._recent

    st, failures = run(go())
    assert st.mode == "llm" and st.record.outcome == "ok" and st.record.error == "stream closed early by the caller"
    assert len(st.text.split()) == 1 and failures == deque()

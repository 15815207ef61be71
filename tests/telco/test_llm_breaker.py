"""The circuit breaker on its own (fake clock) and inside the client: an open circuit degrades at once, without
a request; after open_s one probe goes out and its outcome closes or reopens the circuit."""
from __future__ import annotations

from llm_kit import USER, Clock, IntentCall, client, run, scripted

from telco.llm import CircuitBreaker
from telco.testing import scripted_api as s

GOOD = {"intent": "billing_question", "confidence": 0.7}


def breaker(clock):
    return CircuitBreaker(failures=3, window_s=60, open_s=30, clock=clock)


def test_opens_after_n_failures_within_the_window_only():
    clock = Clock()
    b = breaker(clock)
    b.record_failure()
    clock.advance(61)  # that one has left the window
    b.record_failure()
    b.record_failure()
    assert b.state == "closed" and b.allow()
    b.record_failure()
    assert b.state == "open" and not b.allow()
    assert b.retry_in_s() == 30


def test_a_success_clears_the_count():
    clock = Clock()
    b = breaker(clock)
    b.record_failure()
    b.record_failure()
    b.record_success()
    b.record_failure()
    b.record_failure()
    assert b.state == "closed"


def test_half_open_lets_exactly_one_probe_through():
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.advance(29.9)
    assert not b.allow()
    clock.advance(0.1)
    assert b.state == "half_open"
    assert b.allow() and not b.allow()  # the probe, then nobody else while it is out
    b.record_failure()  # the probe failed: open for another open_s
    assert b.state == "open" and not b.allow()
    clock.advance(30)
    assert b.allow()
    b.record_success()
    assert b.state == "closed" and b.allow() and b.allow()


def test_a_probe_that_never_reports_back_does_not_shut_the_breaker_for_good():
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.record_failure()
    clock.advance(30)
    assert b.allow()
    b.release_probe()  # e.g. the probing call was cancelled
    assert b.allow()
    clock.advance(30)  # or it simply never came back
    assert b.allow()


def test_open_circuit_degrades_without_a_request_then_probes_and_closes():
    clock = Clock()
    api = scripted(*[s.server_error(500)] * 9, s.tool_use("intent_call", GOOD), s.tool_use("intent_call", GOOD))

    async def go():
        async with client(api, clock=clock) as c:
            failed = [await c.decide("intent", "You route.", USER, IntentCall) for _ in range(3)]
            sent = len(api.requests)
            blocked = await c.decide("intent", "You route.", USER, IntentCall)
            assert len(api.requests) == sent  # nothing went out
            other_model = c.breakers.for_model("claude-haiku-4-5").state
            clock.advance(30)
            probe = await c.decide("intent", "You route.", USER, IntentCall)
            after = await c.decide("intent", "You route.", USER, IntentCall)
            return failed, sent, blocked, other_model, probe, after, c.breakers.states()

    failed, sent, blocked, other_model, probe, after, states = run(go())
    assert [d.reason for d in failed] == ["api_error"] * 3 and sent == 9  # 3 calls x (1 + 2 retries)
    assert blocked.mode == "degraded" and blocked.reason == "circuit_open"
    assert "claude-sonnet-4-6 is open; next probe in 30.0s" in blocked.detail
    assert [r.outcome for r in blocked.records] == ["skipped"] and blocked.calls == 0
    assert other_model == "closed"  # one breaker per model
    assert probe.ok and after.ok and states == {"claude-sonnet-4-6": "closed", "claude-haiku-4-5": "closed"}


def test_schema_violations_do_not_trip_the_breaker():
    clock = Clock()
    api = scripted(*[s.tool_use("intent_call", {"intent": "??"})] * 8)

    async def go():
        async with client(api, clock=clock) as c:
            ds = [await c.decide("intent", "You route.", USER, IntentCall) for _ in range(4)]
            return ds, c.breakers.for_model("claude-sonnet-4-6").state

    ds, state = run(go())
    assert [d.reason for d in ds] == ["invalid_output"] * 4 and state == "closed" and len(api.requests) == 8

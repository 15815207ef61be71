"""Which service a flow works on, and when it needs the customer verified (telco/playbooks/runner.py with
telco/playbooks/scope.py), on the demo world through the real tools."""
from __future__ import annotations

import asyncio

from telco.playbooks import load_playbooks
from telco.playbooks.runner import PlaybookRunner, RunState
from telco.sandbox.faults import inject_fault
from telco.sandbox.state import Sandbox
from telco.tools.port import LocalToolPort

RUNNER = PlaybookRunner(load_playbooks())


def start(playbook: str, customer_id: str | None, slots: dict | None = None) -> tuple[RunState, LocalToolPort, Sandbox]:
    sb = Sandbox.demo()
    port = LocalToolPort(sb, "scope-test", verified_customer_id=customer_id)
    return asyncio.run(RUNNER.start(playbook, port, {}, slots)), port, sb


def advance(state: RunState, port: LocalToolPort, answer=None) -> RunState:
    from telco.playbooks.runner import NO_ANSWER

    return asyncio.run(RUNNER.advance(state, port, NO_ANSWER if answer is None else answer))


def drive(state: RunState, port: LocalToolPort, sb: Sandbox, customer_id: str, line_id: str) -> RunState:
    """Do every step on the phone of `line_id` until the flow asks something else (or needs verification)."""
    from telco.sandbox.customer_steps import apply_customer_step

    for _ in range(20):
        if state.pending is None or state.pending.kind != "customer_step":
            return state
        state = advance(state, port, apply_customer_step(sb, state.pending.id, customer_id, line_id))
    raise AssertionError("the flow kept asking for steps")


def out_of_data_on_second_line(slots: dict | None = None) -> tuple[RunState, LocalToolPort, Sandbox]:
    sb = Sandbox.demo()
    inject_fault(sb, "data_limit_exceeded", "C1007", "L-00008")
    port = LocalToolPort(sb, "scope-test", verified_customer_id="C1007")
    state = asyncio.run(RUNNER.start("mobile_data", port, {}, slots))
    return drive(state, port, sb, "C1007", "L-00008"), port, sb


def test_a_customer_with_several_lines_is_asked_which_number_and_the_flow_works_on_that_one():
    state, port, _ = out_of_data_on_second_line()
    assert state.pending is not None and state.pending.id == "line_number"
    assert "+15550101007" in state.pending.text and "+15550101107" in state.pending.text
    state = advance(state, port, "it's the one ending 0101107")
    assert state.scope["line_id"] == "L-00008"
    assert state.pending is not None and state.pending.id == "refuel_gb"  # the line that is out of data


def test_a_number_the_customer_already_gave_is_used_without_asking():
    state, _, _ = out_of_data_on_second_line({"line_number": "555 0101 107"})
    assert state.scope.get("line_id") == "L-00008"
    assert state.pending is not None and state.pending.id == "refuel_gb"


def test_an_answer_that_names_no_line_is_asked_again_then_the_first_is_taken_and_said():
    state, port, _ = out_of_data_on_second_line()
    state = advance(state, port, "no idea")
    assert state.pending is not None and state.pending.id == "line_number"
    state = advance(state, port, "still no idea")
    assert state.scope["line_id"] == "L-00007" and any("+15550101007" in m for m in state.messages)


def test_a_service_the_account_does_not_have_gets_a_plain_reply_not_an_error():
    state, _, _ = start("slow_broadband", "C1003")  # a mobile-only customer asks about home broadband
    assert state.status == "resolved" and state.informed == ["service_not_on_account"]
    assert "home broadband" in state.messages[-1] and state.actions == []


def test_phone_steps_come_before_verification_and_verification_only_when_the_account_is_needed():
    sb = Sandbox.demo()
    inject_fault(sb, "line_suspended_overdue", "C1011")
    port = LocalToolPort(sb, "scope-test")
    state = asyncio.run(RUNNER.start("no_service", port, {}))
    looked = []
    for _ in range(10):
        if state.needs == "identity":
            break
        assert state.pending is not None and state.pending.kind == "customer_step"
        looked.append(state.pending.id)
        from telco.sandbox.customer_steps import apply_customer_step

        state = advance(state, port, apply_customer_step(sb, state.pending.id, "C1011"))
    assert looked[0] == "check_status_bar" and state.needs == "identity"
    assert port.verified_customer_id is None and state.actions == []
    port.ctx.verified_customer_id = "C1011"
    state = advance(state, port)
    assert state.needs is None and state.pending is not None and state.pending.id == "accept_payment_request"

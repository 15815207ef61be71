"""The closed loop on its own (telco/playbooks/diagnosis.py), over a small catalogue made for these tests: test the
customer's goal first, walk the prerequisites, fix one cause at a time, re-test after every fix, never look again
at what a fresh observation already shows."""
from __future__ import annotations

import random

import pytest

from telco.playbooks import diagnosis as dx

CATALOGUE = dx.Catalogue.model_validate({
    "observations": [
        {"id": "bar", "customer_step": "check_status_bar", "about": ["phone", "account"]},
        {"id": "mms", "customer_step": "send_test_mms", "about": ["phone", "account"]},
        {"id": "line", "tool": "get_line_status", "args": {"line_id": "{scope.line_id}"}, "about": ["account"]},
    ],
    "goals": [
        {"id": "service", "test": {"observe": "bar", "when": {"path": "result.ok", "op": "truthy"}},
         "otherwise": {"queue": "technical", "reason": "no service"}},
        {"id": "mms", "needs": ["service"], "test": {"observe": "mms", "when": {"path": "result.sent", "op": "truthy"}},
         "otherwise": {"queue": "technical", "reason": "mms still fails"}},
    ],
    "causes": [
        {"id": "airplane", "goal": "service",
         "evidence": [{"observe": "bar", "when": {"path": "result.airplane", "op": "truthy"}}],
         "fix": [{"customer_step": "turn_off_airplane_mode"}]},
        {"id": "suspended", "goal": "service",
         "evidence": [{"observe": "line", "when": {"path": "result.status", "value": "suspended"}}],
         "fix": [{"ask": "accept_payment", "question": "Pay now?", "unmet": "declined"},
                 {"tool": "resume_line", "args": {"line_id": "{scope.line_id}"}}]},
        {"id": "puk", "goal": "service",
         "evidence": [{"observe": "bar", "when": {"path": "result.puk", "op": "truthy"}}],
         "person": {"queue": "support", "reason": "PUK"}},
        {"id": "permissions", "goal": "mms",
         "evidence": [{"observe": "mms", "when": {"path": "result.needs_permission", "op": "truthy"}}],
         "fix": [{"customer_step": "grant_messaging_permissions"}]},
    ],
})


class Phone:
    """A toy world: what each observation shows follows from these flags, and each fix clears one."""

    def __init__(self, **faults: bool) -> None:
        self.f = {"airplane": False, "suspended": False, "puk": False, "permissions": False, **faults}

    def observe(self, obs: str) -> dict:
        service = not (self.f["airplane"] or self.f["suspended"] or self.f["puk"])
        if obs == "bar":
            return {"ok": service, "airplane": self.f["airplane"], "puk": self.f["puk"]}
        if obs == "mms":
            return {"sent": service and not self.f["permissions"], "needs_permission": self.f["permissions"]}
        return {"status": "suspended" if self.f["suspended"] else "active"}


def run(phone: Phone, target: str, *, accept: bool = True, fixes_work: bool = True, limit: int = 50):
    """Play the loop as the runner does; returns the finish move and the observations asked for, in order."""
    loop, looks = dx.LoopState(), []
    fix_for = {"turn_off_airplane_mode": "airplane", "grant_messaging_permissions": "permissions",
               "resume_line": "suspended"}
    for _ in range(limit):
        move = dx.next_move(CATALOGUE, target, loop)
        if isinstance(move, dx.Finish):
            return move, looks
        if isinstance(move, dx.Look):
            looks.append(move.observation)
            loop.record(CATALOGUE, move.observation, phone.observe(move.observation))
            continue
        cause = CATALOGUE.cause(move.cause)
        if move.index < 0:
            loop.fixing = dx.Fixing(cause=cause.id)
            continue
        if move.index >= len(cause.fix):
            loop.causes[cause.id], loop.fixing = "fixed", None
            continue
        action = cause.fix[move.index]
        if action.ask:
            if accept:
                loop.fixing.index += 1
            else:
                loop.causes[cause.id], loop.fixing = "declined", None
            continue
        name = action.customer_step or action.tool
        if fixes_work:
            phone.f[fix_for[name]] = False
        loop.changed("phone" if action.customer_step else "account")
        loop.fixing.index += 1
    raise AssertionError("the loop did not finish")


def test_a_goal_that_already_holds_is_looked_at_once():
    finish, looks = run(Phone(), "mms")
    assert finish.outcome == "passed" and looks == ["mms"]


def test_prerequisites_are_checked_and_each_cause_fixed_then_retested():
    phone = Phone(airplane=True, permissions=True)
    finish, looks = run(phone, "mms")
    assert finish.outcome == "passed"
    # The customer's own test first; then the service it needs; the second cause appears only after the first fix.
    assert looks[:2] == ["mms", "bar"] and looks.count("mms") >= 2
    assert not any(phone.f.values())


def test_a_fresh_observation_rules_causes_out_without_asking_again():
    finish, looks = run(Phone(permissions=True), "mms")
    assert finish.outcome == "passed"
    assert looks.count("bar") == 1  # the status bar showed service: nothing about service is asked again
    assert "line" not in looks  # the account is not read when the phone already shows service


def test_an_account_cause_is_read_only_when_the_phone_shows_no_local_cause():
    finish, looks = run(Phone(suspended=True), "service")
    assert finish.outcome == "passed" and looks.index("line") > looks.index("bar")


def test_a_declined_offer_ends_the_loop_with_the_cause_still_there():
    phone = Phone(suspended=True)
    finish, _ = run(phone, "service", accept=False)
    assert (finish.outcome, finish.cause) == ("declined", "suspended") and phone.f["suspended"]


def test_a_cause_only_a_person_can_fix_ends_in_a_called_for_handover():
    finish, _ = run(Phone(airplane=True, puk=True), "service")
    assert (finish.outcome, finish.cause, finish.queue, finish.called_for) == ("person", "puk", "support", True)


def test_a_fix_that_does_not_help_is_not_repeated_and_a_person_takes_over():
    finish, looks = run(Phone(airplane=True), "service", fixes_work=False)
    assert finish.outcome == "person" and finish.reason == "no service"
    assert len(looks) < 10


@pytest.mark.parametrize("seed", range(200))
def test_any_combination_ends_within_bounds(seed):
    rng = random.Random(seed)
    phone = Phone(**{k: rng.random() < 0.5 for k in ("airplane", "suspended", "puk", "permissions")})
    finish, looks = run(phone, rng.choice(["service", "mms"]), accept=rng.random() < 0.7,
                        fixes_work=rng.random() < 0.8)
    assert finish.outcome in ("passed", "person", "declined") and len(looks) <= 12


def test_the_shipped_catalogue_loads_and_every_reference_resolves():
    from telco.sandbox.customer_steps import list_customer_steps
    from telco.tools import TOOLS

    cat = dx.load_catalogue()
    steps = {s.id for s in list_customer_steps()}
    for obs in cat.observations:
        assert (obs.customer_step in steps) if obs.customer_step else (TOOLS[obs.tool].kind == "read")
    for cause in cat.causes:
        for action in cause.fix:
            assert action.customer_step is None or action.customer_step in steps
            assert action.tool is None or TOOLS[action.tool].kind == "write"
    assert {g.id for g in cat.goals} >= {"service", "data", "mms"}

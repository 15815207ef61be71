"""Identity by any method policy allows: the policy's list, a tool per method, the identify flow that asks only for
what is missing, offers another method for a detail the customer does not know, and always ends (verified or with a
person) without asking any question more often than the attempt limit."""
from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telco.errors import InvalidInput, NotFound, PolicyDenied
from telco.knowledge import KB_DIR
from telco.playbooks import load_playbooks
from telco.playbooks.runner import PlaybookRunner
from telco.policy import IdentityPolicy, Policy, check_identity_method, load_policy
from telco.sandbox.state import Sandbox
from telco.tools import TOOLS, ToolContext, call_tool
from telco.tools.port import LocalToolPort
from worldkit import small_world

POLICY = load_policy()
LIMIT = POLICY.identity.max_failed_attempts
ANA = {"full_name": "Ana Lima", "date_of_birth": "1988-03-14", "phone": "+15551230001", "customer_id": "C0001"}
# Details that exist, but for someone else (or nobody): a wrong answer must never verify, nor say which part is wrong.
WRONG = {"full_name": "Ana Lime", "date_of_birth": "1988-03-15", "phone": "+15551230002", "customer_id": "C0002"}
CHECKS = {  # the identify flow's check step for each method, and the tool it runs
    "name_and_date_of_birth": "find_customer_by_name_dob",
    "phone_and_name": "verify_phone_and_name",
    "customer_id_and_name": "verify_customer_id_and_name",
    "customer_id_and_date_of_birth": "verify_identity",
}


@pytest.fixture
def anon() -> ToolContext:
    return ToolContext(Sandbox(small_world()), "conv-anon")


# ---- policy: the list of methods, as data ------------------------------------------------------------------
def test_policy_lists_the_methods_the_issue_requires():
    methods = {m.id: set(m.details) for m in POLICY.identity.methods}
    assert methods["customer_id_and_name"] == {"customer_id", "full_name"}
    assert methods["phone_and_name"] == {"phone", "full_name"}
    assert methods["name_and_date_of_birth"] == {"full_name", "date_of_birth"}


def test_every_method_has_a_tool_and_a_check_step_in_the_identify_flow():
    book = load_playbooks()["identify"]
    for method in POLICY.identity.methods:
        tool = CHECKS[method.id]
        assert tool in TOOLS
        step = book.step(f"check_{method.id}")
        assert step.tool == tool
        args = set(re.findall(r"slots\.(\w+)", str(step.args)))
        assert args == set(method.details), f"{step.id} reads {args}, the method needs {method.details}"


def test_a_method_policy_does_not_list_is_refused_by_its_tool(anon, monkeypatch):
    check_identity_method("phone_and_name")
    narrowed = POLICY.model_copy(update={"identity": IdentityPolicy(
        max_failed_attempts=LIMIT, methods=[m for m in POLICY.identity.methods if m.id != "phone_and_name"])})
    monkeypatch.setattr("telco.tools.identity.check_identity_method",
                        lambda method: check_identity_method(method, narrowed))
    with pytest.raises(PolicyDenied) as exc:
        call_tool(anon, "verify_phone_and_name", {"phone": ANA["phone"], "name": ANA["full_name"]})
    assert exc.value.rule == "identity.method_allowed" and anon.verified_customer_id is None
    assert anon.failed_identity_attempts == 0


def test_policy_file_rejects_a_method_listed_twice_or_on_one_detail():
    raw = POLICY.model_dump(mode="json")
    twice = {**raw, "identity": {**raw["identity"], "methods": raw["identity"]["methods"] * 2}}
    with pytest.raises(ValueError, match="twice"):
        Policy.model_validate(twice)
    alone = {**raw, "identity": {**raw["identity"], "methods": [{"id": "phone_only", "details": ["phone"]}]}}
    with pytest.raises(ValueError):
        Policy.model_validate(alone)


def test_the_kb_names_every_detail_of_every_method():
    text = re.sub(r"\s+", " ", (KB_DIR / "identity-verification.md").read_text())
    section = text[text.index("## Which details we ask for"):text.index("## What happens after failed attempts")]
    words = {"full_name": "full name", "date_of_birth": "date of birth", "phone": "mobile number",
             "customer_id": "customer number"}
    # The first sentence lists the pairs, one per method, in the policy's order, separated by semicolons.
    pairs = section.split(":", 1)[1].split(". ", 1)[0].split(";")
    assert len(pairs) == len(POLICY.identity.methods)
    for pair, method in zip(pairs, POLICY.identity.methods):
        named = {d for d, w in words.items() if w in pair}
        assert named == set(method.details), f"the KB's pair {pair.strip()!r} is not {method.id}"


# ---- the tools ----------------------------------------------------------------------------------------------
def test_phone_and_name_verifies_with_a_line_or_the_contact_number(anon):
    anon.sandbox.world.customers["C0001"].phone = "+15557770000"
    for number in ("+1 555 123 0001", "+15557770000"):
        ctx = ToolContext(anon.sandbox, "conv-x")
        r = call_tool(ctx, "verify_phone_and_name", {"phone": number, "name": "ana  LIMA"})
        assert r["verified"] and r["customer_id"] == "C0001" and ctx.verified_customer_id == "C0001"


def test_customer_id_and_name_verifies(anon):
    r = call_tool(anon, "verify_customer_id_and_name", {"customer_id": "c0001", "name": "Ana Lima"})
    assert r["verified"] and anon.verified_customer_id == "C0001"


def test_names_match_without_accents_or_case(anon):
    anon.sandbox.world.customers["C0001"].name = "Ána Límá"
    assert call_tool(anon, "find_customer_by_name_dob", {"name": "ana lima", "date_of_birth": "1988-03-14"})["verified"]


@pytest.mark.parametrize("tool, args", [
    ("verify_phone_and_name", {"phone": "+15551230001", "name": "Ben Okafor"}),  # a real number, the wrong name
    ("verify_phone_and_name", {"phone": "+15559999999", "name": "Ana Lima"}),  # a number nobody has
    ("verify_customer_id_and_name", {"customer_id": "C0002", "name": "Ana Lima"}),
    ("verify_customer_id_and_name", {"customer_id": "C9999", "name": "Ana Lima"}),
])
def test_a_failed_match_counts_and_never_says_whether_the_number_or_id_exists(anon, tool, args):
    with pytest.raises(NotFound) as exc:
        call_tool(anon, tool, args)
    assert anon.failed_identity_attempts == 1 and anon.verified_customer_id is None
    for value in args.values():
        assert value not in exc.value.message
    assert exc.value.details["attempts_left"] == LIMIT - 1
    # The same words whichever detail was wrong.
    assert re.sub(r"\d", "", exc.value.message) == re.sub(
        r"\d", "", f"no account matches that {'phone number' if 'phone' in args else 'customer number'} and name "
                   f"together (0 attempts left)")


def test_an_unknown_customer_id_reads_like_a_wrong_date_of_birth(anon):
    unknown = call_tool(anon, "verify_identity", {"customer_id": "C9999", "date_of_birth": "1988-03-14"})
    wrong = call_tool(anon, "verify_identity", {"customer_id": "C0001", "date_of_birth": "1988-03-15"})
    assert not unknown["verified"] and not wrong["verified"] and unknown["message"] == wrong["message"]
    assert anon.failed_identity_attempts == 2


def test_every_method_stops_after_the_attempt_limit(anon):
    anon.failed_identity_attempts = LIMIT
    for tool, args in [("verify_phone_and_name", {"phone": ANA["phone"], "name": ANA["full_name"]}),
                       ("verify_customer_id_and_name", {"customer_id": "C0001", "name": ANA["full_name"]}),
                       ("find_customer_by_name_dob", {"name": ANA["full_name"], "date_of_birth": ANA["date_of_birth"]}),
                       ("verify_identity", {"customer_id": "C0001", "date_of_birth": ANA["date_of_birth"]})]:
        with pytest.raises(PolicyDenied) as exc:
            call_tool(anon, tool, args)
        assert exc.value.rule == "identity.max_failed_attempts"
    assert anon.verified_customer_id is None


def test_details_that_fit_two_accounts_are_not_a_failed_attempt(anon):
    twin = anon.sandbox.world.customers["C0002"]
    twin.name, twin.date_of_birth = "Ana Lima", anon.sandbox.world.customers["C0001"].date_of_birth
    with pytest.raises(InvalidInput):
        call_tool(anon, "find_customer_by_name_dob", {"name": "Ana Lima", "date_of_birth": "1988-03-14"})
    assert anon.failed_identity_attempts == 0


# ---- the flow -----------------------------------------------------------------------------------------------
class Run:
    """The identify flow driven by typed answers (the planner's reading of words is tested in tests/actors)."""

    def __init__(self, given: dict[str, str] | None = None) -> None:
        self.port = LocalToolPort(Sandbox(small_world()), "conv-flow")
        self.runner = PlaybookRunner(load_playbooks())
        self.given = given or {}
        self.questions: list[str] = []

    def go(self, answer) -> Any:
        async def drive():
            state = await self.runner.start("identify", self.port, {}, self.given)
            for _ in range(4 * LIMIT + 2):
                if state.pending is None:
                    return state
                assert state.pending.kind == "ask"
                self.questions.append(state.pending.id)
                state = await self.runner.advance(state, self.port, answer(state.pending.id, len(self.questions)))
            raise AssertionError(f"the flow is still asking after {self.questions}")

        return asyncio.run(drive())


def knows(**details):
    return lambda slot, n: details.get(slot)


@pytest.mark.parametrize("method", [m.id for m in POLICY.identity.methods])
def test_each_method_alone_verifies(method):
    details = next(m for m in POLICY.identity.methods if m.id == method).details
    run = Run()
    state = run.go(knows(**{d: ANA[d] for d in details}))
    assert state.status == "resolved" and run.port.verified_customer_id == "C0001"
    assert state.history[-2].name == CHECKS[method]  # verified by that method's own tool
    assert max(Counter(run.questions).values()) == 1


def test_not_knowing_the_date_of_birth_moves_to_the_phone_number():
    run = Run()
    state = run.go(knows(full_name=ANA["full_name"], phone=ANA["phone"]))
    assert state.status == "resolved" and run.questions == ["full_name", "date_of_birth", "phone"]
    assert "another way" in " ".join(state.messages)


def test_details_already_given_are_not_asked():
    run = Run({"phone": ANA["phone"]})
    assert run.go(knows(**ANA)).status == "resolved" and run.questions == ["full_name"]
    run = Run({"customer_id": "C0001", "full_name": "Ana Lima"})
    assert run.go(knows()).status == "resolved" and run.questions == []


def test_a_wrong_date_then_the_right_one_verifies():
    run = Run()
    state = run.go(lambda slot, n: WRONG[slot] if slot == "date_of_birth" and n < 3 else ANA[slot])
    assert state.status == "resolved" and run.questions == ["full_name", "date_of_birth"] * 2
    assert f"attempts left: {LIMIT - 1}" in " ".join(state.messages)


def test_a_wrong_number_given_up_front_gets_another_try_with_the_same_method():
    run = Run({"phone": WRONG["phone"]})
    state = run.go(knows(**ANA))
    assert state.status == "resolved" and run.questions == ["full_name", "phone", "full_name"]


def test_attempts_used_up_hand_over_and_nothing_more_is_asked():
    run = Run()
    state = run.go(knows(**WRONG))
    assert state.status == "escalated" and state.pending is None
    assert run.port.failed_identity_attempts == LIMIT and run.port.verified_customer_id is None
    assert Counter(run.questions) == {"full_name": LIMIT, "date_of_birth": LIMIT}
    assert state.informed[-1] == "identity_not_verified" and "?" not in state.messages[-1]
    handoff = state.actions[-1]
    assert handoff["tool"] == "transfer_to_person" and handoff["args"]["reason"].startswith("identity_not_verified")


def test_knowing_nothing_goes_to_a_person_after_one_question_per_method():
    run = Run()
    state = run.go(knows())
    assert state.status == "escalated" and run.port.failed_identity_attempts == 0
    assert len(run.questions) == len(set(run.questions)) <= len(POLICY.identity.methods)


ANSWERS = st.sampled_from(["right", "wrong", "unknown"])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(known=st.fixed_dictionaries({d: ANSWERS for d in ANA}), script=st.lists(ANSWERS, max_size=16),
       given_up_front=st.dictionaries(st.sampled_from(sorted(ANA)), st.sampled_from(["right", "wrong"]), max_size=2))
def test_any_answers_end_verified_or_with_a_person_within_the_question_limit(known, script, given_up_front):
    """Each question gets the detail's usual answer or, while the script lasts, a random one."""
    pick = {"right": ANA, "wrong": WRONG, "unknown": {}}
    run = Run({d: pick[v][d] for d, v in given_up_front.items()})
    state = run.go(lambda slot, n: pick[script[n - 1] if n <= len(script) else known[slot]].get(slot))
    assert state.status in ("resolved", "escalated")
    assert max(Counter(run.questions).values(), default=0) <= LIMIT
    assert run.port.failed_identity_attempts <= LIMIT
    if state.status == "resolved":
        assert run.port.verified_customer_id == "C0001"
    else:
        assert run.port.verified_customer_id is None and state.informed[-1] == "identity_not_verified"

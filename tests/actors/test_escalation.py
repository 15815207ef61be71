"""Escalation rules (telco/data/escalation.yaml through actors/agents/escalation.py): each rule fires on its own facts
and not on the facts just across its threshold; the order settles overlaps; a broken rules file is refused."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from actors.agents.escalation import ESCALATION_FILE, EscalationAgent, load_rules
from telco.contract.messages import EscalationDecision, EscalationFacts, IntentScore, Signals
from telco.errors import InvalidInput
from telco.policy import RULES as POLICY_RULES


def score(intent: str, confidence: float) -> IntentScore:
    return IntentScore(intent=intent, confidence=confidence)


CALM = dict(intents=[score("broadband_drops", 0.92)])

# (case, facts, rule that must decide or None, queue when escalating)
FIRES = [
    ("playbook handed over", dict(CALM, run_status="escalated"), "playbook_handoff", None),
    ("complaint words", dict(CALM, signals=Signals(complaint=True)), "complaint", "complaints"),
    ("asks for a person in words", dict(CALM, signals=Signals(wants_person=True)), "asked_for_person", "support"),
    ("human_agent intent", dict(intents=[score("human_agent", 0.81)]), "asked_for_person", "support"),
    ("human_agent as second intent", dict(intents=[score("broadband_drops", 0.9), score("human_agent", 0.6)]),
     "asked_for_person", "support"),
    ("conflicting intents", dict(intents=[score("cancel_service", 0.85), score("plan_upgrade", 0.7)],
                                 conflicting=("cancel_service", "plan_upgrade")), "conflicting_intents", "support"),
    ("two weak candidates", dict(intents=[score("mms", 0.39), score("mobile_data", 0.35)]), "unclear_intent",
     "support"),
    ("two answers unreadable", dict(CALM, unreadable_answers=2), "answer_not_understood", "support"),
    ("same fix failed twice", dict(CALM, failed_fix_repeats=2), "repeated_failed_fix", "technical"),
    ("same fix failed often", dict(CALM, failed_fix_repeats=5), "repeated_failed_fix", "technical"),
    ("frustrated and back again", dict(CALM, signals=Signals(frustration=0.7), repeat_contact=True),
     "frustrated_repeat_contact", "support"),
    ("goodwill above limit", dict(CALM, policy_refusals=["goodwill_credit.max_per_credit"]), "policy_limit",
     "billing"),
    ("refuel above limit", dict(CALM, policy_refusals=["refuel.max_gb_per_cycle"]), "policy_limit", "support"),
    ("resume refused", dict(CALM, policy_refusals=["resume_line.contract_not_ended"]), "policy_limit",
     "retention"),
    ("first mapped refusal decides", dict(CALM, policy_refusals=["identity.verified_before_account_change",
                                                                 "roaming.requires_no_overdue_bill"]),
     "policy_limit", "billing"),
]

# Just across each threshold, or the fact a rule needs is missing: nothing escalates.
QUIET = [
    ("calm, confident, nothing refused", dict(CALM)),
    ("no facts at all", dict()),
    ("playbook still waiting", dict(CALM, run_status="waiting")),
    ("playbook resolved", dict(CALM, run_status="resolved")),
    ("human_agent reading too weak", dict(intents=[score("broadband_drops", 0.9), score("human_agent", 0.49)])),
    ("one weak candidate is a guess, not confusion", dict(intents=[score("mms", 0.2)])),
    ("best exactly at the bar", dict(intents=[score("mms", 0.4), score("mobile_data", 0.35)])),
    ("fix failed once", dict(CALM, failed_fix_repeats=1)),
    ("one answer unreadable", dict(CALM, unreadable_answers=1)),
    ("frustrated on a first contact", dict(CALM, signals=Signals(frustration=0.95))),
    ("repeat contact, calm", dict(CALM, repeat_contact=True, signals=Signals(frustration=0.69))),
    ("urgent is not frustrated", dict(CALM, signals=Signals(urgency=True), repeat_contact=True)),
    ("refusal a person cannot override", dict(CALM, policy_refusals=["plan_change.five_g_requires_capable_device"])),
    ("identity refusal goes through the identify flow", dict(CALM, policy_refusals=["identity.own_records_only"])),
]

# When several rules hold, the earlier one in the file decides.
ORDER = [
    ("a playbook handoff is never doubled", dict(CALM, run_status="escalated", signals=Signals(wants_person=True),
                                                 policy_refusals=["goodwill_credit.max_per_credit"]),
     "playbook_handoff"),
    ("a complaint reaches the complaints team", dict(CALM, signals=Signals(complaint=True, wants_person=True)),
     "complaint"),
    ("confusion before a failed fix", dict(intents=[score("mms", 0.3), score("mobile_data", 0.2)],
                                           failed_fix_repeats=3), "unclear_intent"),
    ("unreadable answers are not a failed fix", dict(CALM, unreadable_answers=2, failed_fix_repeats=2),
     "answer_not_understood"),
    ("failed fix before a policy refusal", dict(CALM, failed_fix_repeats=2, policy_refusals=["refuel.x"]),
     "repeated_failed_fix"),
]


@pytest.fixture(scope="module")
def agent() -> EscalationAgent:
    return EscalationAgent()


def decide(agent: EscalationAgent, **facts) -> EscalationDecision:
    return asyncio.run(agent.decide(EscalationFacts(**facts)))


@pytest.mark.parametrize("case,facts,rule,queue", FIRES, ids=[c[0] for c in FIRES])
def test_rule_fires_on_its_own_facts(agent, case, facts, rule, queue):
    d = decide(agent, **facts)
    assert d.rule == rule
    if rule == "playbook_handoff":
        assert d.escalate is False  # the playbook already called transfer_to_person
    else:
        assert d.escalate is True and d.queue == queue
    assert d.reason


@pytest.mark.parametrize("case,facts", QUIET, ids=[c[0] for c in QUIET])
def test_no_rule_fires_on_neighbouring_facts(agent, case, facts):
    d = decide(agent, **facts)
    assert d == EscalationDecision(escalate=False), f"{case}: {d.rule} fired"


@pytest.mark.parametrize("case,facts,rule", ORDER, ids=[c[0] for c in ORDER])
def test_first_rule_in_file_order_wins(agent, case, facts, rule):
    assert decide(agent, **facts).rule == rule


def test_every_rule_in_the_file_is_exercised():
    ids = [r.spec.id for r in load_rules()]
    assert set(ids) == {c[2] for c in FIRES}


def test_reasons_carry_what_the_check_found(agent):
    d = decide(agent, **CALM, policy_refusals=["goodwill_credit.yearly_limit"])
    assert "goodwill_credit.yearly_limit" in d.reason
    d = decide(agent, intents=[score("cancel_service", 0.9)], conflicting=("cancel_service", "moving_house"))
    assert "cancel_service" in d.reason and "moving_house" in d.reason
    d = decide(agent, intents=[score("mms", 0.31), score("mobile_data", 0.2)])
    assert "mms" in d.reason and "0.31" in d.reason


def test_decisions_are_deterministic(agent):
    facts = dict(CALM, failed_fix_repeats=3, signals=Signals(frustration=0.9), repeat_contact=True)
    assert decide(agent, **facts) == decide(agent, **facts) == decide(EscalationAgent(), **facts)


def test_facts_as_a_plain_dict_are_validated(agent):
    d = asyncio.run(agent.decide({"signals": {"complaint": True}}))
    assert d.rule == "complaint"
    with pytest.raises(InvalidInput, match="frustration"):
        asyncio.run(agent.decide({"signals": {"frustration": 3}}))


def test_policy_prefixes_name_real_policy_rules():
    """A typo in the prefix table would silently never escalate; every prefix must match a rule in policy.py."""
    spec = next(r for r in load_rules() if r.spec.check == "policy_limit")
    known = {rule.split(".", 1)[0] for rule in POLICY_RULES}
    assert set(spec.params.queues) <= known, set(spec.params.queues) - known


# ---- a broken rules file is refused with a message that says what is wrong --------------------------------
def write_rules(tmp_path: Path, rules) -> Path:
    path = tmp_path / "escalation.yaml"
    path.write_text(yaml.safe_dump({"rules": rules}), encoding="utf-8")
    return path


GOOD = {"id": "complaint", "check": "complaint", "queue": "complaints", "reason": "complaint"}


@pytest.mark.parametrize("rules,message", [
    ([{**GOOD, "check": "complain"}], "unknown check 'complain'"),
    ([{**GOOD, "queue": "sales"}], "queue"),
    ([GOOD, GOOD], "used by an earlier rule"),
    ([{**GOOD, "reason": "because {who}"}], r"reason uses \['who'\]"),
    ([{"id": "r", "check": "repeated_failed_fix", "reason": "x", "params": {"min_repeat": 2}}],
     "bad params for check 'repeated_failed_fix'"),
    ([{"id": "r", "check": "policy_limit", "reason": "x", "params": {"queues": {"refuel": "sales"}}}],
     "queues.refuel"),
    ([{**GOOD, "colour": "red"}], "colour"),
    ([], "non-empty 'rules' list"),
])
def test_bad_rules_file_is_refused(tmp_path, rules, message):
    with pytest.raises(InvalidInput, match=message):
        load_rules(write_rules(tmp_path, rules))


def test_missing_rules_file_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="cannot read"):
        EscalationAgent(tmp_path / "nope.yaml")


def test_shipped_file_is_the_default():
    assert ESCALATION_FILE.is_file()
    assert [r.spec.id for r in load_rules(ESCALATION_FILE)] == [r.spec.id for r in EscalationAgent().rules]

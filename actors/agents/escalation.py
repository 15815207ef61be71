"""Escalation agent: from one turn's facts, decide whether a person takes over, which team, and why.

The rules are data (telco/data/escalation.yaml): an ordered list where the first rule that holds decides. This
file holds the small vocabulary of checks those rules can name (CHECKS), each a pure function of the facts and
its thresholds, plus the loader that rejects a rules file with a typo before any conversation depends on it.
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from telco.contract.messages import EscalationDecision, EscalationFacts
from telco.data import ESCALATION_FILE
from telco.errors import InvalidInput

# One list of teams for the whole system: the one the decision message allows.
Queue = EscalationDecision.model_fields["queue"].annotation
# What a check found when it holds: values for the rule's reason placeholders, and optionally "queue".
Found = dict[str, Any]


# ---- the checks a rule can name ---------------------------------------------------------------------------
class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(_Params):
    pass


class PersonParams(_Params):
    intents: list[str] = Field(min_length=1)
    min_confidence: float = Field(ge=0, le=1)


class UnclearParams(_Params):
    below: float = Field(gt=0, le=1)
    min_candidates: int = Field(ge=1)


class RepeatParams(_Params):
    min_repeats: int = Field(ge=1)


class AnswersParams(_Params):
    min_answers: int = Field(ge=1)


class FrustrationParams(_Params):
    min_frustration: float = Field(ge=0, le=1)


class PolicyParams(_Params):
    queues: dict[str, Queue] = Field(min_length=1)  # PolicyDenied rule prefix -> queue


def _playbook_escalated(f: EscalationFacts, p: NoParams) -> Found | None:
    return {} if f.run_status == "escalated" else None


def _complaint(f: EscalationFacts, p: NoParams) -> Found | None:
    return {} if f.signals.complaint else None


def _asks_for_person(f: EscalationFacts, p: PersonParams) -> Found | None:
    if f.signals.wants_person:
        return {"via": "words"}
    for score in f.intents:
        if score.intent in p.intents and score.confidence >= p.min_confidence:
            return {"via": score.intent}
    return None


def _conflicting_intents(f: EscalationFacts, p: NoParams) -> Found | None:
    return {"first": f.conflicting[0], "second": f.conflicting[1]} if f.conflicting else None


def _unclear_intent(f: EscalationFacts, p: UnclearParams) -> Found | None:
    # One weak candidate is a guess worth trying (the playbook checks before acting); several weak ones mean
    # the message could be about anything.
    if len(f.intents) < p.min_candidates:
        return None
    best = max(f.intents, key=lambda s: s.confidence)
    if best.confidence >= p.below:
        return None
    return {"intent": best.intent, "confidence": f"{best.confidence:.2f}"}


def _repeated_failed_fix(f: EscalationFacts, p: RepeatParams) -> Found | None:
    return {"repeats": f.failed_fix_repeats} if f.failed_fix_repeats >= p.min_repeats else None


def _unreadable_answers(f: EscalationFacts, p: AnswersParams) -> Found | None:
    # Re-asking a third time rarely goes better than the second; a person can read what the customer means.
    return {"answers": f.unreadable_answers} if f.unreadable_answers >= p.min_answers else None


def _frustrated_repeat_contact(f: EscalationFacts, p: FrustrationParams) -> Found | None:
    # Frustration alone is handled by a softer reply; coming back about the same issue AND being upset is
    # what tells us the automated path has already failed this customer once.
    if f.repeat_contact and f.signals.frustration >= p.min_frustration:
        return {"frustration": f"{f.signals.frustration:.2f}"}
    return None


def _policy_limit(f: EscalationFacts, p: PolicyParams) -> Found | None:
    for rule in f.policy_refusals:
        prefix = rule.split(".", 1)[0]
        if prefix in p.queues:
            return {"policy_rule": rule, "queue": p.queues[prefix]}
    return None


@dataclass(frozen=True)
class Check:
    params: type[_Params]
    test: Callable[[EscalationFacts, Any], Found | None]
    fields: frozenset[str]  # the placeholders a reason may use with this check


CHECKS: dict[str, Check] = {
    "playbook_escalated": Check(NoParams, _playbook_escalated, frozenset()),
    "complaint": Check(NoParams, _complaint, frozenset()),
    "asks_for_person": Check(PersonParams, _asks_for_person, frozenset({"via"})),
    "conflicting_intents": Check(NoParams, _conflicting_intents, frozenset({"first", "second"})),
    "unclear_intent": Check(UnclearParams, _unclear_intent, frozenset({"intent", "confidence"})),
    "unreadable_answers": Check(AnswersParams, _unreadable_answers, frozenset({"answers"})),
    "repeated_failed_fix": Check(RepeatParams, _repeated_failed_fix, frozenset({"repeats"})),
    "frustrated_repeat_contact": Check(FrustrationParams, _frustrated_repeat_contact, frozenset({"frustration"})),
    "policy_limit": Check(PolicyParams, _policy_limit, frozenset({"policy_rule"})),
}


# ---- the rules file ---------------------------------------------------------------------------------------
class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    check: str
    params: dict[str, Any] = {}
    queue: Queue = "support"
    reason: str = Field(min_length=1)
    escalate: bool = True
    # The situation itself needs a person (the customer's explicit wish, a limit the agent may not pass): a correct
    # outcome, which the failure analysis (jobs/failures.py) does not count as a failure.
    called_for: bool = False


def called_for_rules(path: Path | str | None = None) -> frozenset[str]:
    """Ids of the rules whose hand-over is the right outcome, not a failure of the automated path."""
    return frozenset(rule.spec.id for rule in load_rules(path) if rule.spec.called_for)


@dataclass(frozen=True)
class Rule:
    spec: RuleSpec
    params: _Params
    check: Check

    def fires(self, facts: EscalationFacts) -> EscalationDecision | None:
        found = self.check.test(facts, self.params)
        if found is None:
            return None
        return EscalationDecision(escalate=self.spec.escalate, rule=self.spec.id,
                                  reason=self.spec.reason.format(**found),
                                  queue=found.get("queue", self.spec.queue))


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())


def load_rules(path: Path | str | None = None) -> list[Rule]:
    """The ordered rules from `path` (default telco/data/escalation.yaml); any defect is an InvalidInput that
    names the file, the rule and what is wrong."""
    source = Path(path) if path is not None else ESCALATION_FILE
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{source}: cannot read the escalation rules: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list) or not raw["rules"]:
        raise InvalidInput(f"{source}: expected a mapping with a non-empty 'rules' list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw["rules"]):
        label = f"{source}: rule {i}" + (f" ({entry.get('id')})" if isinstance(entry, dict) else "")
        try:
            spec = RuleSpec.model_validate(entry)
        except ValidationError as exc:
            raise InvalidInput(f"{label}: {_problems(exc)}") from exc
        if spec.id in seen:
            raise InvalidInput(f"{label}: the id {spec.id!r} is used by an earlier rule")
        seen.add(spec.id)
        check = CHECKS.get(spec.check)
        if check is None:
            raise InvalidInput(f"{label}: unknown check {spec.check!r}; known checks: {', '.join(sorted(CHECKS))}")
        try:
            params = check.params.model_validate(spec.params)
        except ValidationError as exc:
            raise InvalidInput(f"{label}: bad params for check {spec.check!r}: {_problems(exc)}") from exc
        used = {name for _, name, _, _ in string.Formatter().parse(spec.reason) if name}
        unknown = used - check.fields
        if unknown:
            raise InvalidInput(f"{label}: reason uses {sorted(unknown)}, but check {spec.check!r} only provides "
                               f"{sorted(check.fields) or 'no placeholders'}")
        rules.append(Rule(spec, params, check))
    return rules


class EscalationAgent:
    """Stateless: the same facts always give the same decision."""

    def __init__(self, rules_path: Path | str | None = None) -> None:
        self.rules = load_rules(rules_path)

    async def decide(self, facts: EscalationFacts) -> EscalationDecision:
        if not isinstance(facts, EscalationFacts):
            try:
                facts = EscalationFacts.model_validate(facts)
            except ValidationError as exc:
                raise InvalidInput(f"bad escalation facts: {_problems(exc)}") from exc
        for rule in self.rules:
            decision = rule.fires(facts)
            if decision is not None:
                return decision
        return EscalationDecision(escalate=False)

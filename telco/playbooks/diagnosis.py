"""Closed-loop diagnosis: check, fix, re-test, and go on until the test the customer cares about passes or no
known cause remains.

The catalogue (telco/data/diagnosis.yaml) is data: *goals* (working service, working data, a picture message that
sends), each with the end-to-end test that proves it and the goals it needs first; *causes*, each tied to the goal
it breaks, with the evidence that shows it (a condition on an observation) and its fix (customer steps, tools,
a consent question), or the person it needs; *observations*, the ways to look (a customer step or a read tool),
each marked with what a fix must change for it to go stale (the phone, the account, the network).

`next_move` decides from the catalogue and the loop's state alone (its only write marks a fixed cause that came
back as failed): the runner performs the move, records what came back and asks again. Every fix makes the
observations it may have changed stale, so prerequisites are re-checked after each fix; an observation that is still
fresh is never asked for again, so the customer is never asked for a step an observation already rules out. Each
cause is fixed at most once, which bounds the loop.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from telco.data import DIAGNOSIS_FILE
from telco.playbooks.expressions import holds
from telco.playbooks.spec import When

Domain = Literal["phone", "router", "account", "network"]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Observation(_Data):
    """A way to look: a customer step (what the customer sees) or a read tool (what our systems see)."""

    id: str
    customer_step: str | None = None
    tool: str | None = None
    args: dict[str, Any] = {}
    # What it shows depends on: a fix that changes any of these makes the observation stale (the status bar
    # depends on the phone and on the line's state in our systems; the settings screen only on the phone).
    about: list[Domain] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_source(self) -> "Observation":
        if (self.customer_step is None) == (self.tool is None):
            raise ValueError(f"observation {self.id!r} needs exactly one of customer_step, tool")
        return self


class Evidence(_Data):
    observe: str  # an observation id
    when: When  # over the observation's result


class Action(_Data):
    """One move of a fix: a customer step, a tool, a consent question, or something the customer is told."""

    customer_step: str | None = None
    tool: str | None = None
    args: dict[str, Any] = {}
    ask: str | None = None  # a slot name: a question the customer must answer (accept an offer, say how much)
    question: str | None = None
    expect: Literal["yes_no", "number", "amount"] = "yes_no"
    inform: str | None = None
    message: str | None = None
    # The result must meet this for the fix to go on (an ask: a truthy answer); otherwise the fix ends as `unmet`.
    require: When | None = None
    unmet: Literal["declined", "failed"] = "failed"
    refused: "Stop | None" = None  # told when a tool refuses (a policy limit); {vars.last_error.message} is there

    @model_validator(mode="after")
    def _one_move(self) -> "Action":
        moves = [self.customer_step, self.tool, self.ask, self.inform]
        if sum(m is not None for m in moves) != 1:
            raise ValueError("a fix action needs exactly one of customer_step, tool, ask, inform")
        if self.ask is not None and not self.question:
            raise ValueError(f"fix action asks {self.ask!r} without a question")
        return self


class Person(_Data):
    queue: str
    reason: str


class Stop(_Data):
    """Tell the customer and stop: nothing we or they can do helps now (an outage being repaired)."""

    inform: str
    message: str


class Cause(_Data):
    id: str
    goal: str
    evidence: list[Evidence] = Field(min_length=1)  # all must hold
    inform: str | None = None  # told when the cause is found, before its fix (or before a person takes over)
    message: str | None = None
    fix: list[Action] = []
    person: Person | None = None
    stop: Stop | None = None
    declined: Stop | None = None  # told when the customer turns the fix down

    @model_validator(mode="after")
    def _one_remedy(self) -> "Cause":
        if sum([bool(self.fix), self.person is not None, self.stop is not None]) != 1:
            raise ValueError(f"cause {self.id!r} needs exactly one of fix, person, stop")
        return self


class Goal(_Data):
    id: str
    needs: list[str] = []  # goals that must hold first (MMS needs data, data needs service)
    test: Evidence  # holds when the goal is met
    otherwise: Person  # the goal fails and no known cause explains it


class Catalogue(_Data):
    observations: list[Observation]
    goals: list[Goal]
    causes: list[Cause]

    @model_validator(mode="after")
    def _references(self) -> "Catalogue":
        looks, goals = {o.id for o in self.observations}, {g.id for g in self.goals}
        for g in self.goals:
            if g.test.observe not in looks or not set(g.needs) <= goals:
                raise ValueError(f"goal {g.id!r} names an unknown observation or goal")
        for c in self.causes:
            if c.goal not in goals or any(e.observe not in looks for e in c.evidence):
                raise ValueError(f"cause {c.id!r} names an unknown goal or observation")
        return self

    def observation(self, obs_id: str) -> Observation:
        return next(o for o in self.observations if o.id == obs_id)

    def goal(self, goal_id: str) -> Goal:
        return next(g for g in self.goals if g.id == goal_id)

    def cause(self, cause_id: str) -> Cause:
        return next(c for c in self.causes if c.id == cause_id)

    def notices(self) -> set[str]:
        """Every notice the loop can record as told to the customer."""
        told: set[str] = set()
        for c in self.causes:
            told |= {n for n in (c.inform, c.stop and c.stop.inform, c.declined and c.declined.inform) if n}
            told |= {n for a in c.fix for n in (a.inform, a.refused and a.refused.inform) if n}
        return told

    def chain(self, goal_id: str) -> list[Goal]:
        """The goal and everything it needs, prerequisites first."""
        order: list[Goal] = []

        def visit(gid: str) -> None:
            goal = self.goal(gid)
            for need in goal.needs:
                visit(need)
            if goal not in order:
                order.append(goal)

        visit(goal_id)
        return order


Action.model_rebuild()


@lru_cache(maxsize=4)
def load_catalogue(path: str | Path | None = None) -> Catalogue:
    return Catalogue.model_validate(yaml.safe_load(Path(path or DIAGNOSIS_FILE).read_text()))


# ---- the loop's state (kept in the run, so it survives between turns) ----------------------------------------
class Seen(BaseModel):
    value: Any
    at: dict[str, int]  # the generations of the observation's domains when it was taken


class Fixing(BaseModel):
    cause: str
    index: int = 0  # the next action of the fix


class LoopState(BaseModel):
    generation: dict[str, int] = {}  # domain -> how many changes so far
    seen: dict[str, Seen] = {}
    causes: dict[str, Literal["fixed", "failed", "declined"]] = {}
    fixing: Fixing | None = None

    def _now(self, cat: Catalogue, obs_id: str) -> dict[str, int]:
        return {d: self.generation.get(d, 0) for d in cat.observation(obs_id).about}

    def fresh(self, cat: Catalogue, obs_id: str) -> Seen | None:
        seen = self.seen.get(obs_id)
        return seen if seen is not None and seen.at == self._now(cat, obs_id) else None

    def record(self, cat: Catalogue, obs_id: str, value: Any) -> None:
        self.seen[obs_id] = Seen(value=value, at=self._now(cat, obs_id))

    def changed(self, domain: str) -> None:
        self.generation[domain] = self.generation.get(domain, 0) + 1


# ---- moves --------------------------------------------------------------------------------------------------
class Look(BaseModel):
    kind: Literal["look"] = "look"
    observation: str


class Act(BaseModel):
    kind: Literal["act"] = "act"
    cause: str
    index: int


class Finish(BaseModel):
    kind: Literal["finish"] = "finish"
    outcome: Literal["passed", "person", "stopped", "declined"]
    goal: str
    cause: str | None = None
    queue: str | None = None
    reason: str | None = None
    # A person is needed because of what was found (a PUK lock, an ended contract), not because the flow gave up.
    called_for: bool = False


Move = Look | Act | Finish


def _verdict(cat: Catalogue, loop: LoopState, ev: Evidence) -> bool | str:
    """True/False when the evidence can be judged now; else the id of the observation still to take."""
    seen = loop.fresh(cat, ev.observe)
    if seen is None:
        return ev.observe
    return holds(ev.when, {"result": seen.value})


def _present(cat: Catalogue, loop: LoopState, cause: Cause) -> bool | str:
    """Whether the cause is present; judged on fresh observations first, so nothing is asked that one already
    rules out."""
    missing: list[str] = []
    for ev in cause.evidence:
        verdict = _verdict(cat, loop, ev)
        if verdict is False:
            return False
        if isinstance(verdict, str):
            missing.append(verdict)
    return missing[0] if missing else True


def next_move(cat: Catalogue, target: str, loop: LoopState) -> Move:
    if loop.fixing is not None:
        return Act(cause=loop.fixing.cause, index=loop.fixing.index)
    goal = cat.goal(target)
    verdict = _verdict(cat, loop, goal.test)
    if isinstance(verdict, str):
        return Look(observation=verdict)  # the customer's own test first: often it already works
    if verdict:
        return Finish(outcome="passed", goal=target)
    for g in cat.chain(target):
        met = _verdict(cat, loop, g.test) if g.id != target else False
        if isinstance(met, str):
            return Look(observation=met)
        if met:
            continue
        for cause in (c for c in cat.causes if c.goal == g.id):
            status = loop.causes.get(cause.id)
            if status == "failed":
                continue
            present = _present(cat, loop, cause)
            if isinstance(present, str):
                return Look(observation=present)
            if not present:
                continue
            if status == "declined":
                return Finish(outcome="declined", goal=g.id, cause=cause.id)  # the customer's choice stands
            if status == "fixed":
                loop.causes[cause.id] = "failed"  # fixed once and back (or never gone): not ours to fix
                continue
            if cause.stop is not None:
                return Finish(outcome="stopped", goal=g.id, cause=cause.id)
            if cause.person is not None:
                return Finish(outcome="person", goal=g.id, cause=cause.id, queue=cause.person.queue,
                              reason=cause.person.reason, called_for=True)
            return Act(cause=cause.id, index=-1)  # -1: tell the customer what was found, then the fix
        # The goal fails and no known cause explains it: what remains needs a person (a technician, the network
        # team), which is the correct end of the diagnosis, not a failure of the flow.
        return Finish(outcome="person", goal=g.id, queue=g.otherwise.queue, reason=g.otherwise.reason,
                      called_for=True)
    raise AssertionError("unreachable: the target goal is the last link of its own chain")

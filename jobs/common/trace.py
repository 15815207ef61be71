"""Replaying an episode's recorded steps through the playbook version that produced it, to find where it went
wrong: the last step before the run entered its escalation tail (the steps that lead to a hand-over with nothing
left for the customer to try).

A `diagnose` step is one step of the replay: the closed loop's own looks and fixes are its inner workings (the
catalogue decides them, not the graph), and its result is how the loop ended (the episode's "diagnosis" step, a
Finish), which the step's branches read like any other result."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from telco.contract.episode import EpisodeStep
from telco.playbooks.diagnosis import Finish
from telco.playbooks.expressions import holds
from telco.playbooks.spec import Playbook, Step

ESCALATION_TOOLS = {"transfer_to_person", "open_ticket"}  # the tools that hand an issue to a person


class Edge(BaseModel):
    playbook: str
    step: str  # the step id
    via: str  # "next", "branch:<i>" or "on_error"
    target: str


class Trace(BaseModel):
    path: list[str]  # "playbook.step" in the order visited
    failure: Edge | None = None  # the edge into the escalation tail
    observation: Any = None  # what the failing step saw (its result)
    complete: bool = True  # False: the recorded steps stopped matching the playbook
    # When the failing step is a `diagnose` step: how its loop ended (the outcome, goal and cause the pattern names).
    finding: Finish | None = None
    # What the replay saved (save_as results, a loop's Finish), to read the end step's hand-over against: a closed
    # loop's hand-over says whether it was called for through {vars.diagnosis.called_for}.
    vars: dict[str, Any] = {}


def finding_label(finish: Finish) -> str:
    """How a loop ended, in a few words: "person (goal data, cause allowance_used_up)"."""
    about = f"goal {finish.goal}" + (f", cause {finish.cause}" if finish.cause else "")
    return f"{finish.outcome} ({about})"


def escalation_tail(book: Playbook) -> set[str]:
    """Steps from which the run ends escalated without asking or trying anything more."""
    tail = {s.id for s in book.steps if s.end == "escalated"}
    changed = True
    while changed:
        changed = False
        for s in book.steps:
            if s.id in tail:
                continue
            passive = s.inform is not None or (s.tool in ESCALATION_TOOLS)
            targets = [t for t in [s.next, s.on_error, *(b.goto for b in s.branches)] if t]
            if passive and targets and all(t in tail for t in targets):
                tail.add(s.id)
                changed = True
    return tail


def _edge(step: Step, ns: dict[str, Any]) -> tuple[str, str | None]:
    for i, b in enumerate(step.branches):
        if holds(b.when, ns):
            return f"branch:{i}", b.goto
    return "next", step.next


def trace(books: dict[str, Playbook], playbook: str, steps: list[EpisodeStep]) -> Trace:
    book = books[playbook]
    tail = escalation_tail(book)
    cur: str | None = book.start
    vars_: dict[str, Any] = {}
    slots: dict[str, Any] = {}
    i = 0
    out = Trace(path=[])
    last: tuple[Step, str, str, Any] | None = None
    for _ in range(300):
        if cur is None:
            break
        step = book.step(cur)
        out.path.append(f"{book.id}.{step.id}")
        if cur in tail and last is not None and out.failure is None:
            s, via, target, seen = last
            out.failure = Edge(playbook=book.id, step=s.id, via=via, target=target)
            out.observation = seen
            out.finding = Finish.model_validate(seen) if s.diagnose and isinstance(seen, dict) else None
        if step.end:
            break
        if step.continue_with:
            book = books[step.continue_with]
            tail, cur = escalation_tail(book), book.start
            continue
        if step.inform:
            if i < len(steps) and steps[i].kind == "inform" and steps[i].name == step.inform:
                i += 1
            via, nxt = _edge(step, {"scope": {}, "vars": vars_, "slots": slots, "result": None})
            last, cur = (step, via, nxt, None), nxt
            continue
        if step.diagnose:
            # The loop's looks and fixes up to its end; an episode that stops inside the loop (abandoned, or handed
            # over by a rule) has no end to branch on, like any step whose record is missing.
            end = next((j for j in range(i, len(steps))
                        if steps[j].kind == "diagnosis" and steps[j].name == step.diagnose), None)
            if end is None:
                out.complete = False
                break
            finish, i = steps[end].result, end + 1
            result = finish.model_dump() if isinstance(finish, Finish) else finish
            vars_[step.save_as or "diagnosis"] = result
            via, nxt = _edge(step, {"scope": {}, "vars": vars_, "slots": slots, "result": result})
            last, cur = (step, via, nxt, result), nxt
            continue
        wanted = step.tool or step.customer_step or step.ask
        if i >= len(steps) or steps[i].name != wanted:
            out.complete = False
            break
        rec = steps[i]
        i += 1
        result = rec.result
        if step.tool and rec.ok is False:
            vars_["last_error"] = result
            last, cur = (step, "on_error", step.on_error, result), step.on_error
            continue
        if step.ask:
            slots[step.ask] = result
        if step.save_as:
            vars_[step.save_as] = result
        via, nxt = _edge(step, {"scope": {}, "vars": vars_, "slots": slots, "result": result})
        last, cur = (step, via, nxt, result), nxt
    out.vars = vars_
    return out

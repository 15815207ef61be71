"""Episodes as runs of a playbook version: the version that ran each one, and for a run that did not end well, the
trace through that version and whether its hand-over was what the situation called for (then it is not a failure).

Shared by the failure report's two halves: the playbook patterns (jobs.playbooks.failures) and the prompt
guidelines (jobs.prompts.guideline_rules), so each run is traced once."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from actors.agents.escalation import called_for_rules
from telco.intents import load_intents
from telco.playbooks.spec import Playbook

from jobs.common.command import progress
from jobs.common.episodes import playbook_of, steps_of
from jobs.common.library import Library
from jobs.common.trace import Trace, trace

FAILED = ("escalated", "unresolved", "abandoned")


@dataclass
class Run:
    episode: dict[str, Any]
    playbook: str  # the playbook the issue started in
    version: int
    steps: list[dict[str, Any]]
    trace: Trace | None = None  # only for runs that ended in FAILED
    called_for: str | None = None  # why the hand-over was the right outcome

    @property
    def failed(self) -> bool:
        """Ended badly, and not with a hand-over the situation called for."""
        return self.episode["outcome"] in FAILED and self.called_for is None


def start_of(row: dict[str, Any], lib: Library) -> tuple[str | None, int | None]:
    """The playbook the issue started in (summary names the last one, after any continue_with)."""
    spec = load_intents().get(row.get("intent") or "")
    start = spec.playbook if spec else None
    name, version = playbook_of(row["summary"])
    if start is None:
        return name, version
    return start, version if name == start and version else lib.active.get(start)


def called_for(steps: list[dict[str, Any]], path: list[str], books: dict[str, Playbook],
               rules: frozenset[str]) -> str | None:
    """Why a hand-over was the right outcome, or None when it is a failure. The episode records the escalation
    rule that handed over (escalation.yaml marks the rules a situation calls for; an intent with no playbook is
    one only a person handles); a playbook's own hand-over is called for when its end step says so."""
    handoff = next((s.get("result") for s in reversed(steps) if s.get("kind") == "handoff"), None)
    rule = handoff.get("rule") if isinstance(handoff, dict) else None
    if rule in rules:
        return rule
    if isinstance(handoff, dict) and handoff.get("called_for"):
        return rule or "called_for"  # the flow said so when it handed over (a diagnosis only a person can act on)
    spec = load_intents().get((rule or "").removeprefix("intent_")) if (rule or "").startswith("intent_") else None
    if spec is not None and spec.playbook is None:
        return rule
    if path:
        playbook, step_id = path[-1].split(".", 1)
        end = books[playbook].step(step_id)
        if end.end == "escalated" and (end.handoff or {}).get("called_for") is True:
            return path[-1]
    return None


def runs_of(episodes: Iterable[dict[str, Any]], lib: Library, *, desc: str = "runs") -> list[Run]:
    """The episodes whose playbook version is known, each as a Run; those that ended in FAILED traced."""
    rules = called_for_rules()
    out = []
    for row in progress(episodes, desc=desc):
        name, version = start_of(row, lib)
        if not name or not version:
            continue
        run = Run(episode=row, playbook=name, version=version, steps=steps_of(row))
        if row["outcome"] in FAILED:
            books = lib.books(name, version)
            run.trace = trace(books, name, run.steps)
            if row["outcome"] == "escalated":
                run.called_for = called_for(run.steps, run.trace.path, books, rules)
        out.append(run)
    return out

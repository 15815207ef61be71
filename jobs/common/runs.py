"""Episodes as runs of a playbook version: the version that ran each one, and for a run that did not end well, the
trace through that version and whether its hand-over was what the situation called for (then it is not a failure).

Shared by the failure report's two halves: the playbook patterns (jobs.playbooks.failures) and the prompt
guidelines (jobs.prompts.guideline_rules), so each run is traced once."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from actors.agents.escalation import called_for_rules
from jobs.common.command import progress
from jobs.common.library import Library
from jobs.common.trace import Trace, trace
from telco.contract.episode import Episode
from telco.intents import load_intents
from telco.playbooks.expressions import render
from telco.playbooks.spec import Playbook

FAILED = ("escalated", "unresolved", "abandoned")


@dataclass
class Run:
    episode: Episode
    playbook: str  # the playbook the issue started in
    version: int
    trace: Trace | None = None  # only for runs that ended in FAILED
    called_for: str | None = None  # why the hand-over was the right outcome

    @property
    def failed(self) -> bool:
        """Ended badly, and not with a hand-over the situation called for."""
        return self.episode.outcome in FAILED and self.called_for is None


def start_of(episode: Episode, lib: Library) -> tuple[str | None, int | None]:
    """The playbook the issue started in and its version. The episode names the playbook its run ended in (after
    any continue_with): its version when that is the start, else the start's active version."""
    spec = load_intents().get(episode.intent or "")
    start = spec.playbook if spec else None
    if start is None:
        return episode.playbook, episode.playbook_version
    return start, episode.playbook_version if episode.playbook == start else lib.active.get(start)


def called_for(episode: Episode, path: list[str], books: dict[str, Playbook], rules: frozenset[str],
               seen: dict | None = None) -> str | None:
    """Why a hand-over was the right outcome, or None when it is a failure. The episode records the escalation
    rule that handed over (escalation.yaml marks the rules a situation calls for; an intent with no playbook is
    one only a person handles); a playbook's own hand-over is called for when its end step says so, read against
    what the replay saw (`seen`: its vars), so a closed loop's "{vars.diagnosis.called_for}" is its Finish's mark."""
    handoff = episode.handoff
    rule = handoff.rule if handoff else None
    if rule in rules:
        return rule
    if handoff and handoff.called_for:
        return rule or "called_for"  # the flow said so when it handed over (a diagnosis only a person can act on)
    spec = load_intents().get((rule or "").removeprefix("intent_")) if (rule or "").startswith("intent_") else None
    if spec is not None and spec.playbook is None:
        return rule
    if path:
        playbook, step_id = path[-1].split(".", 1)
        end = books[playbook].step(step_id)
        handoff = render(end.handoff or {}, {"scope": {}, "slots": {}, "vars": seen or {}})
        if end.end == "escalated" and handoff.get("called_for") in (True, "True", "true"):
            return path[-1]
    return None


def runs_of(episodes: Iterable[Episode], lib: Library, *, desc: str = "runs") -> list[Run]:
    """The episodes whose playbook version is known, each as a Run; those that ended in FAILED traced."""
    rules = called_for_rules()
    out = []
    for episode in progress(episodes, desc=desc):
        name, version = start_of(episode, lib)
        if not name or not version:
            continue
        run = Run(episode=episode, playbook=name, version=version)
        if episode.outcome in FAILED:
            books = lib.books(name, version)
            run.trace = trace(books, name, episode.steps)
            if episode.outcome == "escalated":
                run.called_for = called_for(episode, run.trace.path, books, rules, run.trace.vars)
        out.append(run)
    return out

"""What a resolved episode says about its intent, for the knowledge graph: the cause the customer was told about
(intent -caused_by-> cause) and the action that fixed it (intent -resolved_by-> fix)."""
from __future__ import annotations

from functools import lru_cache

from jobs.common.trace import ESCALATION_TOOLS
from telco.contract.episode import EpisodeStep
from telco.sandbox.customer_steps import list_customer_steps
from telco.tools import TOOLS


@lru_cache(maxsize=1)
def _changing_customer_steps() -> frozenset[str]:
    return frozenset(s.id for s in list_customer_steps() if s.ops)


@lru_cache(maxsize=1)
def _write_tools() -> frozenset[str]:
    return frozenset(n for n, t in TOOLS.items() if t.kind == "write")


def is_action(step: EpisodeStep) -> bool:
    """A step that changes the customer's world (a fix), as opposed to a look or a hand-over."""
    if step.name in ESCALATION_TOOLS or step.ok is False:
        return False
    if step.kind == "customer_step":
        return step.name in _changing_customer_steps()
    return step.kind == "tool" and step.name in _write_tools()


def fix_of(steps: list[EpisodeStep]) -> str | None:
    """The last action of a resolved episode: what fixed it."""
    for step in reversed(steps):
        if is_action(step):
            return step.name
    return None


def cause_of(steps: list[EpisodeStep]) -> str | None:
    """What the customer was told about the cause (an inform notice), when the playbook named it."""
    for step in steps:
        if step.kind == "inform":
            return step.name
    return None

"""The episode: one issue handled, as the planner and the handoff desk record it (actors.agents.episodes stores it
in episodic memory) and as the learning jobs read it back.

What the jobs need is a field, never prose: the playbook version that ran the issue, the prompt versions that
served its conversation, what was done (typed steps, in order) and why a person took over (the hand-over step's
Handoff). The summary is for people and for the similarity search only; nothing is parsed back out of it.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from telco.playbooks.diagnosis import Finish

Outcome = Literal["resolved", "escalated", "abandoned", "unresolved"]
StepKind = Literal["tool", "customer_step", "inform", "ask", "handoff", "note", "diagnosis"]
# The customer ids memory scopes every read on (memory.retrieval.require_customer checks the same rule).
CUSTOMER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
# Episodes written before the prompts field named the served prompt versions in a note step of this name.
LEGACY_PROMPTS_STEP = "served_prompts"


class Handoff(BaseModel):
    """Why a person took over: the escalation rule that handed the issue over ("playbook_handoff" when the flow
    itself ended with a person; none when the desk recorded it), the queue, the reason the customer was given, and
    whether the situation called for a person as the planner saw it when handing over (a called-for rule, or a
    diagnosis only a person can act on). The failure analysis also reads the rule and the playbook's end step
    against today's escalation.yaml and playbooks, so episodes recorded before a mark changed are judged anew."""

    model_config = ConfigDict(extra="forbid")
    rule: str | None = None
    queue: str | None = None
    reason: str | None = None
    called_for: bool = False


class EpisodeStep(BaseModel):
    """One thing done for the issue, in order: a tool call, a step the customer took, a notice given, a question
    asked, the hand-over to a person, a note, or how a closed-loop diagnosis ended. `result` is what the step saw
    (its error when `ok` is False); for the hand-over it is the Handoff; for a diagnosis (named by the goal its
    `diagnose` step worked towards) it is the loop's Finish: passed, person, stopped or declined, the goal and
    cause it ended on, and for a person the queue, the reason and whether what was found called for one."""

    model_config = ConfigDict(extra="forbid")
    name: str
    kind: StepKind
    result: Any = None
    ok: bool | None = None

    @model_validator(mode="after")
    def _typed_handoff(self) -> "EpisodeStep":
        if self.kind == "handoff" and not isinstance(self.result, Handoff):
            # Before the typed episode the handoff desk recorded the reason alone.
            self.result = (Handoff(reason=self.result) if isinstance(self.result, str) or self.result is None
                           else Handoff.model_validate(self.result))
        elif self.kind == "diagnosis" and not isinstance(self.result, Finish):
            self.result = Finish.model_validate(self.result)
        return self


class Episode(BaseModel):
    model_config = ConfigDict(extra="forbid")
    episode_id: str = Field(min_length=1)
    customer_id: str
    conversation_id: str | None = None
    channel: str = "chat"
    # Identifies "the same issue" across episodes (e.g. "broadband_drops:BB-0001") for follow-up chains.
    issue_key: str | None = None
    summary: str = Field(min_length=1)
    intents: list[str] = Field(default_factory=list)
    service_type: str | None = None
    # The playbook version the run ended in (after any continue_with); none when no playbook ran the issue.
    playbook: str | None = None
    playbook_version: int | None = Field(default=None, ge=1)
    # The registry prompt versions that served the conversation's model calls, e.g. "dialogue@2".
    prompts: list[str] = Field(default_factory=list)
    steps: list[EpisodeStep] = Field(default_factory=list)
    outcome: Outcome
    csat: int | None = Field(default=None, ge=1, le=5)
    started_at: datetime
    ended_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _prompts_from_legacy_note(cls, data: Any) -> Any:
        """An episode from before the prompts field (a stored row, or a replica of the previous release) still
        loads: its served-prompts note step becomes the field."""
        if not isinstance(data, dict) or not data.get("steps"):
            return data
        notes = [s for s in data["steps"] if _step_name(s) == LEGACY_PROMPTS_STEP and _step_kind(s) == "note"]
        if not notes:
            return data
        served = notes[0].get("result") if isinstance(notes[0], dict) else notes[0].result
        return {**data, "steps": [s for s in data["steps"] if not any(s is n for n in notes)],
                "prompts": data.get("prompts") or list(served or [])}

    @field_validator("customer_id")
    @classmethod
    def _customer(cls, v: str) -> str:
        if not CUSTOMER_ID.match(v):
            raise ValueError(f"customer_id is required to read customer memory and must be an id like "
                             f"'CUST-0001', got {v!r}")
        return v

    @field_validator("started_at", "ended_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("timestamps must carry a timezone (UTC)")
        return v

    @model_validator(mode="after")
    def _order(self) -> "Episode":
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        if (self.playbook is None) != (self.playbook_version is None):
            raise ValueError("playbook and playbook_version come together")
        return self

    @property
    def intent(self) -> str | None:
        return self.intents[0] if self.intents else None

    @property
    def handoff(self) -> Handoff | None:
        """Why a person took over (the last hand-over step), or None when nobody did."""
        return next((s.result for s in reversed(self.steps) if s.kind == "handoff"), None)

    @property
    def diagnosis(self) -> Finish | None:
        """How the last closed-loop diagnosis of the issue ended, or None when no `diagnose` step finished."""
        return next((s.result for s in reversed(self.steps) if s.kind == "diagnosis"), None)

    @property
    def resolution_minutes(self) -> float:
        return (self.ended_at - self.started_at).total_seconds() / 60


def _step_name(step: Any) -> Any:
    return step.get("name") if isinstance(step, dict) else getattr(step, "name", None)


def _step_kind(step: Any) -> Any:
    return step.get("kind") if isinstance(step, dict) else getattr(step, "kind", None)

"""The playbook language: troubleshooting and service flows as data, validated on load."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "truthy", "falsy", "empty", "nonempty"]


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    op: Op = "eq"
    value: Any = None


class When(BaseModel):
    """One condition, or all/any of several."""

    model_config = ConfigDict(extra="forbid")
    path: str | None = None
    op: Op = "eq"
    value: Any = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> "When":
        forms = [self.path is not None, self.all is not None, self.any is not None]
        if sum(forms) != 1:
            raise ValueError("a condition needs exactly one of: path, all, any")
        return self


class Branch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    when: When
    goto: str


class Step(BaseModel):
    """Exactly one action: call a tool, ask the customer to act or look, ask for information, tell, or end."""

    model_config = ConfigDict(extra="forbid")
    id: str
    tool: str | None = None
    args: dict[str, Any] = {}
    customer_step: str | None = None
    ask: str | None = None  # the name of the slot to fill, e.g. new_postcode
    question: str | None = None
    # What kind of answer the question wants, so a free-text reply can be read into a typed value.
    expect: Literal["text", "name", "date", "number", "amount", "postcode", "plan", "yes_no",
                    "full_name", "birth_date", "phone", "customer_id"] = "text"
    inform: str | None = None  # a notice id recorded in the outcome (what the customer was told)
    message: str | None = None  # template for the customer-facing sentence
    end: Literal["resolved", "escalated"] | None = None
    # Closed-loop diagnosis towards this goal of telco/data/diagnosis.yaml (telco/playbooks/diagnosis.py): the step
    # checks, fixes and re-tests until the goal holds or no known cause remains, then moves on with a result
    # whose `outcome` is passed, person, stopped or declined.
    diagnose: str | None = None
    # Hand the rest of the run to another playbook (same scope), so a procedure lives in exactly one flow.
    continue_with: str | None = None
    # queue and reason when ending escalated; called_for: true when the diagnosis itself needs a person (a correct
    # outcome, not a failure of the flow: jobs/failures.py)
    handoff: dict[str, Any] | None = None
    save_as: str | None = None
    # On a typed tool refusal (policy/not found) go here instead of failing the run.
    on_error: str | None = None
    branches: list[Branch] = []
    next: str | None = None

    @model_validator(mode="after")
    def _one_action(self) -> "Step":
        actions = [self.tool, self.customer_step, self.ask, self.inform, self.end, self.continue_with, self.diagnose]
        if sum(a is not None for a in actions) != 1:
            raise ValueError(f"step {self.id!r} needs exactly one of: tool, customer_step, ask, inform, end, "
                             "continue_with, diagnose")
        if self.ask is not None and not self.question:
            raise ValueError(f"step {self.id!r} asks for {self.ask!r} but has no question")
        if self.end is None and self.continue_with is None and self.next is None and not self.branches:
            raise ValueError(f"step {self.id!r} has nowhere to go: give it next, branches or end")
        return self


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    version: int = Field(ge=1)
    title: str
    description: str
    intents: list[str]
    service: Literal["mobile", "broadband", "account"]
    # False only for flows that establish identity themselves. True: the customer is verified before the flow starts.
    # "when_needed": the flow starts at once with what needs no account access (steps on the customer's own phone)
    # and asks for verification only when a step reads or changes the account.
    requires_identity: bool | Literal["when_needed"] = True
    steps: list[Step]

    @property
    def start(self) -> str:
        return self.steps[0].id

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    @model_validator(mode="after")
    def _targets_exist(self) -> "Playbook":
        ids = [s.id for s in self.steps]
        if len(ids) != len(set(ids)):
            raise ValueError(f"playbook {self.id!r} has duplicate step ids")
        known = set(ids)
        for s in self.steps:
            targets = [s.next, s.on_error, *(b.goto for b in s.branches)]
            for t in targets:
                if t is not None and t not in known:
                    raise ValueError(f"playbook {self.id!r}: step {s.id!r} points at unknown step {t!r}")
        if not any(s.end for s in self.steps):
            raise ValueError(f"playbook {self.id!r} never ends")
        return self

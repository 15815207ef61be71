"""The planner's structured decision: what the customer wants this turn and the one next action the model proposes.

The schema is the contract with the model (sent as the forced decision tool, validated by pydantic on the way
back): intents come from the catalogue only (an enum in the schema), and a proposed action names a tool or a
customer step that exists. Anything else is a schema violation, which gets one repair request and then the
offline brain. What the action may then do is decided by code (actors/planner/dispose.py), never by this model.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from telco.contract.messages import Entities, IntentResult, IntentScore, Signals
from telco.intents import intent_thresholds, load_intents
from telco.sandbox.customer_steps import list_customer_steps
from telco.tools import TOOLS

_INTENT_IDS = tuple(load_intents())
_STEP_IDS = frozenset(s.id for s in list_customer_steps())
IntentId = Literal[_INTENT_IDS]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


PlannedIntent = create_model(
    "PlannedIntent", __base__=_Strict,
    intent=(IntentId, Field(description="an intent id from the catalogue")),
    confidence=(float, Field(ge=0, le=1)),
    span=(str, Field(default="", description="the words of the message this intent was read from")),
)


class ProposedAction(_Strict):
    """The next action: follow_flow (the troubleshooting flow of the intent goes on: the usual answer), read or
    write (an operator tool, with its arguments), customer_step (a step only the customer can do), handoff (a
    person should take over)."""

    kind: Literal["follow_flow", "read", "write", "customer_step", "handoff"] = "follow_flow"
    name: str | None = Field(default=None, description="the tool name or customer step id, for those kinds")
    args: dict[str, Any] = {}
    queue: Literal["support", "billing", "retention", "technical", "complaints"] | None = None
    reason: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _exists(self) -> "ProposedAction":
        if self.kind in ("read", "write"):
            spec = TOOLS.get(self.name or "")
            if spec is None:
                raise ValueError(f"{self.name!r} is not a tool; tools: {', '.join(TOOLS)}")
            if spec.kind != self.kind:
                raise ValueError(f"{self.name} is a {spec.kind} tool, not a {self.kind}")
        if self.kind == "customer_step" and self.name not in _STEP_IDS:
            raise ValueError(f"{self.name!r} is not a customer step; steps: {', '.join(sorted(_STEP_IDS))}")
        return self


class TurnPlan(_Strict):
    """Record what the customer wants in this message (every distinct request, main one first, ids from the
    catalogue only), what they mentioned, how they feel, and the one next action you propose."""

    intents: list[PlannedIntent] = Field(default=[], max_length=4)  # type: ignore[valid-type]
    entities: Entities = Entities()
    signals: Signals = Signals()
    next_action: ProposedAction = ProposedAction()

    def as_intent_result(self) -> IntentResult:
        """The planner's view of the message, in the shape the offline intent agent returns."""
        scores = [IntentScore(intent=i.intent, confidence=i.confidence, span=i.span) for i in self.intents]
        # Below secondary_min a further intent is a runner-up reading, not something the customer asked for.
        secondary_min = intent_thresholds().secondary_min
        asked = scores[:1] + [s for s in scores[1:] if s.confidence >= secondary_min]
        runners_up = [s for s in scores[1:] if s.confidence < secondary_min]
        return IntentResult(intents=asked, entities=self.entities, signals=self.signals, mode="llm",
                            alternatives=runners_up)

"""The intent catalogue (telco/data/intents.yaml): what each intent means and which flow handles it."""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from telco.data import INTENTS_FILE


class IntentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    service: Literal["mobile", "broadband", "account"]
    playbook: str | None
    description: str
    examples: list[str]
    conflicts_with: list[str] = []
    handoff_queue: str | None = None
    kb_in_reply: bool = False
    kb_docs: list[str] = []  # knowledge-base document ids that usually answer this intent's questions


class IntentThresholds(BaseModel):
    """How sure a reading must be before the planner acts on it (the `thresholds` section of intents.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    clarify_below: float = Field(gt=0, le=1)
    clarify_options: int = Field(ge=2)  # a choice needs two
    unsure_below: float = Field(ge=0, le=1)
    secondary_min: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> "IntentThresholds":
        # A reading too weak to act on alone cannot be strong enough to skip the clarifying question.
        if self.unsure_below > self.clarify_below:
            raise ValueError(f"unsure_below ({self.unsure_below}) must not exceed clarify_below ({self.clarify_below})")
        return self


@lru_cache(maxsize=1)
def _catalogue_file() -> dict:
    return yaml.safe_load(INTENTS_FILE.read_text())


@lru_cache(maxsize=1)
def load_intents() -> dict[str, IntentSpec]:
    specs = [IntentSpec.model_validate(item) for item in _catalogue_file()["intents"]]
    return {s.id: s for s in specs}


@lru_cache(maxsize=1)
def intent_thresholds() -> IntentThresholds:
    return IntentThresholds.model_validate(_catalogue_file()["thresholds"])


def conflicting_pair(intents: list[str]) -> tuple[str, str] | None:
    """The first two intents that cannot both be acted on without a person deciding (checked both ways)."""
    catalogue = load_intents()
    for i, a in enumerate(intents):
        for b in intents[i + 1:]:
            if b in catalogue[a].conflicts_with or a in catalogue[b].conflicts_with:
                return a, b
    return None

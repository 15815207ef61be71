"""The intent catalogue (telco/data/intents.yaml): what each intent means and which flow handles it."""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict
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


@lru_cache(maxsize=1)
def load_intents() -> dict[str, IntentSpec]:
    raw = yaml.safe_load(INTENTS_FILE.read_text())["intents"]
    specs = [IntentSpec.model_validate(item) for item in raw]
    return {s.id: s for s in specs}


def conflicting_pair(intents: list[str]) -> tuple[str, str] | None:
    """The first two intents that cannot both be acted on without a person deciding (checked both ways)."""
    catalogue = load_intents()
    for i, a in enumerate(intents):
        for b in intents[i + 1:]:
            if b in catalogue[a].conflicts_with or a in catalogue[b].conflicts_with:
                return a, b
    return None

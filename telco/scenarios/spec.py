"""A scenario: a world, injected faults, what the customer says and does, and the end state to reach."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from telco.data import SCENARIOS_DIR

SCENARIO_DIR = SCENARIOS_DIR


class GeneratedWorld(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int
    customers: int = Field(ge=1, le=5000)


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    service_id: str | None = None
    customer_id: str | None = None  # defaults to the scenario's customer (area faults may name another)
    params: dict[str, Any] = {}


class Identity(BaseModel):
    """What the customer answers when asked who they are (may be wrong on purpose). A detail left None is one the
    customer does not know: asked for it, they say so ("knows name and phone, not the date of birth")."""

    model_config = ConfigDict(extra="forbid")
    full_name: str | None
    date_of_birth: date | None = None
    phone: str | None = None  # the number they give: a line on the account or the account's contact number
    customer_id: str | None = None  # the customer number on their bills, when they know it


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    family: str
    title: str
    source: bool = False  # one of the scenarios named in the product brief
    world: Literal["demo"] | GeneratedWorld = "demo"
    customer_id: str | None  # None: the person is not a customer we can find
    identity: Identity
    service_id: str | None = None
    # Where the customer is (telco/data/sandbox/faults.yaml contexts), set before the faults; None: as the world has it.
    context: Literal["home", "abroad"] | None = None
    faults: list[FaultSpec] = []
    message: str
    intents: list[str] = Field(min_length=1)
    answers: dict[str, Any] = {}
    accepts_offers: bool = True  # what the customer says to an offer (accept_* questions) not named in answers
    expect: dict[str, Any] = Field(min_length=1)
    notes: str = ""


def load_scenarios(directory: str | Path | None = None) -> list[Scenario]:
    paths = sorted(Path(directory or SCENARIO_DIR).glob("*.yaml"))
    scenarios: list[Scenario] = []
    for p in paths:
        raw = yaml.safe_load(p.read_text())
        for item in raw if isinstance(raw, list) else [raw]:
            scenarios.append(Scenario.model_validate(item))
    ids = [s.id for s in scenarios]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"duplicate scenario ids: {sorted(dupes)}")
    return scenarios

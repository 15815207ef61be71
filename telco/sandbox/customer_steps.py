"""Customer steps: actions and checks only the customer can do, from data/customer_steps.yaml.

A step changes state through the same recipe interpreter as faults (ops.py), then reports the observation
the customer would read back, computed by observe/.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

from telco.data import CUSTOMER_STEPS_FILE
from telco.errors import InvalidInput
from telco.sandbox.observe import OBSERVERS
from telco.sandbox.ops import Op, check_recipe, coerce_params, run_recipe
from telco.sandbox.state import Sandbox

STEPS_FILE = CUSTOMER_STEPS_FILE

# Step target -> (recipe target, the kind of id its observation takes).
_TARGETS: dict[str, tuple[str, str]] = {
    "phone": ("phone", "line"),
    "router": ("router", "broadband"),
    "account": ("customer", "customer"),
}


class CustomerStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    instruction: str
    target: Literal["phone", "router", "account"]
    params: dict[str, Any] = {}
    choices: dict[str, list[Any]] = {}
    ops: list[Op] = []
    observe: str

    @model_validator(mode="after")
    def _recipe_is_sound(self) -> "CustomerStep":
        recipe_target, subject = _TARGETS[self.target]
        check_recipe(f"customer step {self.id!r}", recipe_target, self.params, self.ops, self.choices)
        if self.observe not in OBSERVERS:
            raise ValueError(f"customer step {self.id!r}: unknown observation {self.observe!r}")
        if OBSERVERS[self.observe][1] != subject:
            raise ValueError(f"customer step {self.id!r}: {self.observe} cannot be read from the {self.target}")
        return self


class _Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: list[CustomerStep]

    @model_validator(mode="after")
    def _unique(self) -> "_Catalogue":
        ids = [s.id for s in self.steps]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate customer step ids: {dupes}")
        return self


def load_customer_steps(path: str | Path = STEPS_FILE) -> dict[str, CustomerStep]:
    raw = yaml.safe_load(Path(path).read_text())
    return {s.id: s for s in _Catalogue.model_validate(raw).steps}


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, CustomerStep]:
    return load_customer_steps()


def list_customer_steps() -> list[CustomerStep]:
    return list(_catalogue().values())


def get_customer_step(step_id: str) -> CustomerStep:
    try:
        return _catalogue()[step_id]
    except KeyError:
        raise InvalidInput(
            f"unknown customer step {step_id!r}; known steps: {', '.join(sorted(_catalogue()))}"
        ) from None


def apply_customer_step(sb: Sandbox, step_id: str, customer_id: str, service_id: str | None = None,
                        **params: Any) -> dict[str, Any]:
    """Do what the step asks on the customer's side and return what they see afterwards, plus "step_id"."""
    step = get_customer_step(step_id)
    label = f"customer step {step_id!r}"
    recipe_target, subject = _TARGETS[step.target]
    values = coerce_params(label, step.params, step.choices, params)
    run = run_recipe(sb, label, recipe_target, step.ops, customer_id, service_id, values)
    observe, _ = OBSERVERS[step.observe]
    subject_id = {"line": lambda: run.get("line").id, "broadband": lambda: run.get("broadband").id,
                  "customer": lambda: customer_id}[subject]()
    observed = observe(sb, subject_id)
    return {"step_id": step_id, **observed.model_dump(mode="json")}

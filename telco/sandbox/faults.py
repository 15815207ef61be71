"""Fault injection: the catalogue in data/faults.yaml, applied by the recipe interpreter in ops.py."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

from telco.errors import InvalidInput
from telco.sandbox.ops import Op, check_recipe, coerce_params, run_recipe
from telco.sandbox.state import Sandbox
from telco.data import FAULTS_FILE


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    family: Literal["mobile", "broadband", "billing", "network"]
    description: str
    target: str
    params: dict[str, Any] = {}
    choices: dict[str, list[Any]] = {}
    requires: dict[str, list[Any]] = {}
    ops: list[Op]

    @model_validator(mode="after")
    def _recipe_is_sound(self) -> "FaultSpec":
        check_recipe(f"fault {self.name!r}", self.target, self.params, self.ops, self.choices, self.requires)
        return self


class _Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    faults: list[FaultSpec]

    @model_validator(mode="after")
    def _unique(self) -> "_Catalogue":
        names = [f.name for f in self.faults]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate fault names: {dupes}")
        return self


def load_faults(path: str | Path = FAULTS_FILE) -> dict[str, FaultSpec]:
    """Parse and check a fault catalogue file; a broken catalogue fails here, not in the middle of a scenario."""
    raw = yaml.safe_load(Path(path).read_text())
    return {f.name: f for f in _Catalogue.model_validate(raw).faults}


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, FaultSpec]:
    return load_faults()


def list_faults() -> list[FaultSpec]:
    return list(_catalogue().values())


def get_fault(name: str) -> FaultSpec:
    try:
        return _catalogue()[name]
    except KeyError:
        raise InvalidInput(f"unknown fault {name!r}; known faults: {', '.join(sorted(_catalogue()))}") from None


def inject_fault(sb: Sandbox, name: str, customer_id: str, service_id: str | None = None, **params: Any) -> None:
    """Break one customer's world in the way the named fault describes; nothing changes if it cannot apply."""
    spec = get_fault(name)
    label = f"fault {name!r}"
    values = coerce_params(label, spec.params, spec.choices, params)
    run_recipe(sb, label, spec.target, spec.ops, customer_id, service_id, values, spec.requires)

"""Fault injection: the catalogue in data/faults.yaml, applied by the recipe interpreter in ops.py.

Besides its recipe, every fault carries, as data, what a scenario generator needs to reason about it:
- breaks:   the end-to-end tests (telco/sandbox/endtoend.py) it fails on an otherwise healthy customer;
- fixed_by: the actions that undo it, in order: customer steps, policy-checked agent tools, or a person (or, for
            the network, waiting for it to come back);
- slot / excludes / context: which faults cannot be in one world together. Faults sharing a slot set the same
            thing in different ways; excludes names faults that contradict this one; a context (home, abroad) is
            where the customer must be, and faults needing different contexts cannot meet.
Faults that may coexist commute: applied in any order they give the same world (tests/telco/test_fault_composition.py).
"""
from __future__ import annotations

from functools import lru_cache
from itertools import combinations
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

from telco.data import FAULTS_FILE
from telco.errors import InvalidInput
from telco.models import Phone
from telco.sandbox.customer_steps import list_customer_steps
from telco.sandbox.endtoend import ALL_TESTS, EndToEnd
from telco.sandbox.ops import Op, Requires, Run, check_recipe, coerce_params, run_recipe
from telco.sandbox.state import Sandbox

ContextName = Literal["home", "abroad"]
FixKind = Literal["customer_step", "tool", "person", "wait"]

# Whether a customer's phone is already in a context; when it is not, the context's recipe puts it there.
CONTEXT_HOLDS: dict[str, Callable[[Phone], bool]] = {
    "home": lambda phone: phone.abroad_country is None,
    "abroad": lambda phone: phone.abroad_country is not None,
}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FixAction(_Frozen):
    """One action toward undoing a fault; exactly one of customer_step, tool, person, wait."""

    customer_step: str | None = None  # a step id from customer_steps.yaml
    tool: str | None = None  # an agent tool; the conversation's scope supplies customer and line ids
    args: dict[str, Any] = {}  # the tool's other arguments
    consent: str | None = None  # what the customer agrees to before the tool runs (a price, a payment)
    person: str | None = None  # why only a person can do it: who, and what they do
    wait: str | None = None  # nothing to do on this side: it ends on its own or the network team ends it

    @model_validator(mode="after")
    def _one_kind(self) -> "FixAction":
        kinds = [k for k in ("customer_step", "tool", "person", "wait") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a fix action needs exactly one of customer_step/tool/person/wait, got {kinds or 'none'}")
        if self.tool is None and (self.args or self.consent is not None):
            raise ValueError("args and consent belong to a tool action")
        return self

    @property
    def kind(self) -> FixKind:
        return next(k for k in ("customer_step", "tool", "person", "wait") if getattr(self, k) is not None)


class ContextSpec(_Frozen):
    """Where the customer is; applied before a fault that needs it, unless the customer is there already."""

    description: str
    target: str
    params: dict[str, Any] = {}
    ops: list[Op] = []

    def check(self, name: str) -> None:
        check_recipe(f"context {name!r}", self.target, self.params, self.ops)


class FaultSpec(_Frozen):
    name: str
    family: Literal["mobile", "broadband", "billing", "network"]
    description: str
    target: str
    params: dict[str, Any] = {}
    choices: dict[str, list[Any]] = {}
    requires: Requires = {}
    ops: list[Op]
    breaks: list[EndToEnd]
    fixed_by: list[FixAction]
    slot: str | None = None
    excludes: list[str] = []
    context: ContextName | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_fix_is_a_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("fixed_by"), dict):
            data = {**data, "fixed_by": [data["fixed_by"]]}
        return data

    @model_validator(mode="after")
    def _recipe_is_sound(self) -> "FaultSpec":
        check_recipe(f"fault {self.name!r}", self.target, self.params, self.ops, self.choices, self.requires)
        if not self.breaks:
            raise ValueError(f"fault {self.name!r} breaks no end-to-end test")
        if not self.fixed_by:
            raise ValueError(f"fault {self.name!r} has no fix")
        ending = [a.kind for a in self.fixed_by if a.kind in ("person", "wait")]
        if ending and len(self.fixed_by) > 1:
            raise ValueError(f"fault {self.name!r}: a person or a wait is the whole fix, not one step of it")
        return self

    @property
    def fix_kind(self) -> FixKind:
        """How the fault is undone: by the customer, by an agent tool (perhaps with customer steps), a person, or time."""
        kinds = {a.kind for a in self.fixed_by}
        for kind in ("person", "wait", "tool"):
            if kind in kinds:
                return kind  # type: ignore[return-value]
        return "customer_step"

    @property
    def needs_person(self) -> bool:
        return self.fix_kind == "person"


class _Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contexts: dict[ContextName, ContextSpec] = {}
    faults: list[FaultSpec]

    @model_validator(mode="after")
    def _consistent(self) -> "_Catalogue":
        names = [f.name for f in self.faults]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate fault names: {dupes}")
        for name, context in self.contexts.items():
            context.check(name)
        steps = {s.id for s in list_customer_steps()}
        known = set(names)
        for f in self.faults:
            unknown = sorted(set(f.excludes) - known)
            if unknown or f.name in f.excludes:
                raise ValueError(f"fault {f.name!r} excludes unknown faults or itself: {unknown or [f.name]}")
            if f.context is not None and f.context not in self.contexts:
                raise ValueError(f"fault {f.name!r} needs context {f.context!r}, which the catalogue does not define")
            for action in f.fixed_by:
                if action.customer_step is not None and action.customer_step not in steps:
                    raise ValueError(f"fault {f.name!r} is fixed by unknown customer step {action.customer_step!r}")
        return self


def _load(path: str | Path) -> _Catalogue:
    return _Catalogue.model_validate(yaml.safe_load(Path(path).read_text()))


def load_faults(path: str | Path = FAULTS_FILE) -> dict[str, FaultSpec]:
    """Parse and check a fault catalogue file; a broken catalogue fails here, not in the middle of a scenario."""
    return {f.name: f for f in _load(path).faults}


@lru_cache(maxsize=1)
def _default() -> _Catalogue:
    return _load(FAULTS_FILE)


def _catalogue() -> dict[str, FaultSpec]:
    return {f.name: f for f in _default().faults}


def list_faults() -> list[FaultSpec]:
    return list(_default().faults)


def list_contexts() -> dict[str, ContextSpec]:
    return dict(_default().contexts)


def get_fault(name: str) -> FaultSpec:
    for fault in _default().faults:
        if fault.name == name:
            return fault
    raise InvalidInput(f"unknown fault {name!r}; known faults: {', '.join(sorted(_catalogue()))}")


# ---- which faults can meet in one world ------------------------------------------------------------------

def conflict(a: FaultSpec, b: FaultSpec) -> str | None:
    """Why two faults cannot be in one world together, or None when they can."""
    if a.name == b.name:
        return "the same fault twice"
    if a.slot is not None and a.slot == b.slot:
        return f"both set {a.slot}"
    if b.name in a.excludes or a.name in b.excludes:
        return "they contradict each other"
    if a.context is not None and b.context is not None and a.context != b.context:
        return f"one needs the customer {a.context}, the other {b.context}"
    return None


def compatible(names: Iterable[str]) -> bool:
    specs = [get_fault(n) for n in names]
    return all(conflict(a, b) is None for a, b in combinations(specs, 2))


def mobile_faults() -> list[FaultSpec]:
    """Faults that break something on a mobile line (whatever their family), the pool compound scenarios draw from."""
    mobile = {"service", "data", "data_speed", "mms"}
    return [f for f in list_faults() if mobile & set(f.breaks)]


def valid_subsets(faults: Iterable[FaultSpec], sizes: Iterable[int]) -> Iterator[tuple[FaultSpec, ...]]:
    """Every set of mutually compatible faults of the given sizes, in a stable order (catalogue order)."""
    pool = list(faults)
    for size in sizes:
        for combo in combinations(pool, size):
            if all(conflict(a, b) is None for a, b in combinations(combo, 2)):
                yield combo


# ---- applying ----------------------------------------------------------------------------------------------

def _context_ops(sb: Sandbox, spec_context: ContextName | None, label: str, customer_id: str,
                 service_id: str | None, params: dict[str, Any]) -> tuple[list[Op], dict[str, Any]]:
    """The context's ops (targets made explicit) and parameters, or nothing when the customer is there already."""
    if spec_context is None:
        return [], {}
    context = _default().contexts[spec_context]
    phone = Run(sb, label, customer_id, service_id, {}).get("phone")
    if CONTEXT_HOLDS[spec_context](phone):
        return [], {}
    values = {name: params.get(name, default) for name, default in context.params.items()}
    return [op if op.create is not None else op.model_copy(update={"target": op.target or context.target})
            for op in context.ops], values


def apply_context(sb: Sandbox, name: ContextName, customer_id: str, service_id: str | None = None,
                  **params: Any) -> None:
    """Put a customer in a context (abroad in a country, or back home) unless they are there already."""
    if name not in _default().contexts:
        raise InvalidInput(f"unknown context {name!r}; known contexts: {', '.join(sorted(_default().contexts))}")
    context = _default().contexts[name]
    label = f"context {name!r}"
    values = coerce_params(label, context.params, {}, params)
    ops, values = _context_ops(sb, name, label, customer_id, service_id, values)
    if ops:
        run_recipe(sb, label, context.target, ops, customer_id, service_id, values)


def inject_fault(sb: Sandbox, name: str, customer_id: str, service_id: str | None = None, **params: Any) -> None:
    """Break one customer's world in the way the named fault describes; nothing changes if it cannot apply.

    A fault that needs a context (the customer abroad, or at home) first puts the customer there, in the same
    all-or-nothing run, unless they are there already.
    """
    spec = get_fault(name)
    label = f"fault {name!r}"
    values = coerce_params(label, spec.params, spec.choices, params)
    context_ops, context_values = _context_ops(sb, spec.context, label, customer_id, service_id, values)
    run_recipe(sb, label, spec.target, [*context_ops, *spec.ops], customer_id, service_id,
               {**context_values, **values}, spec.requires)


def fault_applies(sb: Sandbox, name: str, customer_id: str, service_id: str | None = None, **params: Any) -> bool:
    """Whether the fault fits this customer (their services, plan, area), tried on a copy of the world."""
    probe = Sandbox(sb.world.model_copy(deep=True))
    try:
        inject_fault(probe, name, customer_id, service_id, **params)
    except InvalidInput:
        return False
    return True


__all__ = [
    "ALL_TESTS", "CONTEXT_HOLDS", "ContextSpec", "FaultSpec", "FixAction", "apply_context", "compatible", "conflict",
    "fault_applies", "get_fault", "inject_fault", "list_contexts", "list_faults", "load_faults", "mobile_faults",
    "valid_subsets",
]

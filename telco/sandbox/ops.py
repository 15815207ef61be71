"""The one interpreter behind faults and customer steps: a recipe of ops applied to a customer's equipment.

A recipe is data (YAML). Each op either sets fields on a resolved target, appends to or removes from a list
field, or creates a new record in a World table. Values may be expressions:

    $<param>              a recipe parameter, with its type
    $<target>.<path>      a field of a resolved target (list items by index: $bill.items.0.amount)
    $clock, $clock-12m    the world clock, shifted by minutes (m), hours (h) or days (d)
    $today, $today-30d    the clock's date, shifted by days
    $new_id:PREFIX        a fresh deterministic id
    $operator.apn|mmsc_url|dns   the operator's correct settings
    "text {param}"        string interpolation of parameters (done before any $ expression is read)

Targets are resolved lazily from (customer_id, service_id), so a mobile recipe never needs broadband.
A run is all-or-nothing: ops work on copies that replace the originals only after every op succeeded.
"""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from telco.errors import InvalidInput
from telco.models import (
    OPERATOR_APN,
    OPERATOR_DNS,
    OPERATOR_MMSC,
    AccessNode,
    Area,
    Bill,
    BroadbandPlan,
    BroadbandService,
    Credit,
    Customer,
    Maintenance,
    MobileLine,
    MobilePlan,
    Outage,
    PaymentRequest,
    Phone,
    Promotion,
    Router,
    Ticket,
)
from telco.sandbox.observe import open_payment_request
from telco.sandbox.state import Sandbox

# Target name -> the model it resolves to (used to check recipes when the catalogue loads).
TARGET_MODELS: dict[str, type[BaseModel]] = {
    "customer": Customer,
    "line": MobileLine,
    "phone": Phone,
    "line_plan": MobilePlan,
    "broadband": BroadbandService,
    "router": Router,
    "node": AccessNode,
    "broadband_plan": BroadbandPlan,
    "bill": Bill,
    "open_bill": Bill,
    "area": Area,
    "mobile_area": Area,
    "payment_request": PaymentRequest,
    "request_bill": Bill,
}

# World tables a recipe may add records to, with the id prefix of new records.
CREATABLE: dict[str, tuple[str, type[BaseModel]]] = {
    "outages": ("OUT", Outage),
    "maintenance": ("MNT", Maintenance),
    "promotions": ("PROMO", Promotion),
    "bills": ("BILL", Bill),
    "credits": ("CR", Credit),
    "tickets": ("TKT", Ticket),
}

OPERATOR = {"apn": OPERATOR_APN, "mmsc_url": OPERATOR_MMSC, "dns": list(OPERATOR_DNS)}

_TIME = re.compile(r"^\$(clock|today)(?:([+-])(\d+(?:\.\d+)?)([mhd]))?$")
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 1440}
_PARAM_REF = re.compile(r"\{(\w+)\}")
_OPEN_BILL_STATUSES = ("issued", "awaiting_payment", "overdue")


class ListRule(BaseModel):
    """A requirement on a list-valued field: it must hold one value, or must not (e.g. an area's radio lacks 2G)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    has: Any = None
    lacks: Any = None

    @model_validator(mode="after")
    def _one(self) -> "ListRule":
        if (self.has is None) == (self.lacks is None):
            raise ValueError("a list requirement takes exactly one of 'has' or 'lacks'")
        return self

    def holds(self, actual: Any) -> bool:
        return self.has in actual if self.has is not None else self.lacks not in actual

    def describe(self) -> str:
        return f"to include {self.has!r}" if self.has is not None else f"not to include {self.lacks!r}"


# target field -> the values a recipe is meant for, or a rule on a list field.
Requires = dict[str, list[Any] | ListRule]


class Op(BaseModel):
    """One step of a recipe; exactly one of set / append / remove / create."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    target: str | None = None  # the object to act on; defaults to the recipe's target
    when: dict[str, Any] | None = None  # apply only if these fields of the target currently have these values
    set_: dict[str, Any] | None = Field(default=None, alias="set")
    append: dict[str, list[Any]] | None = None
    remove: dict[str, list[Any]] | None = None
    create: str | None = None  # a World table from CREATABLE
    fields: dict[str, Any] | None = None  # the new record's fields (with create)

    @model_validator(mode="after")
    def _one_action(self) -> "Op":
        actions = [a for a in ("set_", "append", "remove", "create") if getattr(self, a) is not None]
        if len(actions) != 1:
            raise ValueError(f"an op needs exactly one of set/append/remove/create, got {actions or 'none'}")
        if self.create is not None:
            if self.create not in CREATABLE:
                raise ValueError(f"cannot create records in {self.create!r}; allowed: {sorted(CREATABLE)}")
            if self.fields is None:
                raise ValueError("a create op needs fields")
            if self.target is not None or self.when is not None:
                raise ValueError("a create op takes no 'target' or 'when'")
        elif self.fields is not None:
            raise ValueError("'fields' belongs to a create op")
        return self

    def changes(self) -> dict[str, Any]:
        return self.set_ or self.append or self.remove or {}


# ---- checking recipes when a catalogue loads ------------------------------------------------------

def _field_exists(model: type[BaseModel], path: str) -> bool:
    head, _, rest = path.partition(".")
    info = model.model_fields.get(head)
    if info is None:
        return False
    if not rest:
        return True
    sub = info.annotation
    return isinstance(sub, type) and issubclass(sub, BaseModel) and _field_exists(sub, rest)


def _references(value: Any) -> list[str]:
    """Every $-expression and {param} inside a value, for checking."""
    if isinstance(value, dict):
        return [r for v in value.values() for r in _references(v)]
    if isinstance(value, list):
        return [r for v in value for r in _references(v)]
    if isinstance(value, str):
        refs = ["$" + p for p in _PARAM_REF.findall(value)]
        if value.startswith("$"):
            refs.append(value)
        return refs
    return []


def check_recipe(label: str, target: str, params: dict[str, Any], ops: list[Op],
                 choices: dict[str, list[Any]] | None = None, requires: Requires | None = None) -> None:
    """Raise ValueError naming the recipe if it refers to unknown targets, fields, params or expressions."""
    if target not in TARGET_MODELS:
        raise ValueError(f"{label}: unknown target {target!r}; known: {sorted(TARGET_MODELS)}")
    for name, allowed in (choices or {}).items():
        if name not in params or params[name] not in allowed:
            raise ValueError(f"{label}: choices for {name!r} need a parameter whose default is one of {allowed}")
    for path in requires or {}:
        head, _, rest = path.partition(".")
        if head not in TARGET_MODELS or not _field_exists(TARGET_MODELS[head], rest):
            raise ValueError(f"{label}: cannot require {path!r}")
    clash = set(params) & (set(TARGET_MODELS) | {"clock", "today", "new_id", "operator"})
    if clash:
        raise ValueError(f"{label}: parameter names {sorted(clash)} clash with expression names")
    for op in ops:
        on = op.target or target
        if op.create is None:
            if on not in TARGET_MODELS:
                raise ValueError(f"{label}: unknown target {on!r}")
            for path in [*op.changes(), *(op.when or {})]:
                if not _field_exists(TARGET_MODELS[on], path):
                    raise ValueError(f"{label}: {TARGET_MODELS[on].__name__} has no field {path!r}")
        for ref in _references([op.changes(), op.when or {}, op.fields or {}]):
            if _TIME.match(ref) or ref.startswith("$new_id:"):
                continue
            head, _, rest = ref[1:].partition(".")
            if head == "operator":
                ok = rest in OPERATOR
            elif head in TARGET_MODELS:
                ok = bool(rest)
            else:
                ok = head in params and not rest
            if not ok:
                raise ValueError(f"{label}: cannot evaluate {ref!r}")


def coerce_params(label: str, defaults: dict[str, Any], choices: dict[str, list[Any]],
                  given: dict[str, Any]) -> dict[str, Any]:
    """Merge given params over defaults, typed like the defaults; unknown or mistyped params are InvalidInput."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        takes = ", ".join(sorted(defaults)) or "no parameters"
        raise InvalidInput(f"{label} has no parameter {', '.join(map(repr, unknown))} (it takes: {takes})")
    out = dict(defaults)
    for name, value in given.items():
        default = defaults[name]
        try:
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise TypeError
            elif isinstance(default, int):
                if isinstance(value, bool) or value != int(value):
                    raise TypeError
                value = int(value)
            elif isinstance(default, float):
                if isinstance(value, bool):
                    raise TypeError
                value = float(value)
            elif isinstance(default, str):
                if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
                    raise TypeError
                value = str(value)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"{label}: parameter {name!r} must be a {type(default).__name__} like {default!r}, got {value!r}"
            ) from None
        if name in choices and value not in choices[name]:
            raise InvalidInput(f"{label}: parameter {name!r} must be one of {choices[name]}, got {value!r}")
        out[name] = value
    return out


# ---- running a recipe -------------------------------------------------------------------------------

class Run:
    """One application of a recipe to one customer: resolves targets, stages changes, commits atomically."""

    def __init__(self, sb: Sandbox, label: str, customer_id: str, service_id: str | None,
                 params: dict[str, Any]) -> None:
        self.sb = sb
        self.label = label
        self.customer = sb.customer(customer_id)
        self.service_id = service_id
        self.params = params
        if service_id is not None:
            owner = self._owner_of(service_id)
            if owner != customer_id:
                raise InvalidInput(f"{label}: customer {customer_id} has no service {service_id!r}")
        self._resolved: dict[str, tuple[str, str] | None] = {}
        self._staged: dict[tuple[str, str], BaseModel] = {}
        self._created: list[tuple[str, BaseModel]] = []

    def _owner_of(self, service_id: str) -> str | None:
        w = self.sb.world
        svc = w.lines.get(service_id) or w.broadband.get(service_id)
        return svc.customer_id if svc is not None else None

    # -- target resolution: each name maps to (world table, key) -------------------------------------
    def _fail(self, what: str) -> InvalidInput:
        return InvalidInput(f"{self.label} does not fit customer {self.customer.id}: {what}")

    def _locate(self, name: str) -> tuple[str, str]:
        w, cid, sid = self.sb.world, self.customer.id, self.service_id
        if name == "customer":
            return "customers", cid
        if name == "line":
            if sid in w.lines:
                return "lines", sid
            lines = sorted(self.sb.lines_of(cid), key=lambda l: l.id)
            if not lines:
                raise self._fail("they have no mobile line")
            return "lines", lines[0].id
        if name == "phone":
            line = self.get("line")
            if line.device_id not in w.phones:
                raise self._fail(f"line {line.id} has no phone on record")
            return "phones", line.device_id
        if name == "line_plan":
            return "plans", self._plan_key(self.get("line").plan_id, MobilePlan)
        if name == "broadband":
            if sid in w.broadband:
                return "broadband", sid
            services = sorted(self.sb.broadband_of(cid), key=lambda b: b.id)
            if not services:
                raise self._fail("they have no broadband service")
            return "broadband", services[0].id
        if name == "router":
            svc = self.get("broadband")
            if svc.router_id not in w.routers:
                raise self._fail(f"broadband service {svc.id} has no router on record")
            return "routers", svc.router_id
        if name == "node":
            svc = self.get("broadband")
            if svc.access_node_id not in w.access_nodes:
                raise self._fail(f"broadband service {svc.id} has no access node on record")
            return "access_nodes", svc.access_node_id
        if name == "broadband_plan":
            return "plans", self._plan_key(self.get("broadband").plan_id, BroadbandPlan)
        if name in ("bill", "open_bill"):
            bills = self.sb.bills_of(cid)
            if name == "open_bill":
                bills = [b for b in bills if b.status in _OPEN_BILL_STATUSES]
            if not bills:
                raise self._fail("they have no bill" if name == "bill" else "they have no unpaid bill")
            latest = max(bills, key=lambda b: (b.period, b.issued_on, b.id))
            return "bills", latest.id
        if name == "area":
            if sid in w.broadband:
                area_id = w.broadband[sid].area_id
            elif sid in w.lines:
                area_id = self._phone_area() or self.customer.address.area_id
            else:
                area_id = self.customer.address.area_id
            return "areas", self._area_key(area_id)
        if name == "mobile_area":
            return "areas", self._area_key(self._phone_area() or self.customer.address.area_id)
        if name == "payment_request":
            request = open_payment_request(self.sb, cid)
            if request is None:
                raise self._fail("there is no open payment request (none was sent, or the link expired)")
            return "payment_requests", request.id
        if name == "request_bill":
            bill_id = self.get("payment_request").bill_id
            if bill_id not in w.bills:
                raise self._fail(f"the payment request is for bill {bill_id!r}, which does not exist")
            return "bills", bill_id
        raise ValueError(f"{self.label}: unknown target {name!r}")

    def _phone_area(self) -> str | None:
        try:
            return self.get("phone").area_id
        except InvalidInput:
            return None

    def _plan_key(self, plan_id: str, kind: type) -> str:
        if not isinstance(self.sb.world.plans.get(plan_id), kind):
            raise self._fail(f"plan {plan_id!r} is missing or not a {kind.__name__}")
        return plan_id

    def _area_key(self, area_id: str) -> str:
        if area_id not in self.sb.world.areas:
            raise self._fail(f"area {area_id!r} is not in the network")
        return area_id

    def get(self, name: str) -> Any:
        """The staged copy of a target: later ops and expressions see earlier ops' effects."""
        if name not in self._resolved:
            self._resolved[name] = self._locate(name)
        table, key = self._resolved[name]
        if (table, key) not in self._staged:
            self._staged[(table, key)] = getattr(self.sb.world, table)[key].model_copy(deep=True)
        return self._staged[(table, key)]

    # -- expressions ---------------------------------------------------------------------------------
    def value(self, raw: Any) -> Any:
        if isinstance(raw, dict):
            return {k: self.value(v) for k, v in raw.items()}
        if isinstance(raw, list):
            return [self.value(v) for v in raw]
        if not isinstance(raw, str):
            return raw
        text = _PARAM_REF.sub(lambda m: str(self.params[m.group(1)]), raw) if "{" in raw else raw
        if not text.startswith("$"):
            return text
        if m := _TIME.match(text):
            base, sign, amount, unit = m.groups()
            shift = timedelta(minutes=float(amount) * _UNIT_MINUTES[unit]) if amount else timedelta()
            at = self.sb.world.clock + (shift if sign != "-" else -shift)
            if base == "today":
                if unit not in (None, "d"):
                    raise ValueError(f"{self.label}: $today shifts by days only, not {text!r}")
                return at.date()
            return at
        if text.startswith("$new_id:"):
            return self.sb.new_id(text.split(":", 1)[1])
        head, _, path = text[1:].partition(".")
        if head == "operator":
            return OPERATOR[path]
        if head in self.params and not path:
            return self.params[head]
        obj: Any = self.get(head)
        for part in path.split("."):
            try:
                obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
            except (IndexError, AttributeError):
                raise self._fail(f"{text} does not exist") from None
        return obj

    # -- ops -----------------------------------------------------------------------------------------
    def apply(self, op: Op, default_target: str) -> None:
        if op.create is not None:
            self._create(op)
            return
        name = op.target or default_target
        target = self.get(name)
        if op.when and any(self._read(target, f) != self.value(v) for f, v in op.when.items()):
            return
        for path, raw in op.changes().items():
            value = self.value(raw)
            if op.append is not None:
                value = [*self._read(target, path), *value]
            elif op.remove is not None:
                value = [x for x in self._read(target, path) if x not in value]
            self._write(target, name, path, value)

    @staticmethod
    def _read(obj: Any, path: str) -> Any:
        for part in path.split("."):
            obj = getattr(obj, part)
        return obj

    def _write(self, target: BaseModel, name: str, path: str, value: Any) -> None:
        *parents, last = path.split(".")
        obj: Any = target
        for part in parents:
            obj = getattr(obj, part)
        try:
            setattr(obj, last, value)
        except ValidationError as e:
            raise InvalidInput(f"{self.label}: cannot set {name}.{path} to {value!r}: {_brief(e)}") from None

    def _create(self, op: Op) -> None:
        table = op.create
        assert table is not None and op.fields is not None
        prefix, model = CREATABLE[table]
        fields = self.value(op.fields)
        fields.setdefault("id", self.sb.new_id(prefix))
        try:
            record = model.model_validate(fields)
        except ValidationError as e:
            raise InvalidInput(f"{self.label}: cannot create a {model.__name__}: {_brief(e)}") from None
        self._created.append((table, record))

    def commit(self) -> None:
        for (table, key), staged in self._staged.items():
            getattr(self.sb.world, table)[key] = staged
        for table, record in self._created:
            getattr(self.sb.world, table)[record.id] = record


def _brief(e: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, err['loc'])) or 'value'}: {err['msg']}" for err in e.errors())


def run_recipe(sb: Sandbox, label: str, target: str, ops: list[Op], customer_id: str, service_id: str | None,
               params: dict[str, Any], requires: Requires | None = None) -> Run:
    """Apply ops for one customer, all or nothing.

    requires maps a target field (e.g. "broadband.technology") to the values the recipe is meant for, so a
    fiber-only fault on a DSL customer is refused rather than written into a state that cannot happen.
    """
    counters = dict(sb.world.id_counters)
    try:
        run = Run(sb, label, customer_id, service_id, params)
        run.get(target)  # resolve the main target first, so a misfit is reported before anything else
        for path, allowed in (requires or {}).items():
            actual = run.value("$" + path)
            if isinstance(allowed, ListRule):
                if not allowed.holds(actual):
                    raise run._fail(f"it needs {path} {allowed.describe()}, but it is {actual!r}")
            elif actual not in allowed:
                raise run._fail(f"it needs {path} in {allowed}, but it is {actual!r}")
        for op in ops:
            run.apply(op, target)
    except BaseException:
        # Staged copies never touched the world; only the id counters may have moved.
        sb.world.id_counters = counters
        raise
    run.commit()
    return run

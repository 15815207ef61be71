"""Compound-fault scenarios, generated from the fault catalogue and the physics rather than written by hand.

For each mobile family (no service, mobile data, picture messages) valid combinations of 2–4 faults that break the
family's end-to-end test become scenarios (every pair, evenly spaced triples and quadruples; all of them with
`full`), with a customer variation chosen from the combination's index:
how they prove who they are (name + date of birth, or phone number + name without the date of birth), one line or
several on the account, whether they accept an offer (a payment request, roaming, a refuel), at home or abroad, and
whether their first message already gives their number.

The expected end state is derived, not written: the faults are applied to the demo world, then every fix the
catalogue names (customer steps, and agent tools as policy allows) is applied to a copy, and the end-to-end tests
say what "fixed" looks like. A fault only a person can fix ends in a called-for hand-over; an area outage in the
customer being told; an offer turned down in the fault staying, with no hand-over.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator, Literal

from telco.sandbox.customer_steps import apply_customer_step
from telco.sandbox.endtoend import EndToEnd, mobile_end_to_end
from telco.sandbox.faults import FaultSpec, apply_context, fault_applies, inject_fault, mobile_faults, valid_subsets
from telco.sandbox.state import Sandbox
from telco.scenarios.spec import FaultSpec as ScenarioFault
from telco.scenarios.spec import Identity, Scenario
from telco.tools.port import LocalToolPort

Family = Literal["no_service", "mobile_data", "mms"]
# family -> (the intent a customer with that problem raises, the end-to-end test that says it is fixed)
FAMILIES: dict[Family, tuple[str, EndToEnd]] = {
    "no_service": ("mobile_no_service", "service"),
    "mobile_data": ("mobile_data", "data_speed"),
    "mms": ("mms", "mms"),
}
# The tests each family's test rests on (a picture message needs data, data needs service).
PREREQUISITES: dict[EndToEnd, tuple[EndToEnd, ...]] = {
    "service": ("service",), "data_speed": ("service", "data", "data_speed"), "mms": ("service", "data", "mms"),
}
OPENINGS: dict[Family, tuple[str, ...]] = {
    "no_service": ("My phone has no signal at all, I can't call or text anyone.",
                   "Since this morning my mobile says no service.",
                   "I can't make calls on my phone, it just won't connect."),
    "mobile_data": ("Mobile data isn't working properly on my phone.",
                    "The internet on my phone is useless when I'm not on Wi-Fi.",
                    "My phone's data is either dead or painfully slow."),
    "mms": ("I can't send picture messages from my phone.",
            "Photos I send by text just fail to go through.",
            "Picture messages won't send, normal texts are fine I think."),
}
SIZES = (2, 3, 4)
# The standard suite: every valid pair, and about this many valid triples and quadruples per family, evenly spaced
# through their enumeration (the full enumeration, 6,838 scenarios on today's catalogue, takes hours through all the
# agents on a 2-core machine; `--full` runs it).
LARGER_PER_FAMILY = {3: 100, 4: 50}


@dataclass(frozen=True)
class Variation:
    identity: Literal["name_dob", "phone_name"]
    lines: Literal["one", "several"]
    offers: Literal["accept", "decline"]
    place: Literal["home", "abroad"]
    says_number: bool

    @classmethod
    def for_index(cls, i: int) -> "Variation":
        return cls(identity=("name_dob", "phone_name")[i % 2], lines=("one", "several")[(i // 2) % 2],
                   offers=("accept", "decline")[(i // 4) % 2], place=("home", "abroad")[(i // 8) % 2],
                   says_number=bool((i // 16) % 2))


def family_pool(family: Family) -> list[FaultSpec]:
    test = FAMILIES[family][1]
    return [f for f in mobile_faults() if test in f.breaks]


def combinations_for(family: Family, full: bool = False) -> list[tuple[int, tuple[FaultSpec, ...]]]:
    """(index, faults) of the family's valid combinations, in a stable order; the index picks the variation."""
    picked = []
    for size in SIZES:
        combos = list(valid_subsets(family_pool(family), [size]))
        stride = 1 if full or size not in LARGER_PER_FAMILY else -(-len(combos) // LARGER_PER_FAMILY[size])
        picked += combos[::stride]
    return list(enumerate(picked))


# ---- who the customer is -------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _demo() -> Sandbox:
    return Sandbox.demo()


def _customers(lines: str) -> list[tuple[str, str]]:
    """(customer, line) pairs of the demo world: single-line customers, or a later line of a multi-line account
    (so a flow that silently takes the first line works on the wrong one)."""
    sb = _demo()
    pairs = []
    for customer_id in sorted(sb.world.customers):
        own = sorted(x.id for x in sb.lines_of(customer_id) if x.status != "closed")
        if lines == "one" and len(own) == 1:
            pairs.append((customer_id, own[0]))
        elif lines == "several" and len(own) > 1:
            pairs.append((customer_id, own[-1]))
    return pairs


def _place(faults: tuple[FaultSpec, ...], wanted: str) -> str:
    needed = {f.context for f in faults if f.context is not None}
    return needed.pop() if needed else wanted


@lru_cache(maxsize=None)
def _placed(customer_id: str, line_id: str, place: str) -> Sandbox:
    sb = Sandbox(_demo().world.model_copy(deep=True))
    apply_context(sb, place, customer_id, line_id)  # type: ignore[arg-type]
    return sb


@lru_cache(maxsize=None)
def _applies(customer_id: str, line_id: str, place: str, fault: str) -> bool:
    # Whether a fault can happen to this customer depends on their equipment and plan, not on the other faults of a
    # valid combination (they commute), so it is asked once per customer, place and fault.
    return fault_applies(_placed(customer_id, line_id, place), fault, customer_id, line_id)


def _pick(index: int, faults: tuple[FaultSpec, ...], variation: Variation) -> tuple[str, str, Sandbox] | None:
    """The first customer (from a point that moves with the index) all the faults can happen to — one with the
    variation's number of lines if there is one, else any — and their world with every fault applied."""
    place = _place(faults, variation.place)
    other = "one" if variation.lines == "several" else "several"
    for candidates in (_customers(variation.lines), _customers(other)):
        for k in range(len(candidates)):
            customer_id, line_id = candidates[(index + k) % len(candidates)]
            if all(_applies(customer_id, line_id, place, f.name) for f in faults):
                sb = Sandbox(_placed(customer_id, line_id, place).world.model_copy(deep=True))
                for fault in faults:
                    inject_fault(sb, fault.name, customer_id, line_id)
                return customer_id, line_id, sb
    return None


# ---- what the physics says the end should be ----------------------------------------------------------------
def _fixed_copy(sb: Sandbox, customer_id: str, line_id: str, faults: tuple[FaultSpec, ...]) -> Sandbox:
    """A copy of the world with every customer step and agent tool the faults' fixes name applied."""
    import asyncio

    fixed = Sandbox(sb.world.model_copy(deep=True))
    port = LocalToolPort(fixed, conversation_id="derive", verified_customer_id=customer_id)
    scope = {"customer_id": customer_id, "line_id": line_id}
    # Prerequisites first (what breaks service before what breaks data before what breaks MMS), as a person fixing it
    # would, and as policy needs: roaming is not switched on while a bill is overdue.
    order = ("service", "data", "data_speed", "mms")
    for fault in sorted(faults, key=lambda f: min(order.index(t) for t in f.breaks if t in order)):
        for action in fault.fixed_by:
            if action.customer_step:
                apply_customer_step(fixed, action.customer_step, customer_id, line_id)
            elif action.tool:
                args = {k: v for k, v in {**scope, **action.args}.items() if k in _tool_fields(action.tool)}
                asyncio.run(port.call(action.tool, args, idempotency_key=f"derive/{fault.name}/{action.tool}"))
    return fixed


@lru_cache(maxsize=None)
def _tool_fields(tool: str) -> frozenset[str]:
    from telco.tools import TOOLS

    return frozenset(TOOLS[tool].args_model.model_fields)


def get_fault_kind(name: str) -> str:
    """How a fault is undone: customer_step, tool, person or wait (telco.sandbox.faults.FaultSpec.fix_kind)."""
    from telco.sandbox.faults import get_fault

    return get_fault(name).fix_kind


def _fix_tools(faults: tuple[FaultSpec, ...], *, consented: bool = True) -> set[str]:
    """The agent tools the faults' fixes use (without those that need the customer's consent, if not consented)."""
    return {a.tool for f in faults for a in f.fixed_by if a.tool and (consented or not a.consent)}


def expected_end(sb: Sandbox, customer_id: str, line_id: str, family: Family, faults: tuple[FaultSpec, ...],
                 variation: Variation) -> dict[str, Any]:
    test = FAMILIES[family][1]
    if any(f.fix_kind == "person" for f in faults):
        # Only a person can fix one of them: the conversation must end with them, labelled as called for.
        return {"handoff": {"called_for": True}, "end_to_end_fails": [test]}
    if any(f.fix_kind == "wait" for f in faults):
        # Told that the network is being worked on (an outage or maintenance), and nothing else tried on them.
        return {"handoff": False, "informed_any": ["area_outage", "planned_maintenance"],
                "writes_within": sorted(_fix_tools(faults))}
    if variation.offers == "decline" and _fix_tools(faults) - _fix_tools(faults, consented=False):
        return {"handoff": False, "end_to_end_fails": [test],
                "writes_within": sorted(_fix_tools(faults, consented=False))}
    fixed = _fixed_copy(sb, customer_id, line_id, faults)
    results = mobile_end_to_end(fixed, line_id)
    wanted = list(PREREQUISITES[test])
    if not all(results[t] for t in wanted):
        raise AssertionError(f"the catalogue's fixes for {[f.name for f in faults]} do not restore {wanted}: {results}")
    return {"handoff": False, "end_to_end": wanted, "writes_within": sorted(_fix_tools(faults))}


# ---- the suite ----------------------------------------------------------------------------------------------
def _identity(sb: Sandbox, customer_id: str, line_id: str, variation: Variation) -> Identity:
    customer = sb.world.customers[customer_id]
    if variation.identity == "name_dob":
        return Identity(full_name=customer.name, date_of_birth=customer.date_of_birth)
    return Identity(full_name=customer.name, phone=sb.world.lines[line_id].number)


def generate(families: tuple[Family, ...] = tuple(FAMILIES), full: bool = False) -> Iterator[Scenario]:
    for family in families:
        intent = FAMILIES[family][0]
        for i, faults in combinations_for(family, full):
            variation = Variation.for_index(i)
            if variation.offers == "decline" and any(f.fix_kind in ("person", "wait") for f in faults):
                # Which comes first then depends on the order of the checks, not on the physics: accept instead.
                variation = Variation(**{**variation.__dict__, "offers": "accept"})
            picked = _pick(i, faults, variation)
            if picked is None:
                continue  # no demo customer this combination can happen to
            customer_id, line_id, sb = picked
            place = _place(faults, variation.place)
            number = sb.world.lines[line_id].number
            message = OPENINGS[family][i % len(OPENINGS[family])]
            if variation.says_number:
                message += f" My number is {number}."
            names = "+".join(f.name for f in faults)
            lines = "several" if len([x for x in sb.lines_of(customer_id) if x.status != "closed"]) > 1 else "one"
            yield Scenario(
                id=f"compound-{family}-{i:04d}", family=family,
                title=f"{names} ({variation.identity}, {lines} line(s), {variation.offers}s offers, {place})",
                customer_id=customer_id, identity=_identity(sb, customer_id, line_id, variation), service_id=line_id,
                context=place, faults=[ScenarioFault(name=f.name, service_id=line_id) for f in faults],
                message=message, intents=[intent], accepts_offers=variation.offers == "accept",
                expect=expected_end(sb, customer_id, line_id, family, faults, variation),
                notes="generated by telco.scenarios.compound",
            )


def sample(scenarios: list[Scenario], n: int) -> list[Scenario]:
    """A spread sample, the same every run: about n / families of each family, evenly spaced through its list (so
    every size of combination and every variation is in it)."""
    if n >= len(scenarios):
        return scenarios
    families = sorted({s.family for s in scenarios})
    picked: list[Scenario] = []
    for k, family in enumerate(families):
        own = [s for s in scenarios if s.family == family]
        share = n // len(families) + (1 if k < n % len(families) else 0)
        step = len(own) / max(share, 1)
        picked += [own[int(j * step)] for j in range(min(share, len(own)))]
    return picked


def transcript_digest(transcripts: list[str]) -> str:
    return hashlib.sha256("\n\x1e".join(transcripts).encode()).hexdigest()[:16]

"""Synthetic operator worlds of any size, deterministic given a seed.

generate_world(seed, customers) draws areas, network, customers, lines, phones, broadband, routers and three
months of bills from the distributions in data/generator.yaml and the plan catalogue of the demo world.
Every draw comes from one random.Random(seed) in a fixed order, so the same seed dumps byte-identical JSON.

Records are consistent by construction (no 5G plan on a 4G phone, fiber only where the area has fiber, a line
suspended for an overdue bill belongs to a customer with an overdue bill...) and telco.sandbox.integrity
checks the same rules. Faults are not generated here: scenarios inject them.

Run: python -m telco.sandbox.generator --seed 7 --customers 1000 --out world.json
"""
from __future__ import annotations

import argparse
import gc
import math
import random
import sys
import time
import unicodedata
from bisect import bisect
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from telco.errors import InvalidInput, TelcoError
from telco.models import (
    AccessNode,
    Address,
    ApnSettings,
    Area,
    Bill,
    BroadbandPlan,
    BroadbandService,
    Cell,
    Customer,
    OPERATOR_APN,
    OPERATOR_MMSC,
    LineItem,
    MobileLine,
    MobilePlan,
    PaymentMethod,
    PaymentRequest,
    Phone,
    Promotion,
    Router,
    World,
)

from .generator_profile import AreaProfile, GeneratorProfile, load_plans, load_profile
from .integrity import ROUTER_KIND_FOR

# Generated worlds share the demo world's "now" so docs and scenarios read the same dates for both.
DEFAULT_CLOCK = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)

NODE_PREFIX = {"fiber": "OLT", "dsl": "DSLAM", "cable": "CMTS"}
# Multiplier coprime with 10**7: k -> (a*k + b) mod 10**7 is a bijection, so numbers never repeat yet look random.
_NUMBER_STRIDE = 3_000_017
_NUMBER_SPACE = 10**7
_OPERATOR_DNS = tuple(Router.model_fields["dns_servers"].default)
_MESSAGING_PERMISSIONS = ("sms", "storage", "contacts")
_IMMUTABLE = (type(None), bool, int, float, str, tuple, frozenset, Decimal, date, datetime)


class _Fast:
    """Creates instances of one model from already-typed field values, without per-record validation.

    Why: a 100k-customer world holds over a million records; validating each one roughly doubles generation
    time. The values come from code that builds them with the right types, and the tests push a generated
    world through World.model_validate_json to prove it. Every instance shares one fields-set holding all field
    names (adding a name already present is a no-op), which saves ~0.7 KB per record.
    """

    __slots__ = ("cls", "fields_set", "n", "defaults")

    def __init__(self, cls: type[BaseModel]) -> None:
        self.cls = cls
        self.fields_set = set(cls.model_fields)
        self.n = len(self.fields_set)
        # Only immutable defaults may be filled in: a shared list or model would alias between records.
        self.defaults = {
            name: f.default
            for name, f in cls.model_fields.items()
            if not f.is_required() and f.default_factory is None and isinstance(f.default, _IMMUTABLE)
        }

    def __call__(self, **values: Any) -> Any:
        if len(values) != self.n:
            self._complete(values)
        m = self.cls.__new__(self.cls)
        object.__setattr__(m, "__dict__", values)
        object.__setattr__(m, "__pydantic_fields_set__", self.fields_set)
        object.__setattr__(m, "__pydantic_extra__", None)
        object.__setattr__(m, "__pydantic_private__", None)
        return m

    def _complete(self, values: dict[str, Any]) -> None:
        unknown = values.keys() - self.fields_set
        if unknown:
            raise TypeError(f"{self.cls.__name__} has no fields {sorted(unknown)}")
        for name in self.fields_set - values.keys():
            if name not in self.defaults:
                raise TypeError(f"{self.cls.__name__}.{name} must be given explicitly (required or mutable default)")
            values[name] = self.defaults[name]
        # Keep field order equal to the model's so dumps match validated records byte for byte.
        ordered = {name: values[name] for name in self.cls.model_fields}
        values.clear()
        values.update(ordered)


_customer, _address, _method = _Fast(Customer), _Fast(Address), _Fast(PaymentMethod)
_line, _phone, _apn = _Fast(MobileLine), _Fast(Phone), _Fast(ApnSettings)
_broadband, _router = _Fast(BroadbandService), _Fast(Router)
_bill, _item, _promotion, _request = _Fast(Bill), _Fast(LineItem), _Fast(Promotion), _Fast(PaymentRequest)
_world = _Fast(World)


def _weighted(pairs: list[tuple[Any, float]]) -> tuple[list[Any], list[float]]:
    items, cum, total = [], [], 0.0
    for item, weight in pairs:
        total += weight
        items.append(item)
        cum.append(total)
    return items, cum


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_name.lower() if ch.isalnum())


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


class _Builder:
    def __init__(self, seed: int, customers: int, clock: datetime, profile: GeneratorProfile) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.n_customers = customers
        self.clock = clock
        self.today = clock.date()
        self.p = profile
        self.plans = load_plans(profile)
        self.counters: dict[str, int] = {}
        self.areas: dict[str, Area] = {}
        self.cells: dict[str, Cell] = {}
        self.nodes: dict[str, AccessNode] = {}
        self.customers: dict[str, Customer] = {}
        self.lines: dict[str, MobileLine] = {}
        self.phones: dict[str, Phone] = {}
        self.broadband: dict[str, BroadbandService] = {}
        self.routers: dict[str, Router] = {}
        self.bills: dict[str, Bill] = {}
        self.promotions: dict[str, Promotion] = {}
        self.requests: dict[str, PaymentRequest] = {}
        self.population: dict[str, int] = {}
        self._open_node: dict[tuple[str, str], list[Any]] = {}
        self._numbers_issued = 0
        self._number_offset = self.rng.randrange(_NUMBER_SPACE)
        self._slugs: dict[str, str] = {}
        self._prepare_catalogues()

    # ---- ids, numbers ------------------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        n = self.counters.get(prefix, 0) + 1
        self.counters[prefix] = n
        return f"{prefix}-{n:05d}"

    def _number(self) -> str:
        k = self._numbers_issued
        self._numbers_issued += 1
        return f"+1555{(_NUMBER_STRIDE * k + self._number_offset) % _NUMBER_SPACE:07d}"

    def _slug(self, name: str) -> str:
        slug = self._slugs.get(name)
        if slug is None:
            slug = self._slugs[name] = _slug(name)
        return slug

    # ---- catalogues prepared once ------------------------------------------------------------------
    def _prepare_catalogues(self) -> None:
        p = self.p
        mobile = [(self.plans[i], w) for i, w in p.mobile_plan_weights.items()]
        self.mobile_any = _weighted(mobile)
        self.mobile_4g = _weighted([(plan, w) for plan, w in mobile if not plan.five_g])
        self.phone_models = _weighted([(m, m.weight) for m in p.phone_models])
        self.bb_weights = [(self.plans[i], w) for i, w in p.broadband_plan_weights.items()]
        self._bb_options: dict[str, tuple[list[Any], list[float]] | None] = {}
        dob_low, dob_high = date(1940, 1, 1).toordinal(), date(self.today.year - 18, 1, 1).toordinal()
        self.dob_low, self.dob_span = dob_low, dob_high - dob_low
        self.goodwill_amounts = [Decimal(f"{n}.00") for n in (5, 10, 15, 20, 25)]
        self.roaming_charges = [Decimal(v) for v in ("4.99", "9.98", "14.97", "24.95")]
        self.promo_amount = -self.p.promotion.monthly_discount
        # Billing periods, oldest first, ending with the month the clock is in.
        self.periods = [
            _add_months(self.today.year, self.today.month, k - p.billing.periods + 1) for k in range(p.billing.periods)
        ]
        self.period_labels = [f"{y:04d}-{m:02d}" for y, m in self.periods]
        # Cycle days later than today would put the current bill in the future.
        self.cycle_days = [d for d in p.billing.cycle_days if d <= self.today.day] or [1]
        self._schedules: dict[int, list[tuple[date, date]]] = {}

    def _schedule(self, cycle_day: int) -> list[tuple[date, date]]:
        """(issued_on, due_date) per period for one billing day."""
        sched = self._schedules.get(cycle_day)
        if sched is None:
            pay = timedelta(days=self.p.billing.days_to_pay)
            sched = [(date(y, m, cycle_day), date(y, m, cycle_day) + pay) for y, m in self.periods]
            self._schedules[cycle_day] = sched
        return sched

    def _broadband_options(self, area: Area):
        """Technologies sellable in an area, each with the plans that fit it; None when nothing fits."""
        if area.id in self._bb_options:
            return self._bb_options[area.id]
        choices = []
        for tech in ("fiber", "cable", "dsl"):
            if (tech == "fiber" and not area.fiber) or (tech == "cable" and not area.cable):
                continue
            fitting = [
                (plan, w)
                for plan, w in self.bb_weights
                if tech in plan.technologies and (tech != "dsl" or plan.download_mbps <= area.dsl_max_mbps)
            ]
            if fitting:
                choices.append(((tech, _weighted(fitting)), self.p.technology_weights[tech]))
        options = _weighted(choices) if choices else None
        self._bb_options[area.id] = options
        return options

    @staticmethod
    def _pick(rng: random.Random, table: tuple[list[Any], list[float]]) -> Any:
        items, cum = table
        return items[bisect(cum, rng.random() * cum[-1])]

    # ---- network -----------------------------------------------------------------------------------
    def _make_areas(self) -> None:
        p, rng = self.p, self.rng
        count = max(p.min_areas, round(self.n_customers / p.customers_per_area))
        profiles = _weighted([(a, a.weight) for a in p.area_profiles])
        names = p.area_names
        for i in range(count):
            profile: AreaProfile = p.area_profiles[i] if i < len(p.area_profiles) else self._pick(rng, profiles)
            base = names[i % len(names)]
            name = base if i < len(names) else f"{base} {i // len(names) + 1}"
            letters = "".join(ch for ch in _slug(base).upper() if ch.isalpha())[:2]
            low, high = profile.dsl_max_mbps
            area = Area(
                id=self._id("A"),
                name=name,
                postcode_prefix=f"{letters}{i + 1}",
                fiber=profile.fiber,
                dsl_max_mbps=rng.randint(low, high),
                cable=rng.random() < profile.cable,
                five_g=rng.random() < profile.five_g,
            )
            self.areas[area.id] = area
            self.population[area.id] = 0
        self.area_table = _weighted([(a, rng.uniform(0.5, 1.5)) for a in self.areas.values()])

    def _make_cells(self) -> None:
        rng, low_high = self.rng, self.p.healthy.cell_load
        for area in self.areas.values():
            count = max(2, math.ceil(self.population[area.id] / self.p.customers_per_cell))
            for k in range(count):
                if area.five_g:
                    techs = ["3G", "4G", "5G"] if k % 2 == 0 else ["4G", "5G"]
                else:
                    techs = ["2G", "3G", "4G"]
                cell = Cell(id=self._id("CELL"), area_id=area.id, technologies=techs, load=round(rng.uniform(*low_high), 2))
                self.cells[cell.id] = cell

    def _port(self, area: Area, tech: str) -> tuple[str, str]:
        """Next free port in the area for a technology, opening a new access node when the current one is full."""
        key = (area.id, tech)
        state = self._open_node.get(key)
        if state is None or state[1] >= self.p.node_capacity[tech]:
            node = AccessNode(
                id=self._id(NODE_PREFIX[tech]),
                area_id=area.id,
                technology=tech,
                load=round(self.rng.uniform(*self.p.healthy.node_load), 2),
            )
            self.nodes[node.id] = node
            state = self._open_node[key] = [node.id, 0]
        used = state[1]
        state[1] = used + 1
        return state[0], f"{used // 32 + 1}/{used % 32 + 1}"

    # ---- customers ---------------------------------------------------------------------------------
    def _make_customer(self, index: int) -> None:
        rng, p, sh = self.rng, self.p, self.p.shares
        r = rng.random
        area: Area = self._pick(rng, self.area_table)
        self.population[area.id] += 1
        cid = f"C{100000 + index + 1}"
        first, last = rng.choice(p.first_names), rng.choice(p.last_names)

        bb_options = self._broadband_options(area)
        has_mobile = r() < sh.mobile or bb_options is None
        has_broadband = bb_options is not None and (not has_mobile or r() < sh.broadband_given_mobile)
        n_lines = (2 if r() < sh.second_line else 1) if has_mobile else 0

        # Payment behaviour decides bill statuses and whether lines are suspended, so it comes first.
        schedule = self._schedule(rng.choice(self.cycle_days))
        late = r() < sh.late_payer
        awaiting = not late and r() < sh.awaiting_payment
        autopay = not late and not awaiting and r() < sh.autopay_current_bill
        past_due = [k for k, (_, due) in enumerate(schedule) if due < self.today]
        overdue_k = past_due[-1] if late and past_due else None
        suspended_since = None
        if overdue_k is not None and n_lines and r() < sh.suspended_given_late:
            day = schedule[overdue_k][1] + timedelta(days=p.billing.suspend_after_days)
            if day <= self.today:
                suspended_since = datetime(day.year, day.month, day.day, 9, 0, tzinfo=timezone.utc)

        numbers = [self._number() for _ in range(n_lines)]
        methods = self._payment_methods()
        self.customers[cid] = _customer(
            id=cid,
            name=f"{first} {last}",
            date_of_birth=date.fromordinal(self.dob_low + int(r() * self.dob_span)),
            phone=numbers[0] if numbers else self._number(),
            email=f"{self._slug(first)}.{self._slug(last)}{index + 1}@{rng.choice(p.email_domains)}",
            address=_address(
                street=f"{rng.randint(1, 250)} {rng.choice(p.street_names)}",
                city=area.name,
                postcode=f"{area.postcode_prefix} {rng.randint(1, 9)}{chr(65 + rng.randrange(26))}{chr(65 + rng.randrange(26))}",
                area_id=area.id,
            ),
            status="active",
            payment_methods=methods,
            goodwill_credit_used_this_year=(
                rng.choice(self.goodwill_amounts) if r() < sh.goodwill_used else Decimal("0")
            ),
            segment="small_business" if r() < sh.small_business else "consumer",
        )

        services: list[tuple[str, str, Decimal]] = []
        extras: list[list[tuple[str, str, str, Decimal]]] = [[] for _ in self.periods]
        for number in numbers:
            self._make_line(cid, area, number, schedule, suspended_since, services, extras)
        if has_broadband:
            self._make_broadband(cid, area, bb_options, services)
        promoted = n_lines > 0 and has_broadband and r() < sh.promotion
        if promoted:
            promo = _promotion(
                id=self._id("PROMO"),
                customer_id=cid,
                description=p.promotion.description,
                monthly_discount=p.promotion.monthly_discount,
                starts=self.period_labels[0],
            )
            self.promotions[promo.id] = promo
        self._make_bills(cid, schedule, services, extras, promoted, overdue_k, awaiting, autopay, methods)

    def _payment_methods(self) -> list[PaymentMethod]:
        rng, year = self.rng, self.today.year
        last4 = f"{rng.randrange(10000):04d}"
        methods = [
            _method(
                id=self._id("PM"),
                kind="card",
                last4=last4,
                label=f"{rng.choice(self.p.card_labels)} ending {last4}",
                default=True,
                expires=f"{year + rng.randint(1, 4)}-{rng.randint(1, 12):02d}",
            )
        ]
        if rng.random() < self.p.shares.second_payment_method:
            last4 = f"{rng.randrange(10000):04d}"
            methods.append(
                _method(id=self._id("PM"), kind="bank_account", last4=last4, label=f"Checking ending {last4}",
                        default=False, expires=None)
            )
        return methods

    def _make_line(self, cid, area, number, schedule, suspended_since, services, extras) -> None:
        rng, sh = self.rng, self.p.shares
        r = rng.random
        model = self._pick(rng, self.phone_models)
        plan: MobilePlan = self._pick(rng, self.mobile_any if model.supports_5g else self.mobile_4g)
        roaming = plan.roaming_included or r() < sh.roaming_enabled
        abroad = rng.choice(self.p.travel_countries) if roaming and r() < sh.abroad_now else None
        # Usage grows through the cycle; healthy lines stay under their allowance.
        days_in = (self.today - schedule[-1][0]).days
        limit = plan.data_limit_gb
        used = min(limit * min(1.0, days_in / 30) * rng.uniform(0.15, 1.5), limit * 0.97)
        refuelled = float(rng.choice((1, 2, 3, 5))) if r() < sh.refuelled_this_cycle else 0.0
        soon = r() < sh.contract_ending_soon
        contract_end = self.today + timedelta(days=rng.randint(1, 30) if soon else rng.randint(31, 730))

        phone_id = self._id("PH")
        self.phones[phone_id] = _phone(
            id=phone_id,
            model=model.model,
            supports_5g=model.supports_5g,
            sim="active",
            airplane_mode=False,
            mobile_data=True,
            data_roaming=abroad is not None,
            preferred_network_mode="5G" if model.supports_5g else "4G",
            apn=_apn(apn=OPERATOR_APN, mmsc_url=OPERATOR_MMSC),
            wifi=True,
            wifi_calling=r() < sh.wifi_calling,
            wifi_calling_breaks_mms=False,
            data_saver=False,
            vpn=False,
            messaging_permissions=list(_MESSAGING_PERMISSIONS),
            abroad_country=abroad,
            area_id=None if abroad else area.id,
        )
        line_id = self._id("L")
        self.lines[line_id] = _line(
            id=line_id,
            number=number,
            customer_id=cid,
            plan_id=plan.id,
            status="suspended" if suspended_since else "active",
            device_id=phone_id,
            data_used_gb=round(used, 2),
            data_refuelled_gb=refuelled,
            roaming_enabled=roaming,
            contract_end=contract_end,
            suspension_reason="overdue_bill" if suspended_since else None,
            suspended_since=suspended_since,
        )
        services.append((line_id, f"{plan.name} - line {number}", plan.monthly_price))
        # Occasional past charges: data refuels and, for roaming not included in the plan, roaming usage.
        for k in range(len(self.periods) - 1):
            if r() < sh.refuel_on_past_bill:
                gb = rng.choice((1, 2, 3, 5))
                extras[k].append((line_id, "refuel", f"Data refuel {gb} GB", plan.refuel_price_per_gb * gb))
            if roaming and not plan.roaming_included and r() < sh.roaming_charge_on_past_bill:
                extras[k].append((line_id, "roaming", "Roaming data", rng.choice(self.roaming_charges)))

    def _make_broadband(self, cid, area, options, services) -> None:
        rng, healthy = self.rng, self.p.healthy
        tech, plans = self._pick(rng, options)
        plan: BroadbandPlan = self._pick(rng, plans)
        node_id, port = self._port(area, tech)
        kind = ROUTER_KIND_FOR[tech]
        spec = self.p.router_models[kind]
        band = "2.4GHz" if rng.random() < self.p.shares.wifi_24ghz else "5GHz"
        last_boot = self.clock - timedelta(minutes=rng.randint(60, 40 * 24 * 60))
        router_id = self._id("RT")
        self.routers[router_id] = _router(
            id=router_id,
            model=rng.choice(spec.models),
            kind=kind,
            powered=True,
            temperature_c=round(rng.uniform(*healthy.temperature_c), 1),
            ventilated=True,
            optical_power_dbm=round(rng.uniform(*healthy.optical_power_dbm), 1) if tech == "fiber" else None,
            snr_db=round(rng.uniform(*healthy.snr_db), 1) if tech == "dsl" else None,
            sync="up",
            last_boot=last_boot,
            reboot_log=[last_boot],
            wifi_band=band,
            wifi_channel=rng.choice(self.p.wifi_channels[band]),
            channel_interference=round(rng.uniform(*healthy.channel_interference), 2),
            dns_servers=list(_OPERATOR_DNS),
            firmware=spec.previous_firmware if rng.random() < self.p.shares.firmware_outdated else spec.firmware,
            latest_firmware=spec.firmware,
        )
        service_id = self._id("BB")
        self.broadband[service_id] = _broadband(
            id=service_id,
            customer_id=cid,
            plan_id=plan.id,
            technology=tech,
            access_node_id=node_id,
            port=port,
            router_id=router_id,
            area_id=area.id,
            status="active",
            profile="fast",
            port_state="ok",
            dns_override=False,
        )
        services.append((service_id, f"{plan.name} broadband - {service_id}", plan.monthly_price))

    def _make_bills(self, cid, schedule, services, extras, promoted, overdue_k, awaiting, autopay, methods) -> None:
        last = len(schedule) - 1
        for k, (issued_on, due) in enumerate(schedule):
            items = [
                _item(id=self._id("LI"), description=desc, kind="plan", amount=price, service_id=sid, disputed=False)
                for sid, desc, price in services
            ]
            for sid, kind, desc, amount in extras[k]:
                items.append(_item(id=self._id("LI"), description=desc, kind=kind, amount=amount, service_id=sid,
                                   disputed=False))
            if promoted:
                items.append(_item(id=self._id("LI"), description=self.p.promotion.description, kind="promotion",
                                   amount=self.promo_amount, service_id=None, disputed=False))
            if due < self.today:
                status = "overdue" if k == overdue_k else "paid"
            elif k == last and awaiting:
                status = "awaiting_payment"
            else:
                status = "paid" if autopay and k == last else "issued"
            bill_id = self._id("B")
            self.bills[bill_id] = _bill(id=bill_id, customer_id=cid, period=self.period_labels[k], issued_on=issued_on,
                                        due_date=due, status=status, items=items)
            if status == "awaiting_payment":
                total = sum((i.amount for i in items), Decimal("0"))
                request = _request(
                    id=self._id("PAY"),
                    customer_id=cid,
                    bill_id=bill_id,
                    amount=total,
                    payment_method_id=methods[0].id,
                    status="sent",
                    created_at=self.clock - timedelta(minutes=self.rng.randint(30, 20 * 60)),
                )
                self.requests[request.id] = request

    # ---- assembly ----------------------------------------------------------------------------------
    def build(self) -> World:
        self._make_areas()
        for index in range(self.n_customers):
            self._make_customer(index)
        self._make_cells()
        return _world(
            clock=self.clock,
            seed=self.seed,
            plans=self.plans,
            areas=self.areas,
            cells=self.cells,
            access_nodes=self.nodes,
            outages={},
            maintenance={},
            customers=self.customers,
            lines=self.lines,
            broadband=self.broadband,
            phones=self.phones,
            routers=self.routers,
            bills=self.bills,
            promotions=self.promotions,
            payment_requests=self.requests,
            credits={},
            disputes={},
            appointments={},
            tickets={},
            orders={},
            handoffs={},
            applied_writes={},
            id_counters=dict(sorted(self.counters.items())),
        )


def generate_world(
    seed: int,
    customers: int,
    *,
    clock: datetime = DEFAULT_CLOCK,
    profile: GeneratorProfile | None = None,
) -> World:
    """A consistent, healthy world of `customers` customers; the same arguments give the same world."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidInput(f"seed must be an integer, got {seed!r}")
    if isinstance(customers, bool) or not isinstance(customers, int) or customers < 1:
        raise InvalidInput(f"customers must be a positive integer, got {customers!r}")
    if clock.tzinfo is None:
        raise InvalidInput(f"clock must be timezone-aware, got {clock.isoformat()}")
    builder = _Builder(seed, customers, clock, profile or load_profile())
    # The generator only makes acyclic records, yet each of the ~1M allocations ticks the cyclic collector,
    # whose full passes over an ever-growing heap cost more than the generation itself. Pause it meanwhile.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return builder.build()
    finally:
        if collecting:
            gc.enable()


_WORLD_ADAPTER = TypeAdapter(World)


def dump_world(world: World) -> bytes:
    """JSON bytes of a world, identical to World.model_dump_json() but without a second (str) copy in memory."""
    return _WORLD_ADAPTER.dump_json(world)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m telco.sandbox.generator", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="where to write the world as JSON")
    args = parser.parse_args(argv)
    if not args.out.parent.is_dir():
        print(f"error: output directory {args.out.parent} does not exist", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        world = generate_world(args.seed, args.customers)
    except TelcoError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    data = dump_world(world)
    tmp = args.out.with_name(args.out.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(args.out)  # never leave a half-written world behind
    print(
        f"wrote {args.out}: {len(world.customers)} customers, {len(world.lines)} lines, "
        f"{len(world.broadband)} broadband, {len(world.bills)} bills, {len(data) / 1e6:.1f} MB "
        f"in {time.perf_counter() - started:.1f}s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The sandbox's mutable state: one World plus lookups, deterministic ids, load and dump."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import yaml

from telco.data import DEMO_WORLD_FILE
from telco.errors import NotFound
from telco.models import BroadbandService, Customer, MobileLine, Phone, Router, World

T = TypeVar("T")


class Sandbox:
    """Owns a World. Every mutation goes through the tools or the fault/step interpreters."""

    def __init__(self, world: World) -> None:
        self.world = world

    # ---- load / dump -------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path) -> "Sandbox":
        path = Path(path)
        text = path.read_text()
        raw = yaml.safe_load(text) if path.suffix in {".yaml", ".yml"} else json.loads(text)
        return cls(World.model_validate(raw))

    @classmethod
    def demo(cls) -> "Sandbox":
        return cls.from_file(DEMO_WORLD_FILE)

    @classmethod
    def from_json(cls, text: str) -> "Sandbox":
        return cls(World.model_validate_json(text))

    def dump_json(self) -> str:
        return self.world.model_dump_json()

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.dump_json())

    # ---- clock and ids -------------------------------------------------------------------------
    def advance(self, minutes: float) -> None:
        self.world.clock = self.world.clock + timedelta(minutes=minutes)

    def new_id(self, prefix: str) -> str:
        n = self.world.id_counters.get(prefix, 0) + 1
        self.world.id_counters[prefix] = n
        return f"{prefix}-{n:05d}"

    # ---- lookups that raise a clear NotFound ----------------------------------------------------
    def _get(self, table: dict[str, T], key: str, what: str) -> T:
        try:
            return table[key]
        except KeyError:
            raise NotFound(f"no {what} with id {key!r}", kind=what, id=key) from None

    def customer(self, customer_id: str) -> Customer:
        return self._get(self.world.customers, customer_id, "customer")

    def line(self, line_id: str) -> MobileLine:
        return self._get(self.world.lines, line_id, "mobile line")

    def broadband(self, service_id: str) -> BroadbandService:
        return self._get(self.world.broadband, service_id, "broadband service")

    def phone(self, device_id: str) -> Phone:
        return self._get(self.world.phones, device_id, "phone")

    def router(self, router_id: str) -> Router:
        return self._get(self.world.routers, router_id, "router")

    def lines_of(self, customer_id: str) -> list[MobileLine]:
        return [l for l in self.world.lines.values() if l.customer_id == customer_id]

    def broadband_of(self, customer_id: str) -> list[BroadbandService]:
        return [b for b in self.world.broadband.values() if b.customer_id == customer_id]

    def line_by_number(self, number: str) -> MobileLine:
        for line in self.world.lines.values():
            if line.number == number:
                return line
        raise NotFound(f"no mobile line with number {number!r}", kind="mobile line", number=number)

    def bills_of(self, customer_id: str) -> list:
        return sorted((b for b in self.world.bills.values() if b.customer_id == customer_id), key=lambda b: b.period)

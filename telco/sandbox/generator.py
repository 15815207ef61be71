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
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from pydantic import TypeAdapter

from telco.errors import InvalidInput, TelcoError
from telco.models import World
from telco.sandbox.generator_parts.customers import CustomerBuilder
from telco.sandbox.generator_parts.network import NODE_PREFIX  # noqa: F401  (public name, kept importable from here)
from telco.sandbox.generator_parts.records import _Fast, _world  # noqa: F401  (_Fast: tests build records with it)
from telco.sandbox.generator_profile import GeneratorProfile, load_profile

# Generated worlds share the demo world's "now" so docs and scenarios read the same dates for both.
DEFAULT_CLOCK = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


class _Builder(CustomerBuilder):
    """All the jobs together; build() fixes the order of the draws, and so what a seed produces."""

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
            roaming_partners=self.roaming_partners,
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

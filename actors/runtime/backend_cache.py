"""Which back-end system a tool lives in, and the last good results of the reads that are safe to serve while
that system is down (telco/data/backends.yaml).

The cache is per process and keyed by the verified customer as well as the arguments: a cached answer is only
ever given to the identity the system itself answered, so it never bypasses the tools' access checks.
"""
from __future__ import annotations

import json
import time
from functools import lru_cache
from typing import Any, Callable

import yaml

from telco.data import BACKENDS_FILE


@lru_cache(maxsize=1)
def backends() -> dict[str, Any]:
    """telco/data/backends.yaml, read once."""
    return yaml.safe_load(BACKENDS_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _catalogue() -> tuple[dict[str, str], dict[str, float]]:
    data = backends()
    system_of = {tool: system for system, tools in data["systems"].items() for tool in tools}
    return system_of, {k: float(v) for k, v in data["cacheable"].items()}


def system_of(tool: str) -> str:
    return _catalogue()[0].get(tool, "bss")


def max_age_s(tool: str) -> float | None:
    return _catalogue()[1].get(tool)


@lru_cache(maxsize=1)
def queued_while_down() -> frozenset[str]:
    """Writes the service queues while their system is down and applies once it is back."""
    return frozenset(backends().get("queued_while_down", []))


class ReadCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self.clock, self.max_entries = clock, max_entries
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}

    @staticmethod
    def _key(tool: str, args: dict[str, Any], verified_customer_id: str | None) -> str:
        return json.dumps([tool, verified_customer_id, args], sort_keys=True, default=str)

    def put(self, tool: str, args: dict[str, Any], verified_customer_id: str | None, result: dict[str, Any]) -> None:
        if max_age_s(tool) is None:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[self._key(tool, args, verified_customer_id)] = (self.clock(), result)

    def get(self, tool: str, args: dict[str, Any], verified_customer_id: str | None) -> dict[str, Any] | None:
        age_limit = max_age_s(tool)
        found = self._entries.get(self._key(tool, args, verified_customer_id))
        if age_limit is None or found is None or self.clock() - found[0] > age_limit:
            return None
        return found[1]


READS = ReadCache()  # one per process: every port of a replica shares what its calls have seen

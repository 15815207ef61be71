"""Helpers shared by the memory tests (a plain module: tests/ is not a package, and a package named
tests.memory would shadow the real memory package)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


class Clock:
    """A settable clock so TTLs and recency are tested without sleeping."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> datetime:
        self.now += timedelta(**kw)
        return self.now

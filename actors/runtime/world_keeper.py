"""The OSS/BSS sandbox's world kept in memory (table `sandbox_world`), so that it outlives its replica.

The world lives in the one OssBss replica's process. Without this, a replica replaced after a node loss, or a
cluster restarted, would start from the demo fixture again: hand-offs waiting for a person, account changes the
customers were told about, and the outages behind open incidents would be gone. So every change is kept before
the call that made it returns, and a new replica starts from the kept world.

Keeping is a group commit: callers that changed the world while a snapshot was being written share the next one,
so the number of writes is bounded by how fast the single writer commits, not by the number of calls. Its cost is
the size of the world (the demo world: 46 kB and 0.5 ms to serialise; a generated 1,000-customer world: 2.6 MB and
43 ms), which suits the sandbox; a real operator adapter keeps nothing here, its systems keep their own state.
"""
from __future__ import annotations

import asyncio
from typing import Any, Callable

from memory.store import connect, now_utc, sql_str
from memory.writer import Op

TABLE = "sandbox_world"
WORLD_ID = "current"


class WorldKeeper:
    def __init__(self, memory_uri: str, writer: Any = None) -> None:
        """`writer`: the single writer by default (a Ray actor per table group); a LocalWriter in-process."""
        from memory.writer import RayWriter

        self.store = connect(memory_uri)
        self.writer = writer if writer is not None else RayWriter(memory_uri)
        self._lock: asyncio.Lock | None = None
        self._asked = 0  # changes announced
        self._kept = 0  # changes covered by a committed snapshot
        self._last: str | None = None

    def load(self) -> str | None:
        """The kept world as JSON, or None when nothing was kept yet."""
        rows = (self.store.table(TABLE).search().where(f"world_id = {sql_str(WORLD_ID)}")
                .select(["world_json"]).limit(1).to_list())
        self._last = rows[0]["world_json"] if rows else None
        return self._last

    async def keep(self, dump: Callable[[], str]) -> None:
        """Returns once a snapshot taken after this call began is committed (or the world is as last kept)."""
        self._asked += 1
        mine = self._asked
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self._kept >= mine:
                return  # a snapshot taken while this caller waited already holds its change
            upto, text = self._asked, dump()
            if text != self._last:
                await self.writer.apply_async([Op(table=TABLE, kind="upsert", rows=[
                    {"world_id": WORLD_ID, "world_json": text, "saved_at": now_utc()}])])
                self._last = text
            self._kept = upto

"""Reading episodes for the learning jobs: the new ones a job has not learned from yet (watermark + ledger), some by
id, or all of them; and what can be read off one episode without any other data."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from memory.experiments import SERVED_PROMPTS_STEP
from memory.store import MemoryStore, sql_str, sql_ts

from jobs.common.tables import rows_in

COLUMNS = ["episode_id", "customer_id", "conversation_id", "summary", "intent", "steps", "outcome",
           "started_at", "ended_at"]
# Episodes may land after newer ones (the planner writes them off the reply path); a job re-reads this far back
# from its watermark and skips what its ledger already holds.
GRACE = timedelta(hours=1)

_PLAYBOOK = re.compile(r"with playbook ([a-z0-9_]+)(?: v(\d+))?")


def playbook_of(summary: str) -> tuple[str | None, int | None]:
    m = _PLAYBOOK.search(summary or "")
    if not m or m.group(1) == "none":
        return None, None
    return m.group(1), int(m.group(2)) if m.group(2) else None


def steps_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    """What was done in the episode (the note naming the prompt versions that served it is not a step taken)."""
    raw = row.get("steps")
    steps = json.loads(raw) if isinstance(raw, str) else list(raw or [])
    return [s for s in steps if s.get("name") != SERVED_PROMPTS_STEP]


def read_all(store: MemoryStore) -> list[dict]:
    return store.table("episodes").search().select(COLUMNS).limit(10_000_000).to_arrow().to_pylist()


def read_new(store: MemoryStore, job: str, watermark: datetime | None, *, limit: int = 10_000_000) -> list[dict]:
    """Episodes this job has not learned from yet: ended after (watermark - GRACE) and not in its ledger."""
    table = store.table("episodes")
    where = f"ended_at >= {sql_ts(watermark - GRACE)}" if watermark else None
    q = table.search()
    if where:
        q = q.where(where)
    rows = q.select(COLUMNS).limit(limit).to_arrow().to_pylist()
    if not rows:
        return []
    seen = ledger_ids(store, job, watermark)
    return [r for r in rows if f"{job}:{r['episode_id']}" not in seen]


def read_ids(store: MemoryStore, episode_ids: list[str]) -> list[dict]:
    """The episodes with these ids (in chunks, so the filter stays short)."""
    return rows_in(store.table("episodes"), "episode_id", episode_ids, COLUMNS, chunk=1000)


def ledger_ids(store: MemoryStore, job: str, watermark: datetime | None) -> set[str]:
    where = f"job = {sql_str(job)}"
    if watermark:
        where += f" AND ended_at >= {sql_ts(watermark - GRACE)}"
    t = store.table("learned_episodes").search().where(where).select(["ledger_id"]).limit(10_000_000).to_arrow()
    return set(t.column("ledger_id").to_pylist())

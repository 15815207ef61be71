"""Reading episodes for the learning jobs, typed (telco.contract.episode.Episode): the new ones a job has not
learned from yet (watermark + ledger), some by id, or every episode (matching a filter). Everything a job reads
off an episode is a field; the summary is never parsed."""
from __future__ import annotations

from datetime import datetime, timedelta

from jobs.common.tables import rows_in
from memory.episodic import COLUMNS, from_row
from memory.store import MemoryStore, sql_str, sql_ts
from telco.contract.episode import Episode

# Episodes may land after newer ones (the planner writes them off the reply path); a job re-reads this far back
# from its watermark and skips what its ledger already holds.
GRACE = timedelta(hours=1)


def read_all(store: MemoryStore, where: str | None = None, *, limit: int = 10_000_000) -> list[Episode]:
    """Every episode (matching `where`), in table order."""
    return [from_row(r) for r in _rows(store, where, limit)]


def read_new(store: MemoryStore, job: str, watermark: datetime | None, *, limit: int = 10_000_000) -> list[Episode]:
    """Episodes this job has not learned from yet: ended after (watermark - GRACE) and not in its ledger."""
    rows = _rows(store, f"ended_at >= {sql_ts(watermark - GRACE)}" if watermark else None, limit)
    if not rows:
        return []
    seen = ledger_ids(store, job, watermark)
    return [from_row(r) for r in rows if f"{job}:{r['episode_id']}" not in seen]


def _rows(store: MemoryStore, where: str | None, limit: int) -> list[dict]:
    q = store.table("episodes").search()
    if where:
        q = q.where(where)
    return q.select(COLUMNS).limit(limit).to_arrow().to_pylist()


def read_ids(store: MemoryStore, episode_ids: list[str]) -> list[Episode]:
    """The episodes with these ids (in chunks, so the filter stays short)."""
    return [from_row(r) for r in rows_in(store.table("episodes"), "episode_id", episode_ids, COLUMNS, chunk=1000)]


def ledger_ids(store: MemoryStore, job: str, watermark: datetime | None) -> set[str]:
    where = f"job = {sql_str(job)}"
    if watermark:
        where += f" AND ended_at >= {sql_ts(watermark - GRACE)}"
    t = store.table("learned_episodes").search().where(where).select(["ledger_id"]).limit(10_000_000).to_arrow()
    return set(t.column("ledger_id").to_pylist())

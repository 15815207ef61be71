"""Episodic memory: one record per issue handled, and the customer-scoped ways to recall them.

Every query takes the customer id as a required argument and filters on it before ranking (prefilter), so an
episode can only ever reach the conversation of the customer it belongs to. Offline jobs that learn across
customers read the table as a dataset (ray.data.read_lance on store.uri) and must not feed rows back into a
conversation.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, TypeAdapter

from memory.embed import Embedder
from memory.redact import redact, redact_text
from memory.retrieval import recency_weight, rrf_fuse, run_lists, scoped_filter, text_search, top, vector_search
from memory.store import MemoryStore, now_utc, sql_str, sql_ts
from memory.writer import WriterBase
from telco.contract.episode import Episode, EpisodeStep, Outcome
from telco.errors import InvalidInput, NotFound


class EpisodeHit(BaseModel):
    episode: Episode
    score: float
    similarity: float | None = None


def _to_row(ep: Episode, vector) -> dict:
    clean = ep.model_copy(update={"summary": redact_text(ep.summary),
                                  "steps": [EpisodeStep.model_validate(redact(s.model_dump())) for s in ep.steps]})
    return {
        "episode_id": clean.episode_id,
        "customer_id": clean.customer_id,
        "conversation_id": clean.conversation_id,
        "channel": clean.channel,
        "issue_key": clean.issue_key,
        "summary": clean.summary,
        "intents": clean.intents,
        "intent": clean.intent,
        "service_type": clean.service_type,
        "playbook": clean.playbook,
        "playbook_version": clean.playbook_version,
        "prompts": clean.prompts,
        "steps": json.dumps([s.model_dump(mode="json") for s in clean.steps]),
        "outcome": clean.outcome,
        "resolution_minutes": clean.resolution_minutes,
        "csat": clean.csat,
        "started_at": clean.started_at,
        "ended_at": clean.ended_at,
        "vector": None if vector is None else [float(x) for x in vector],
    }


# Steps are stored as JSON text; pydantic parses and validates it in one pass (the learning jobs read every row).
_STEPS = TypeAdapter(list[EpisodeStep])


def from_row(row: dict[str, Any]) -> Episode:
    """A stored row as the typed episode. Rows from before schema v2 have no playbook, playbook_version or prompts
    (the columns read as null): they load with no playbook (the summary's prose is never parsed for one) and
    with the prompts their served-prompts note step named (telco.contract.episode lifts it)."""
    return Episode.model_validate({
        "episode_id": row["episode_id"], "customer_id": row["customer_id"],
        "conversation_id": row.get("conversation_id"), "channel": row.get("channel") or "chat",
        "issue_key": row.get("issue_key"), "summary": row["summary"], "intents": list(row.get("intents") or []),
        "service_type": row.get("service_type"), "playbook": row.get("playbook"),
        "playbook_version": row.get("playbook_version"), "prompts": list(row.get("prompts") or []),
        "steps": _STEPS.validate_json(row.get("steps") or "[]"), "outcome": row["outcome"], "csat": row.get("csat"),
        "started_at": row["started_at"], "ended_at": row["ended_at"],
    })


# Every stored column but the vector: what a read needs to rebuild the episode.
COLUMNS = ["episode_id", "customer_id", "conversation_id", "channel", "issue_key", "summary", "intents", "intent",
           "service_type", "playbook", "playbook_version", "prompts", "steps", "outcome", "resolution_minutes",
           "csat", "started_at", "ended_at"]


class EpisodicMemory:
    def __init__(self, store: MemoryStore, writer: WriterBase, embedder: Embedder) -> None:
        self.store = store
        self.writer = writer
        self.embedder = embedder

    @property
    def table(self):
        return self.store.table("episodes")

    def record(self, *episodes: Episode) -> int:
        """Store episodes (redacted, embedded). Re-recording the same episode_id replaces it."""
        if not episodes:
            return 0
        vecs = self.embedder.embed([redact_text(e.summary) for e in episodes])
        rows = [_to_row(e, v) for e, v in zip(episodes, vecs)]
        self.writer.upsert("episodes", rows)
        return len(rows)

    def get(self, customer_id: str, episode_id: str) -> Episode:
        rows = (self.table.search().where(scoped_filter(customer_id, f"episode_id = {sql_str(episode_id)}"))
                .select(COLUMNS).limit(1).to_list())
        if not rows:
            raise NotFound(f"customer {customer_id!r} has no episode {episode_id!r}")
        return from_row(rows[0])

    def similar(self, customer_id: str, text: str, *, k: int = 5, intent: str | None = None,
                outcome: Outcome | None = None, since: datetime | None = None,
                half_life_days: float = 90.0, now: datetime | None = None, hybrid: bool = True) -> list[EpisodeHit]:
        """This customer's episodes most like `text`, optionally filtered, ranked by similarity x recency.

        Hybrid adds keyword matches (device names, error codes) that embeddings blur; the two lists are fused by
        reciprocal rank and then weighted by recency so last week's episode beats a similar one from last year.
        """
        if k < 1:
            raise InvalidInput(f"k must be at least 1, got {k}")
        extra = []
        if intent:
            extra.append(f"intent = {sql_str(intent)}")
        if outcome:
            extra.append(f"outcome = {sql_str(outcome)}")
        if since:
            extra.append(f"ended_at >= {sql_ts(since)}")
        where = scoped_filter(customer_id, *extra)
        pool = max(20, k * 4)
        vec = self.embedder.embed_one(text)
        table = self.table
        # Exact over the customer's rows: the scalar index on customer_id narrows 1M episodes to a few dozen.
        queries = {"vector": lambda: vector_search(table, vec, key="episode_id", where=where, limit=pool,
                                                   columns=COLUMNS, exact=True)}
        if hybrid:
            queries["fts"] = lambda: text_search(table, text, key="episode_id", column="summary", where=where,
                                                 limit=pool, columns=COLUMNS)
        lists = run_lists(queries)
        vhits = lists["vector"]
        now = now or now_utc()
        sims = {h.key: h.score for h in vhits}
        fused = rrf_fuse(lists)
        for h in fused:
            h.score *= recency_weight(h.row["ended_at"], now, half_life_days)
        out = []
        for h in top(fused, k):
            # Defence in depth: the prefilter already scoped the query; a row of anyone else is a bug.
            if h.row["customer_id"] != customer_id:
                raise AssertionError("episode of another customer escaped the customer filter")
            out.append(EpisodeHit(episode=from_row(h.row), score=h.score, similarity=sims.get(h.key)))
        return out

    def history(self, customer_id: str, *, start: datetime | None = None, end: datetime | None = None,
                limit: int = 100) -> list[Episode]:
        """This customer's episodes that ended in [start, end), newest first."""
        extra = []
        if start:
            extra.append(f"ended_at >= {sql_ts(start)}")
        if end:
            extra.append(f"ended_at < {sql_ts(end)}")
        rows = (self.table.search().where(scoped_filter(customer_id, *extra)).select(COLUMNS)
                .limit(100_000).to_list())
        rows.sort(key=lambda r: (r["ended_at"], r["episode_id"]), reverse=True)
        return [from_row(r) for r in rows[:limit]]

    def follow_ups(self, customer_id: str, episode_id: str, *,
                   within: timedelta = timedelta(days=30)) -> list[Episode]:
        """The same customer's later episodes on the same issue (same issue_key, or same intent and service when
        no key was given) that started within `within` of this one ending, oldest first.

        Chains the follow-ups: each one extends the window, so a thread of repeat contacts is returned whole.
        """
        first = self.get(customer_id, episode_id)
        if first.issue_key:
            same = f"issue_key = {sql_str(first.issue_key)}"
        elif first.intent:
            same = f"intent = {sql_str(first.intent)}"
            if first.service_type:
                same += f" AND service_type = {sql_str(first.service_type)}"
        else:
            return []
        rows = (self.table.search()
                .where(scoped_filter(customer_id, same, f"started_at >= {sql_ts(first.ended_at)}"))
                .select(COLUMNS).limit(100_000).to_list())
        rows.sort(key=lambda r: (r["started_at"], r["episode_id"]))
        chain: list[Episode] = []
        horizon = first.ended_at + within
        for r in rows:
            if r["episode_id"] == episode_id:
                continue
            if r["started_at"] > horizon:
                break
            ep = from_row(r)
            chain.append(ep)
            horizon = ep.ended_at + within
        return chain

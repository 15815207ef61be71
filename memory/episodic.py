"""Episodic memory: one record per issue handled, and the customer-scoped ways to recall them.

Every query takes the customer id as a required argument and filters on it before ranking (prefilter), so an
episode can only ever reach the conversation of the customer it belongs to. Offline jobs that learn across
customers read the table as a dataset (ray.data.read_lance on store.uri) and must not feed rows back into a
conversation.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from telco.errors import InvalidInput, NotFound

from memory.embed import Embedder
from memory.redact import redact, redact_text
from memory.retrieval import (recency_weight, require_customer, rrf_fuse, run_lists, scoped_filter, text_search, top,
                        vector_search)
from memory.store import MemoryStore, now_utc, sql_str, sql_ts
from memory.writer import WriterBase

Outcome = Literal["resolved", "escalated", "abandoned", "unresolved"]


class EpisodeStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["tool", "customer_step", "inform", "ask", "handoff", "note"]
    result: Any = None
    ok: bool | None = None


class Episode(BaseModel):
    model_config = ConfigDict(extra="forbid")
    episode_id: str = Field(min_length=1)
    customer_id: str
    conversation_id: str | None = None
    channel: str = "chat"
    # Identifies "the same issue" across episodes (e.g. "broadband_drops:BB-0001") for follow-up chains.
    issue_key: str | None = None
    summary: str = Field(min_length=1)
    intents: list[str] = Field(default_factory=list)
    service_type: str | None = None
    steps: list[EpisodeStep] = Field(default_factory=list)
    outcome: Outcome
    csat: int | None = Field(default=None, ge=1, le=5)
    started_at: datetime
    ended_at: datetime

    @field_validator("customer_id")
    @classmethod
    def _customer(cls, v: str) -> str:
        try:
            return require_customer(v)
        except InvalidInput as exc:  # pydantic reports ValueErrors as field errors
            raise ValueError(exc.message) from None

    @field_validator("started_at", "ended_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("timestamps must carry a timezone (UTC)")
        return v

    @model_validator(mode="after")
    def _order(self) -> "Episode":
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self

    @property
    def intent(self) -> str | None:
        return self.intents[0] if self.intents else None

    @property
    def resolution_minutes(self) -> float:
        return (self.ended_at - self.started_at).total_seconds() / 60


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
        "steps": json.dumps([s.model_dump(mode="json") for s in clean.steps]),
        "outcome": clean.outcome,
        "resolution_minutes": clean.resolution_minutes,
        "csat": clean.csat,
        "started_at": clean.started_at,
        "ended_at": clean.ended_at,
        "vector": None if vector is None else [float(x) for x in vector],
    }


def _from_row(row: dict) -> Episode:
    return Episode(
        episode_id=row["episode_id"], customer_id=row["customer_id"], conversation_id=row.get("conversation_id"),
        channel=row.get("channel") or "chat", issue_key=row.get("issue_key"), summary=row["summary"],
        intents=list(row.get("intents") or []), service_type=row.get("service_type"),
        steps=[EpisodeStep.model_validate(s) for s in json.loads(row.get("steps") or "[]")],
        outcome=row["outcome"], csat=row.get("csat"), started_at=row["started_at"], ended_at=row["ended_at"],
    )


_COLUMNS = ["episode_id", "customer_id", "conversation_id", "channel", "issue_key", "summary", "intents", "intent",
            "service_type", "steps", "outcome", "resolution_minutes", "csat", "started_at", "ended_at"]


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
                .select(_COLUMNS).limit(1).to_list())
        if not rows:
            raise NotFound(f"customer {customer_id!r} has no episode {episode_id!r}")
        return _from_row(rows[0])

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
                                                   columns=_COLUMNS, exact=True)}
        if hybrid:
            queries["fts"] = lambda: text_search(table, text, key="episode_id", column="summary", where=where,
                                                 limit=pool, columns=_COLUMNS)
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
            out.append(EpisodeHit(episode=_from_row(h.row), score=h.score, similarity=sims.get(h.key)))
        return out

    def history(self, customer_id: str, *, start: datetime | None = None, end: datetime | None = None,
                limit: int = 100) -> list[Episode]:
        """This customer's episodes that ended in [start, end), newest first."""
        extra = []
        if start:
            extra.append(f"ended_at >= {sql_ts(start)}")
        if end:
            extra.append(f"ended_at < {sql_ts(end)}")
        rows = (self.table.search().where(scoped_filter(customer_id, *extra)).select(_COLUMNS)
                .limit(100_000).to_list())
        rows.sort(key=lambda r: (r["ended_at"], r["episode_id"]), reverse=True)
        return [_from_row(r) for r in rows[:limit]]

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
                .select(_COLUMNS).limit(100_000).to_list())
        rows.sort(key=lambda r: (r["started_at"], r["episode_id"]))
        chain: list[Episode] = []
        horizon = first.ended_at + within
        for r in rows:
            if r["episode_id"] == episode_id:
                continue
            if r["started_at"] > horizon:
                break
            ep = _from_row(r)
            chain.append(ep)
            horizon = ep.ended_at + within
        return chain

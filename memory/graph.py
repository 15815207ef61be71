"""Knowledge graph over the kg_edges table: typed entities joined by relations that hold for a time.

A fact is an edge (src -relation-> dst) with valid_from/valid_to. Facts are never deleted: a contradicting fact
closes the old edge (valid_to set, invalidated_by pointing at the new edge), so the graph can answer both "what
is true now" and "what did we believe then". Repeated observations of a fact raise its evidence count instead of
adding edges. Writers: the knowledge ingestion and the offline learning jobs, one at a time.
"""
from __future__ import annotations

import re
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Iterable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from memory.redact import redact_text
from memory.store import MemoryStore, now_utc, sql_str
from memory.writer import Op, WriterBase
from telco.data import KG_SEED_FILE
from telco.errors import InvalidInput

EntityType = Literal["product", "plan", "device", "symptom", "cause", "fix", "area", "section", "intent",
                     "policy", "service"]
# A subject has at most one open object for these relations; asserting a new one closes the old.
EXCLUSIVE_RELATIONS = frozenset({"has_status", "has_plan", "located_in", "has_firmware", "current_version"})

SEED_PATH = KG_SEED_FILE


def entity(name: str) -> str:
    """Canonical entity name: lowercase, single spaces. Names are ids, so 'Router ' and 'router' are one node."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"an entity name must be a non-empty string, got {name!r}")
    return " ".join(name.lower().split())


class Fact(BaseModel):
    edge_id: str
    src: str
    src_type: str | None = None
    relation: str
    dst: str
    dst_type: str | None = None
    valid_from: datetime
    valid_to: datetime | None = None
    evidence_count: int = 1
    sources: list[str] = Field(default_factory=list)
    invalidated_by: str | None = None

    @property
    def open(self) -> bool:
        return self.valid_to is None

    def holds_at(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)


class Reached(BaseModel):
    """An entity found by traversal: how far from the start and through which facts."""

    entity: str
    entity_type: str | None = None
    depth: int
    path: list[str]  # edge ids from the start


def _edge_id(src: str, relation: str, dst: str, valid_from: datetime) -> str:
    return f"{src}|{relation}|{dst}|{valid_from.isoformat()}"


def _fact(row: dict) -> Fact:
    return Fact(**{k: row.get(k) for k in Fact.model_fields if k in row}) if row else None


class KnowledgeGraph:
    def __init__(self, store: MemoryStore, writer: WriterBase, *,
                 exclusive: Iterable[str] = EXCLUSIVE_RELATIONS) -> None:
        self.store = store
        self.writer = writer
        self.exclusive = frozenset(exclusive)

    @property
    def table(self):
        return self.store.table("kg_edges")

    def _rows(self, where: str) -> list[dict]:
        return self.table.search().where(where).limit(1_000_000).to_list()

    def _open_edges(self, src: str, relation: str) -> list[Fact]:
        rows = self._rows(f"src = {sql_str(src)} AND relation = {sql_str(relation)} AND valid_to IS NULL")
        return [_fact(r) for r in rows]

    # -- writes ------------------------------------------------------------------------------------------------
    def assert_fact(self, src: str, relation: str, dst: str, *, src_type: str | None = None,
                    dst_type: str | None = None, source: str | None = None, at: datetime | None = None,
                    exclusive: bool | None = None) -> Fact:
        """Record that src -relation-> dst holds from `at` on.

        Same open fact again: evidence +1. A relation that allows one object (exclusive) and a different open
        object: the old edge is closed at `at` and the new one opened, in one commit.
        """
        src, dst = entity(src), entity(dst)
        if not relation or not re.fullmatch(r"[a-z][a-z0-9_]*", relation):
            raise InvalidInput(f"relation must be snake_case like 'caused_by', got {relation!r}")
        at = at or now_utc()
        if at.tzinfo is None:
            raise InvalidInput("fact timestamps must carry a timezone (UTC)")
        exclusive = relation in self.exclusive if exclusive is None else exclusive
        source = redact_text(source) if source else None
        open_edges = self._open_edges(src, relation)
        same = [f for f in open_edges if f.dst == dst]
        if same:
            f = same[0]
            f.evidence_count += 1
            if source and source not in f.sources:
                f.sources.append(source)
            self.writer.upsert("kg_edges", [f.model_dump()])
            return f
        new = Fact(edge_id=_edge_id(src, relation, dst, at), src=src, src_type=src_type, relation=relation,
                   dst=dst, dst_type=dst_type, valid_from=at, sources=[source] if source else [])
        rows = [new.model_dump()]
        if exclusive:
            for old in open_edges:
                if old.valid_from > at:
                    raise InvalidInput(f"cannot assert {src} {relation} {dst} at {at.isoformat()}: the current "
                                       f"fact started later ({old.valid_from.isoformat()})")
                rows.append(old.model_copy(update={"valid_to": at, "invalidated_by": new.edge_id}).model_dump())
        self.writer.apply([Op(table="kg_edges", kind="upsert", rows=rows)])
        return new

    def add_evidence(self, counts: dict[tuple[str, str, str], int], *, at: datetime | None = None,
                     source: str | None = None, batch: str | None = None) -> int:
        """Many observations at once: each (src, relation, dst) gains `n` evidence, opened when new; one commit.

        For the learning jobs, which count thousands of episodes; relations here are not exclusive. `batch` names
        this set of counts: an edge keeps the latest batch of each source ("<source>@<batch>") and one that
        already carries this batch is left alone, so applying a batch again after a crash counts nothing twice."""
        at = at or now_utc()
        tag = f"{source}@{batch}" if source and batch else source
        rows = []
        for (src, relation, dst), n in sorted(counts.items()):
            if n <= 0:
                continue
            src_e, dst_e = entity(src), entity(dst)
            same = [f for f in self._open_edges(src_e, relation) if f.dst == dst_e]
            if same:
                f = same[0]
                if batch and tag in f.sources:
                    continue
                f.evidence_count += n
                if batch:
                    f.sources = [s for s in f.sources if not s.startswith(f"{source}@")]
                if tag and tag not in f.sources:
                    f.sources.append(tag)
            else:
                f = Fact(edge_id=_edge_id(src_e, relation, dst_e, at), src=src_e, relation=relation, dst=dst_e,
                         valid_from=at, evidence_count=n, sources=[tag] if tag else [])
            rows.append(f.model_dump())
        if rows:
            self.writer.upsert("kg_edges", rows)
        return len(rows)

    def invalidate(self, src: str, relation: str, dst: str, *, at: datetime | None = None,
                   reason: str | None = None) -> int:
        """Close the open fact(s) src -relation-> dst at `at`. Returns how many were closed (0 if none open)."""
        src, dst = entity(src), entity(dst)
        at = at or now_utc()
        closing = [f for f in self._open_edges(src, relation) if f.dst == dst]
        if not closing:
            return 0
        rows = [f.model_copy(update={"valid_to": at, "invalidated_by": reason or "invalidated"}).model_dump()
                for f in closing]
        self.writer.upsert("kg_edges", rows)
        return len(rows)

    def load_seed(self, path: Path | str = SEED_PATH, *, at: datetime | None = None) -> int:
        """Load curated facts from YAML ({src, src_type, relation, dst, dst_type, source}); idempotent by fact."""
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise InvalidInput(f"{path}: cannot read the graph seed: {exc}") from exc
        if not isinstance(raw, list):
            raise InvalidInput(f"{path}: the graph seed must be a list of facts")
        at = at or now_utc()
        rows: dict[str, dict] = {}
        existing = {(f.src, f.relation, f.dst) for f in map(_fact, self._rows("valid_to IS NULL"))}
        for i, item in enumerate(raw):
            try:
                seed = _SeedFact.model_validate(item)
            except ValidationError as exc:
                raise InvalidInput(f"{path}: fact {i}: {exc.errors()[0]['msg']} at "
                                   f"{'.'.join(map(str, exc.errors()[0]['loc']))}") from exc
            src, dst = entity(seed.src), entity(seed.dst)
            if (src, seed.relation, dst) in existing:
                continue
            f = Fact(edge_id=_edge_id(src, seed.relation, dst, at), src=src, src_type=seed.src_type,
                     relation=seed.relation, dst=dst, dst_type=seed.dst_type, valid_from=at,
                     sources=[seed.source] if seed.source else [])
            rows[f.edge_id] = f.model_dump()
        if rows:
            self.writer.upsert("kg_edges", list(rows.values()))
        return len(rows)

    # -- reads -------------------------------------------------------------------------------------------------
    def facts(self, name: str, *, relation: str | None = None, direction: Literal["out", "in", "both"] = "both",
              at: datetime | None = None, include_closed: bool = False) -> list[Fact]:
        """Facts touching an entity; by default only those holding now (or at `at`)."""
        n = sql_str(entity(name))
        sides = {"out": f"src = {n}", "in": f"dst = {n}", "both": f"(src = {n} OR dst = {n})"}[direction]
        where = sides + (f" AND relation = {sql_str(relation)}" if relation else "")
        facts = [_fact(r) for r in self._rows(where)]
        if not include_closed:
            when = at or now_utc()
            facts = [f for f in facts if f.holds_at(when)] if at else [f for f in facts if f.open]
        return sorted(facts, key=lambda f: (f.valid_from, f.edge_id))

    def history(self, src: str, relation: str) -> list[Fact]:
        rows = self._rows(f"src = {sql_str(entity(src))} AND relation = {sql_str(relation)}")
        return sorted(map(_fact, rows), key=lambda f: (f.valid_from, f.edge_id))

    def traverse(self, start: str | Iterable[str], *, depth: int = 2, relations: Iterable[str] | None = None,
                 at: datetime | None = None, limit: int = 50) -> list[Reached]:
        """Breadth-first over facts that hold (in both directions), up to `depth` hops; start nodes excluded."""
        if depth < 1:
            raise InvalidInput(f"traversal depth must be at least 1, got {depth}")
        starts = [entity(start)] if isinstance(start, str) else [entity(s) for s in start]
        allowed = set(relations) if relations else None
        seen = set(starts)
        out: list[Reached] = []
        frontier = deque((s, 0, []) for s in starts)
        while frontier and len(out) < limit:
            node, d, path = frontier.popleft()
            if d == depth:
                continue
            for f in self.facts(node, at=at):
                if allowed and f.relation not in allowed:
                    continue
                nxt, typ = (f.dst, f.dst_type) if f.src == node else (f.src, f.src_type)
                if nxt in seen:
                    continue
                seen.add(nxt)
                r = Reached(entity=nxt, entity_type=typ, depth=d + 1, path=[*path, f.edge_id])
                out.append(r)
                frontier.append((nxt, d + 1, r.path))
        return out[:limit]

    def entities(self) -> dict[str, str | None]:
        """Every entity named by an open fact, with its type."""
        out: dict[str, str | None] = {}
        for f in map(_fact, self._rows("valid_to IS NULL")):
            out.setdefault(f.src, f.src_type)
            out.setdefault(f.dst, f.dst_type)
        return out


class _SeedFact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    src: str
    src_type: EntityType
    relation: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    dst: str
    dst_type: EntityType
    source: str | None = None

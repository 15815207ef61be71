"""Semantic memory: the knowledge base as citable chunks, searched by vector, full text or both.

Chunks follow the KB's own structure: one chunk per `## ` section (sections are written to answer one question
each), split further only when a section is long. Every chunk carries its citation "<doc_id>#<slug>" and the
document title and heading are part of the indexed text, because customers often name the topic ("roaming",
"MMS") rather than the words inside the paragraph.
"""
from __future__ import annotations

import re
from typing import Callable, Iterable, Literal

from pydantic import BaseModel

from memory.embed import Embedder
from memory.graph import Fact, KnowledgeGraph
from memory.retrieval import Hit, best_per, relative_score_fuse, rrf_fuse, run_lists, text_search, vector_search
from memory.store import MemoryStore, sql_str
from memory.writer import Op, WriterBase
from telco.errors import InvalidInput
from telco.knowledge import titled

Mode = Literal["vector", "fts", "hybrid"]
Fusion = Literal["score", "rrf"]
MAX_CHUNK_CHARS = 1_200
# Vector vs full-text weight for score fusion: 0.75/0.25, the default balance of common hybrid engines (fixed up
# front, not fitted to the labelled questions). Paraphrased customer questions share few words with the KB, so
# the lexical side is the weaker signal and gets the smaller share.
VECTOR_WEIGHT = 0.75


class Chunk(BaseModel):
    chunk_id: str
    section_id: str
    doc_id: str
    doc_title: str
    heading: str
    kind: str
    services: list[str]
    text: str


class Citation(BaseModel):
    document: str
    section: str  # "<doc_id>#<slug>"
    heading: str
    title: str


class KnowledgeHit(BaseModel):
    section_id: str
    text: str
    score: float
    citation: Citation
    via: Literal["search", "graph"] = "search"
    ranks: dict[str, int] = {}


class KnowledgeResult(BaseModel):
    hits: list[KnowledgeHit]
    facts: list[Fact] = []


def _paragraph_windows(text: str, limit: int) -> list[str]:
    paras = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    out: list[str] = []
    cur = ""
    for p in paras:
        if cur and len(cur) + len(p) + 2 > limit:
            out.append(cur)
            cur = p
        else:
            cur = f"{cur}\n\n{p}" if cur else p
    if cur:
        out.append(cur)
    return out


def chunk_documents(docs: Iterable) -> list[Chunk]:
    """KB documents (telco.knowledge.KbDocument) to chunks; deterministic ids so re-ingestion upserts in place."""
    chunks: list[Chunk] = []
    for doc in docs:
        for sec in doc.sections:
            parts = [sec.text] if len(sec.text) <= MAX_CHUNK_CHARS else _paragraph_windows(sec.text, MAX_CHUNK_CHARS)
            for i, part in enumerate(parts):
                chunks.append(Chunk(
                    chunk_id=f"{sec.id}~{i}", section_id=sec.id, doc_id=doc.id, doc_title=doc.title,
                    heading=sec.heading, kind=doc.kind, services=list(doc.services),
                    text=titled(doc.title, sec.heading, part),
                ))
    return chunks


class SemanticMemory:
    def __init__(self, store: MemoryStore, writer: WriterBase, embedder: Embedder,
                 graph: KnowledgeGraph | None = None) -> None:
        self.store = store
        self.writer = writer
        self.embedder = embedder
        self.graph = graph

    @property
    def table(self):
        return self.store.table("kb_chunks")

    def ingest(self, docs: Iterable | None = None) -> int:
        """Embed and store the KB (default: telco.knowledge.load_documents()); chunks no longer in the KB are
        deleted in the same commit, so the table always mirrors one version of the KB and the added sections."""
        if docs is None:
            from telco.knowledge import load_documents

            docs = load_documents()
        chunks = chunk_documents(docs)
        if not chunks:
            raise InvalidInput("no knowledge-base sections to ingest")
        keep = {c.chunk_id for c in chunks}
        # Sections people added through the admin route (memory/kb_sections.py) are part of the KB too.
        added = {r["section_id"] for r in self.store.table("kb_sections").search().select(["section_id"])
                 .limit(1_000_000).to_list()}
        stored = self.table.search().select(["chunk_id", "section_id", "text"]).limit(1_000_000).to_list()
        stale = [r["chunk_id"] for r in stored if r["chunk_id"] not in keep and r["section_id"] not in added]
        # Every start of the app runs this: only a chunk that is new or whose text changed is embedded and written
        # again, so a restart over existing memory does not re-embed the whole KB.
        same = {(r["chunk_id"], r["text"]) for r in stored}
        changed = [c for c in chunks if (c.chunk_id, c.text) not in same]
        ops = []
        if changed:
            vecs = self.embedder.embed([c.text for c in changed])
            ops.append(Op(table="kb_chunks", kind="upsert",
                          rows=[{**c.model_dump(), "vector": v.tolist()} for c, v in zip(changed, vecs)]))
        if stale:
            ops.append(Op(table="kb_chunks", kind="delete", keys=stale))
        if ops:
            self.writer.apply(ops)
        return len(chunks)

    def _lists(self, query: str, mode: Mode, pool: int, where: str | None,
               query_vector=None) -> dict[str, list[Hit]]:
        queries: dict[str, Callable[[], list[Hit]]] = {}
        if mode in ("vector", "hybrid"):
            vec = query_vector if query_vector is not None else self.embedder.embed_one(query)
            queries["vector"] = lambda: vector_search(self.table, vec, key="chunk_id", where=where, limit=pool)
        if mode in ("fts", "hybrid"):
            queries["fts"] = lambda: text_search(self.table, query, key="chunk_id", column="text", where=where,
                                                 limit=pool)
        return run_lists(queries)

    def search(self, query: str, *, k: int = 5, mode: Mode = "hybrid", services: Iterable[str] | None = None,
               expand_graph: bool = False, pool: int = 30, fusion: Fusion = "score",
               query_vector=None) -> KnowledgeResult:
        """Top-k sections for a question, each with its citation; one hit per section.

        Hybrid fuses the vector and full-text results per section, by normalised score (default) or by
        reciprocal rank (fusion="rrf"; measured weaker on the labelled set, see memory/eval_retrieval.py). With expand_graph, entities named in
        the question are looked up in the knowledge graph and the sections their neighbourhood documents are
        appended (tagged via="graph") along with the facts used. `query_vector` skips embedding the question
        when the caller already has its vector (batch evaluation, a vector shared with episodic search).
        """
        if not isinstance(query, str) or not query.strip():
            raise InvalidInput("a knowledge search needs a non-empty question")
        if mode not in ("vector", "fts", "hybrid"):
            raise InvalidInput(f"search mode must be vector, fts or hybrid, got {mode!r}")
        if k < 1:
            raise InvalidInput(f"k must be at least 1, got {k}")
        where = None
        if services:
            where = " OR ".join(f"array_has(services, {sql_str(s)})" for s in services)
        if fusion not in ("score", "rrf"):
            raise InvalidInput(f"fusion must be score or rrf, got {fusion!r}")
        lists = {name: best_per(hits, "section_id") for name, hits in self._lists(query, mode, pool, where, query_vector).items()}
        if mode != "hybrid":
            ranked = lists[mode]
        elif fusion == "rrf":
            ranked = rrf_fuse(lists)
        else:
            ranked = relative_score_fuse(lists, {"vector": VECTOR_WEIGHT, "fts": 1.0 - VECTOR_WEIGHT})
        hits: list[KnowledgeHit] = []
        seen: set[str] = set()
        for h in ranked:
            sid = h.row["section_id"]
            seen.add(sid)
            hits.append(_knowledge_hit(h.row, h.score, "search", h.ranks))
            if len(hits) == k:
                break
        facts: list[Fact] = []
        if expand_graph and self.graph is not None:
            extra, facts = self._expand(query, seen)
            hits.extend(extra)
        return KnowledgeResult(hits=hits, facts=facts)

    def _expand(self, query: str, seen: set[str], *, depth: int = 2, max_sections: int = 3):
        names = self.graph.entities()
        text = " " + " ".join(re.findall(r"[a-z0-9]+", query.lower())) + " "
        # Longest names first so "router overheating" wins over "router".
        mentioned = [n for n in sorted(names, key=len, reverse=True)
                     if names[n] != "section" and f" {n} " in text]
        if not mentioned:
            return [], []
        reached = self.graph.traverse(mentioned, depth=depth)
        sections = [r.entity for r in reached if r.entity_type == "section" and r.entity not in seen]
        facts = {f.edge_id: f for n in mentioned for f in self.graph.facts(n)}
        extra: list[KnowledgeHit] = []
        for sid in sections[:max_sections]:
            rows = self.table.search().where(f"section_id = {sql_str(sid)}").limit(1).to_list()
            if rows:
                extra.append(_knowledge_hit(rows[0], 0.0, "graph", {}))
        return extra, list(facts.values())


def _knowledge_hit(row: dict, score: float, via: str, ranks: dict[str, int]) -> KnowledgeHit:
    return KnowledgeHit(
        section_id=row["section_id"], text=row["text"], score=score, via=via, ranks=dict(ranks),
        citation=Citation(document=row["doc_id"], section=row["section_id"], heading=row["heading"] or "",
                          title=row["doc_title"] or ""),
    )

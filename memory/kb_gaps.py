"""Knowledge gaps: the questions the knowledge agent could not answer (kb_gap_questions, one row per turn) and
their clusters (kb_gaps), both written by the learning job (jobs/intent/knowledge_gaps.py).

A cluster is addressed when a section added through the admin route names it (kb_sections.gap_id): that link is
kept on the section, so the job that rewrites the clusters and the route that adds sections never write the same
table.
"""
from __future__ import annotations

import json
from typing import Any, Literal

from memory.store import MemoryStore
from memory.writer import Op, WriterBase
from telco.contract.kb import KnowledgeGapOut

QUESTIONS, GAPS = "kb_gap_questions", "kb_gaps"
_REPORT_COLUMNS = ["gap_id", "question", "examples", "count", "best_score", "reasons", "first_seen", "last_seen"]


def replace_reports(store: MemoryStore, writer: WriterBase, reports: list[dict[str, Any]]) -> dict[str, int]:
    """The clusters of this run in one commit: upserted by gap id, and every cluster the run no longer finds
    deleted, so no report outlives the questions it stood for."""
    keep = {r["gap_id"] for r in reports}
    have = {r["gap_id"] for r in store.table(GAPS).search().select(["gap_id"]).limit(1_000_000).to_list()}
    gone = sorted(have - keep)
    ops = [Op(table=GAPS, kind="upsert", rows=reports)] if reports else []
    if gone:
        ops.append(Op(table=GAPS, kind="delete", keys=gone))
    if ops:
        writer.apply(ops)
    return {"reports": len(reports), "new": len(keep - have), "removed": len(gone)}


def gap_reports(store: MemoryStore, status: Literal["open", "addressed"] | None = None,
                limit: int = 100) -> list[KnowledgeGapOut]:
    """Largest clusters first; each says whether a section added through the admin route closes it."""
    rows = store.table(GAPS).search().select(_REPORT_COLUMNS).limit(1_000_000).to_list()
    closing: dict[str, list[str]] = {}
    for s in (store.table("kb_sections").search().where("gap_id IS NOT NULL").select(["section_id", "gap_id"])
              .limit(1_000_000).to_list()):
        closing.setdefault(s["gap_id"], []).append(s["section_id"])
    out = [KnowledgeGapOut(gap_id=r["gap_id"], question=r["question"], examples=list(r["examples"] or []),
                           count=r["count"], best_score=r["best_score"], reasons=json.loads(r["reasons"] or "{}"),
                           first_seen=r["first_seen"], last_seen=r["last_seen"], addressed=r["gap_id"] in closing,
                           sections=sorted(closing.get(r["gap_id"], [])))
           for r in rows]
    if status is not None:
        out = [g for g in out if g.addressed == (status == "addressed")]
    out.sort(key=lambda g: (-g.count, g.best_score if g.best_score is not None else -1.0, g.gap_id))
    return out[:limit]

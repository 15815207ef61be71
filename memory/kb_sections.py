"""Knowledge-base sections people add through the admin route: stored, chunked, embedded and indexed next to the
KB files' own chunks, so the knowledge agent retrieves and cites them like any other section.

`kb_sections` keeps each added section whole (what the pages render and the agent quotes from); `kb_chunks` holds
its searchable chunks, written in the same request through the knowledge group's single writer (chunks first, so
a listed section is always searchable). A section is keyed by its citation "<doc_id>#<slug>": posting the same
heading again replaces its text and deletes the chunks a shorter text no longer has, and posting the same text
again writes nothing.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

from memory.embed import Embedder
from memory.semantic import chunk_documents
from memory.store import MemoryStore, now_utc, sql_str
from memory.writer import Op, WriterBase
from telco.contract.kb import KbSectionIn, KbSectionOut
from telco.errors import Conflict, NotFound
from telco.knowledge import KbDocument, KbSection, load_documents, slugify

TABLE = "kb_sections"


def added_documents(store: MemoryStore) -> list[KbDocument]:
    """The added sections grouped into documents (sections in the order they were first added)."""
    rows = store.table(TABLE).search().limit(1_000_000).to_list()
    rows.sort(key=lambda r: (r["added_at"], r["section_id"]))
    docs: dict[str, dict[str, Any]] = {}
    for r in rows:
        d = docs.setdefault(r["doc_id"], {"id": r["doc_id"], "title": r["doc_title"], "kind": r["kind"],
                                          "services": list(r["services"] or []), "updated": r["updated_at"].date(),
                                          "sections": []})
        d["updated"] = max(d["updated"], r["updated_at"].date())
        d["sections"].append(KbSection(id=r["section_id"], heading=r["heading"], text=r["body"]))
    return [KbDocument(**d) for d in docs.values()]


def list_sections(store: MemoryStore) -> list[KbSectionOut]:
    rows = store.table(TABLE).search().limit(1_000_000).to_list()
    return [_out(r) for r in sorted(rows, key=lambda r: (r["added_at"], r["section_id"]))]


def _out(row: dict[str, Any], **flags: bool) -> KbSectionOut:
    doc_id, _, slug = row["section_id"].partition("#")
    return KbSectionOut(section_id=row["section_id"], doc_id=doc_id, title=row["doc_title"], heading=row["heading"],
                        kind=row["kind"], services=list(row["services"] or []), body=row["body"],
                        chunks=len(row["chunk_ids"] or []), gap_id=row["gap_id"], added_by=row["added_by"],
                        added_at=row["added_at"], updated_at=row["updated_at"], url=f"/kb/{doc_id}#{slug}", **flags)


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class AddedSections:
    def __init__(self, store: MemoryStore, writer: WriterBase, embedder: Embedder,
                 base_docs: list[KbDocument] | None = None) -> None:
        self.store = store
        self.writer = writer
        self.embedder = embedder
        self.base = {d.id: d for d in (base_docs if base_docs is not None else load_documents())}

    def add(self, section: KbSectionIn, *, added_by: str) -> KbSectionOut:
        title, kind, services = self._document_of(section)
        slug = slugify(section.heading)
        section_id = f"{section.doc_id}#{slug}"
        file_doc = self.base.get(section.doc_id)
        if file_doc is not None and any(s.id == section_id for s in file_doc.sections):
            raise Conflict(f"{section_id} is a section of the knowledge-base file {section.doc_id}.md; change it "
                           "there, or give the new section another heading", section_id=section_id)
        if section.gap_id is not None:
            found = (self.store.table("kb_gaps").search().where(f"gap_id = {sql_str(section.gap_id)}")
                     .select(["gap_id"]).limit(1).to_list())
            if not found:
                raise NotFound(f"gap_id: no knowledge gap {section.gap_id!r} (see GET /v1/ops/knowledge-gaps)",
                               kind="knowledge_gap", id=section.gap_id)
        content = _hash(title, kind, services, section.heading, section.body, section.gap_id)
        existing = self._row(section_id)
        if existing is not None and existing["content_hash"] == content and self._indexed(existing):
            return _out(existing, created=False, changed=False)
        now = now_utc()
        doc = KbDocument(id=section.doc_id, title=title, kind=kind, services=services, updated=date.today(),
                         sections=[KbSection(id=section_id, heading=section.heading, text=section.body)])
        chunks = chunk_documents([doc])
        vectors = self.embedder.embed([c.text for c in chunks])
        chunk_rows = [{**c.model_dump(), "vector": v.tolist()} for c, v in zip(chunks, vectors)]
        keep = {c.chunk_id for c in chunks}
        stale = [c for c in (existing or {}).get("chunk_ids") or [] if c not in keep]
        row = {"section_id": section_id, "doc_id": section.doc_id, "doc_title": title, "heading": section.heading,
               "body": section.body, "kind": kind, "services": services, "chunk_ids": sorted(keep),
               "content_hash": content, "gap_id": section.gap_id, "added_by": added_by,
               "added_at": existing["added_at"] if existing else now, "updated_at": now}
        ops = [Op(table="kb_chunks", kind="upsert", rows=chunk_rows)]
        if stale:
            ops.append(Op(table="kb_chunks", kind="delete", keys=stale))
        ops.append(Op(table=TABLE, kind="upsert", rows=[row]))
        self.writer.apply(ops)
        return _out(row, created=existing is None, changed=True)

    def _document_of(self, section: KbSectionIn) -> tuple[str, str, list[str]]:
        """The document's title, kind and services: a file's or an earlier added section's document keeps its
        own; a new document takes them from the request."""
        doc = self.base.get(section.doc_id)
        if doc is None:
            rows = (self.store.table(TABLE).search().where(f"doc_id = {sql_str(section.doc_id)}")
                    .select(["section_id", "doc_title", "kind", "services"]).limit(1_000_000).to_list())
            if rows:
                first = min(rows, key=lambda r: r["section_id"])
                doc = KbDocument(id=section.doc_id, title=first["doc_title"], kind=first["kind"],
                                 services=list(first["services"]), updated=date.today(),
                                 sections=[KbSection(id=first["section_id"], heading="-", text="-")])
        # Whether the document exists is the knowledge base's state, not the request's shape: a request that does
        # not fit it (a new document without title or services, another title for an existing one) is a 409.
        if doc is None:
            if section.title is None:
                raise Conflict(f"title: {section.doc_id!r} is a new document, so it needs a title")
            if not section.services:
                raise Conflict(f"services: {section.doc_id!r} is a new document; say which services it is "
                               "about (mobile, broadband, billing, account)")
            return section.title, section.kind, list(section.services)
        if section.title is not None and section.title != doc.title:
            raise Conflict(f"title: document {section.doc_id!r} is titled {doc.title!r}; leave the title out "
                           "to add a section to it")
        return doc.title, doc.kind, list(doc.services)

    def _row(self, section_id: str) -> dict[str, Any] | None:
        rows = self.store.table(TABLE).search().where(f"section_id = {sql_str(section_id)}").limit(1).to_list()
        return rows[0] if rows else None

    def _indexed(self, row: dict[str, Any]) -> bool:
        """Every chunk the section became is in kb_chunks (a re-post repairs a write that stopped half-way)."""
        ids = list(row["chunk_ids"] or [])
        if not ids:
            return False
        listed = ", ".join(sql_str(i) for i in ids)
        found = self.store.table("kb_chunks").search().where(f"chunk_id IN ({listed})").select(["chunk_id"])
        return len(found.limit(len(ids) + 1).to_list()) == len(ids)

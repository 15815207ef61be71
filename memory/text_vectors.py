"""The vectors of the texts the knowledge agent compares questions with, kept so that an agent starts from memory.

An agent compares a question with each KB section's indexed text and with each sentence it may quote
(telco.knowledge.compared_texts): about 530 texts, 10-20 s of embedding on a 2-core machine, which every Knowledge
replica and every in-process system paid at its start. Bootstrap stores them once: a text already stored is not
embedded again, and a section whose single KB chunk has exactly its text takes that chunk's vector. An agent reads
them all in one read (`load_vectors`) and embeds only texts memory does not hold (a section added since).

A row is keyed by a hash of the embedder's name and the text, so a vector is only ever served for the model and the
exact text that produced it.
"""
from __future__ import annotations

import hashlib
from typing import Any, Iterable, Sequence

import numpy as np

from memory.embed import DIM
from memory.store import MemoryStore, sql_str
from memory.writer import Op, WriterBase
from telco.knowledge import KbDocument, compared_texts

TABLE = "text_vectors"
_ALL = 1_000_000


def text_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\n{text}".encode()).hexdigest()


def load_vectors(store: MemoryStore, model: str, texts: Iterable[str]) -> dict[str, np.ndarray]:
    """The stored vectors of those texts that have one, by text, in one read."""
    wanted = {text_key(model, t): t for t in texts}
    if not wanted:
        return {}
    rows = (store.table(TABLE).search().where(f"model = {sql_str(model)}").select(["text_id", "vector"])
            .limit(_ALL).to_arrow())
    if rows.num_rows == 0:
        return {}
    vectors = rows["vector"].combine_chunks().flatten().to_numpy().astype(np.float32).reshape(-1, DIM)
    return {wanted[k]: vectors[i] for i, k in enumerate(rows["text_id"].to_pylist()) if k in wanted}


def store_compared_texts(store: MemoryStore, writer: WriterBase, embedder: Any,
                         docs: Sequence[KbDocument]) -> tuple[int, int]:
    """Bootstrap: every text an agent serving `docs` compares with gets its vector in memory; rows of texts no longer
    compared with go in the same commit. Returns (texts, texts embedded now)."""
    model = embedder.model_name
    wanted = {text_key(model, t): t for t in compared_texts(list(docs))}
    stored = {r["text_id"] for r in store.table(TABLE).search().select(["text_id"]).limit(_ALL).to_list()}
    missing = {k: t for k, t in wanted.items() if k not in stored}
    ops = []
    embedded = 0
    if missing:
        # kb_chunks was filled by the same embedder (bootstrap ingests it first): an exact text match is the same
        # vector, so only sentences and long (split) sections are embedded here.
        chunks = {r["text"]: r["vector"] for r in store.table("kb_chunks").search().select(["text", "vector"])
                  .limit(_ALL).to_list()}
        new = [t for t in dict.fromkeys(missing.values()) if t not in chunks]
        fresh = dict(zip(new, embedder.embed(new))) if new else {}
        embedded = len(new)
        rows = [{"text_id": k, "model": model,
                 "vector": np.asarray(fresh[t] if t in fresh else chunks[t], dtype=np.float32).tolist()}
                for k, t in missing.items()]
        ops.append(Op(table=TABLE, kind="upsert", rows=rows))
    stale = sorted(stored - wanted.keys())
    if stale:
        ops.append(Op(table=TABLE, kind="delete", keys=stale))
    if ops:
        writer.apply(ops)
    return len(wanted), embedded

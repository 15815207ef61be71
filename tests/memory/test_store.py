"""The store: one connect for any URI, tables with schema versions and forward migrations, indexes."""
from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest

import memory.store as store_mod
from memory.store import TABLES, MemoryStore, connect, memory_uri, sql_str, sql_ts
from memory.writer import LocalWriter
from telco.errors import InvalidInput

from memory_testkit import T0


def test_connect_creates_every_table_with_its_version_and_scalar_indexes(store):
    store.ensure_all()
    assert set(TABLES) <= set(store.db.list_tables().tables)
    for name, spec in TABLES.items():
        assert store.schema_version(name) == spec.version
        t = store.table(name)
        assert t.schema.names == spec.schema.names
        names = {i.name for i in t.list_indices()}
        for col in (*spec.btree, *spec.bitmap, *spec.fts):
            assert f"{col}_idx" in names, (name, col)
    kinds = {i.name: i.index_type for i in store.table("episodes").list_indices()}
    assert kinds["customer_id_idx"] == "BTree"
    assert kinds["intent_idx"] == "Bitmap" and kinds["outcome_idx"] == "Bitmap"
    assert kinds["summary_idx"] == "FTS" and kinds["ended_at_idx"] == "BTree"


def test_uri_comes_from_the_argument_then_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TELCO_MEMORY_URI", str(tmp_path / "from-env"))
    assert memory_uri() == str(tmp_path / "from-env")
    assert memory_uri(tmp_path / "explicit") == str(tmp_path / "explicit")
    assert memory_uri("s3://bucket/memory") == "s3://bucket/memory"
    monkeypatch.chdir(tmp_path)
    assert memory_uri("var/memory") == str(tmp_path / "var" / "memory")  # actors may start elsewhere
    s = connect()
    s.table("turns")
    assert (tmp_path / "from-env" / "turns.lance").is_dir()
    monkeypatch.setenv("TELCO_MEMORY_URI", "  ")
    with pytest.raises(InvalidInput, match="TELCO_MEMORY_URI"):
        memory_uri()


def test_unknown_table_is_a_typed_error(store):
    with pytest.raises(InvalidInput, match="unknown memory table 'nope'"):
        store.table("nope")


def test_forward_migration_adds_columns_and_keeps_rows(tmp_path, monkeypatch):
    old = TABLES["prompts"]
    s1 = MemoryStore(tmp_path / "m")
    LocalWriter(s1).upsert("prompts", [{"prompt_id": "planner@1", "role": "planner", "version": 1, "text": "hi",
                                        "status": "active", "created_at": T0}])
    new_field = pa.field("owner", pa.string())
    v2 = dataclasses.replace(old, version=2, schema=old.schema.append(new_field))
    monkeypatch.setitem(TABLES, "prompts", v2)
    s2 = MemoryStore(tmp_path / "m")
    t = s2.table("prompts")
    assert "owner" in t.schema.names
    assert s2.schema_version("prompts") == 2
    rows = t.to_arrow().to_pylist()
    assert [(r["prompt_id"], r["text"], r["owner"]) for r in rows] == [("planner@1", "hi", None)]


def test_a_table_newer_than_the_code_is_refused(tmp_path, monkeypatch):
    old = TABLES["prompts"]
    monkeypatch.setitem(TABLES, "prompts", dataclasses.replace(old, version=3))
    MemoryStore(tmp_path / "m").table("prompts")
    monkeypatch.setitem(TABLES, "prompts", old)
    with pytest.raises(InvalidInput, match="schema version 3, newer than this code"):
        MemoryStore(tmp_path / "m").table("prompts")


def test_vector_index_waits_for_the_threshold_then_serves_searches(tmp_path):
    s = MemoryStore(tmp_path / "m", vector_index_threshold=600)
    w = LocalWriter(s)
    rng = np.random.default_rng(7)
    vecs = rng.normal(size=(700, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    rows = [{"example_id": f"e{i}", "intent": f"i{i % 5}", "text": f"t{i}", "vector": v.tolist()}
            for i, v in enumerate(vecs[:500])]
    w.upsert("intent_examples", rows)
    assert s.ensure_indexes("intent_examples") == []
    assert not s.has_vector_index("intent_examples")
    w.upsert("intent_examples", [{"example_id": f"e{i}", "intent": "x", "text": "t", "vector": vecs[i].tolist()}
                                 for i in range(500, 700)])
    assert s.ensure_indexes("intent_examples") == ["vector_idx"]
    hit = s.table("intent_examples").search(vecs[42]).distance_type("cosine").limit(1).to_list()[0]
    assert hit["example_id"] == "e42"


def test_sql_literals_cannot_break_out_of_their_quotes():
    assert sql_str("a'b") == "'a''b'"
    with pytest.raises(InvalidInput):
        sql_str(3)
    with pytest.raises(InvalidInput, match="no timezone"):
        sql_ts(T0.replace(tzinfo=None))
    assert sql_ts(T0) == "timestamp '2025-03-01 09:00:00.000000'"

"""Each process's LanceDB caches are bounded (TELCO_MEMORY_CACHE__*), so a long-lived writer or replica does not
grow by every table version it commits or reads (bench/soak.py measures the processes; this checks the cache)."""
from __future__ import annotations

import pyarrow as pa
import pytest

from memory.store import connect, process_session
from telco.errors import InvalidInput


def test_stores_of_a_process_share_one_session_whose_cache_stays_within_its_bound(tmp_path, monkeypatch):
    monkeypatch.setenv("TELCO_MEMORY_CACHE__METADATA_MB", "1")
    monkeypatch.setenv("TELCO_MEMORY_CACHE__INDEX_MB", "1")
    first = connect(tmp_path / "a")
    session = process_session()
    assert process_session() is session
    schema = pa.schema([pa.field("id", pa.string()), pa.field("text", pa.string())])
    table = first.db.create_table("t", schema=schema)
    for i in range(400):  # each commit is a table version whose manifest the metadata cache would keep
        table.add(pa.Table.from_pylist([{"id": f"r{i}", "text": "x" * 500}], schema=schema))
        if i % 20 == 0:
            assert table.search().where(f"id = 'r{i}'").limit(1).to_list()
    # In use by the store (it holds what the reads needed), and never more than its two 1 MB caches: LanceDB's own
    # defaults would hold every one of the 400 versions seen (about 0.1 MB each).
    assert 100_000 < session.size_bytes <= 2 * (1 << 20), session


def test_a_cache_size_that_is_not_a_positive_number_is_refused(monkeypatch):
    monkeypatch.setenv("TELCO_MEMORY_CACHE__METADATA_MB", "0")
    with pytest.raises(InvalidInput, match="TELCO_MEMORY_CACHE__METADATA_MB"):
        process_session()

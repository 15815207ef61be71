"""The memory a job works on: the store with a local single writer, and reads of many keys in short filters."""
from __future__ import annotations

from typing import Any

from memory.store import MemoryStore, connect, sql_str
from memory.writer import LocalWriter


def local_writer(memory_uri: str) -> tuple[MemoryStore, LocalWriter]:
    store = connect(memory_uri)
    return store, LocalWriter(store)


def rows_in(table: Any, column: str, values: list[str], columns: list[str], *, where: str | None = None,
            chunk: int = 500) -> list[dict[str, Any]]:
    """The rows whose `column` is one of `values` (and match `where`), read in chunks so each filter stays short."""
    rows: list[dict[str, Any]] = []
    for i in range(0, len(values), chunk):
        listed = ", ".join(sql_str(v) for v in values[i:i + chunk])
        condition = f"{column} IN ({listed})" + (f" AND {where}" if where else "")
        rows += table.search().where(condition).select(columns).limit(10_000_000).to_list()
    return rows

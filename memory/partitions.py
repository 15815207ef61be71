"""Reading a partitioned table (the turns log, one partition per write-path shard) as one: the subset of LanceDB's
query API that readers of the log use, applied to each partition in turn (memory/store.py, MemoryStore.log)."""
from __future__ import annotations

import pyarrow as pa


class Partitions:
    """search().where().select().limit() over several tables, read one after the other."""

    def __init__(self, tables: list) -> None:
        self.tables = tables

    def search(self) -> "PartitionQuery":
        return PartitionQuery(self.tables)

    def count_rows(self, filter: str | None = None) -> int:
        return sum(t.count_rows(filter) for t in self.tables)


class PartitionQuery:
    def __init__(self, tables: list) -> None:
        self.tables, self.steps, self.n = tables, [], None

    def where(self, condition: str) -> "PartitionQuery":
        self.steps.append(("where", condition))
        return self

    def select(self, columns: list[str]) -> "PartitionQuery":
        self.steps.append(("select", columns))
        return self

    def limit(self, n: int) -> "PartitionQuery":
        self.n = n
        return self

    def _queries(self):
        for t in self.tables:
            q = t.search()
            for step, arg in self.steps:
                q = getattr(q, step)(arg)
            yield q.limit(self.n) if self.n is not None else q

    def to_list(self) -> list[dict]:
        rows = [r for q in self._queries() for r in q.to_list()]
        return rows[:self.n] if self.n is not None else rows

    def to_arrow(self) -> pa.Table:
        table = pa.concat_tables([q.to_arrow() for q in self._queries()])
        return table.slice(0, self.n) if self.n is not None else table

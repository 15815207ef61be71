"""The one place that knows where memory lives, and the lifecycle of its tables.

`connect(uri)` opens a local directory or an object-store URI (s3://...) the same way; tables are created, migrated
and indexed from their specs (memory/tables.py: schema, key column, indexes, schema version, migrations). Readers
everywhere go through a MemoryStore; writes go through memory.writer so that each table has a single committer.
"""
from __future__ import annotations

import functools
import os
import threading
from datetime import datetime, timedelta, timezone
from typing import Literal

import lancedb
import pyarrow as pa
from lancedb.index import FTS, Bitmap, BTree, HnswSq

from memory.tables import (  # noqa: F401  (re-exported: callers know tables through the store)
    TABLES,
    VERSIONS_SCHEMA,
    VERSIONS_TABLE,
    TableSpec,
    add_missing_columns,
    groups,
    partition_name,
    partition_of,
    spec,
)
from telco.config import memory_env
from telco.errors import InvalidInput, NotFound

DEFAULT_URI = "./var/memory"
# Below this many rows a flat scan is fast enough and an ANN index would be trained on too little data.
VECTOR_INDEX_THRESHOLD = 20_000

def memory_uri(uri: str | os.PathLike | None = None) -> str:
    """Explicit argument, else TELCO_MEMORY_URI, else ./var/memory."""
    chosen = str(uri) if uri is not None else os.environ.get("TELCO_MEMORY_URI", DEFAULT_URI)
    if not chosen.strip():
        raise InvalidInput("memory URI is empty: set TELCO_MEMORY_URI to a directory or an s3:// URI")
    # Absolute, so that a writer actor started with another working directory opens the same store.
    return chosen if "://" in chosen else os.path.abspath(chosen)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def sql_str(value: str) -> str:
    """A SQL string literal; quotes are doubled so that a value can never end the literal early."""
    if not isinstance(value, str):
        raise InvalidInput(f"expected a string for a filter value, got {type(value).__name__}")
    return "'" + value.replace("'", "''") + "'"


def sql_ts(value: datetime) -> str:
    if value.tzinfo is None:
        raise InvalidInput(f"timestamp {value!r} has no timezone; memory stores UTC instants")
    try:
        utc = value.astimezone(timezone.utc)
    except OverflowError:
        raise InvalidInput(f"timestamp {value.isoformat()} is out of range in UTC") from None
    # Four-digit year always: strftime writes year 41 as "41", which the SQL parser refuses.
    return "timestamp " + sql_str(f"{utc.year:04d}-{utc:%m-%d %H:%M:%S.%f}")


IndexKind = Literal["btree", "bitmap", "fts", "vector"]


class MemoryStore:
    """A connection to the memory database plus table lifecycle: create, migrate, index.

    Reads see the latest committed version (read consistency interval 0 by default) because the writer lives in
    another process; set TELCO_MEMORY_CONSISTENCY_S to trade freshness for fewer manifest checks on object stores.
    """

    def __init__(self, uri: str | os.PathLike | None = None, *, storage_options: dict[str, str] | None = None,
                 vector_index_threshold: int = VECTOR_INDEX_THRESHOLD) -> None:
        self.uri = memory_uri(uri)
        if "://" not in self.uri:
            os.makedirs(self.uri, exist_ok=True)
        consistency = float(os.environ.get("TELCO_MEMORY_CONSISTENCY_S", "0"))
        if storage_options is None and self.uri.startswith("s3://"):
            storage_options = s3_storage_options()
        self.db = lancedb.connect(self.uri, read_consistency_interval=timedelta(seconds=consistency),
                                  storage_options=storage_options or None, session=process_session())
        self.vector_index_threshold = vector_index_threshold
        self._tables: dict[str, object] = {}
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------------------
    def _existing(self) -> set[str]:
        return set(self.db.list_tables().tables)

    def table(self, name: str):
        """The open table, created (with its indexes) and migrated to its current schema version on first use."""
        s = spec(name)
        with self._lock:
            t = self._tables.get(name)
            if t is None:
                t = self._open_or_create(s)
                self._tables[name] = t
            return t

    def ensure_all(self) -> None:
        for name in TABLES:
            self.table(name)

    def partitions(self, name: str) -> list[str]:
        """The tables that hold a partitioned table's rows: its own and every shard's that exists."""
        if not spec(name).partitioned:
            return [name]
        shards = [t for t in self._existing() if t.rpartition("_p")[0] == name and partition_of(t) is not None]
        return [name] + sorted(shards, key=lambda t: int(t.rpartition("_p")[2]))

    def log(self, name: str):
        """What a reader of the whole of a partitioned table searches (the turns log whatever the number of shards
        that wrote it): the table itself when it has one partition, else a search over all of them."""
        names = self.partitions(name)
        if len(names) == 1:
            return self.table(name)
        from memory.partitions import Partitions

        return Partitions([self.table(n) for n in names])

    def _versions(self):
        if VERSIONS_TABLE in self._existing():
            return self.db.open_table(VERSIONS_TABLE)
        return self.db.create_table(VERSIONS_TABLE, schema=VERSIONS_SCHEMA, exist_ok=True)

    def schema_version(self, name: str) -> int:
        rows = self._versions().search().where(f"table_name = {sql_str(name)}").limit(1).to_list()
        if not rows:
            raise NotFound(f"table {name!r} has no recorded schema version")
        return int(rows[0]["version"])

    def _set_version(self, name: str, version: int) -> None:
        row = {"table_name": name, "version": version, "migrated_at": now_utc()}
        (self._versions().merge_insert("table_name").when_matched_update_all().when_not_matched_insert_all()
         .execute(pa.Table.from_pylist([row], schema=VERSIONS_SCHEMA)))

    def _open_or_create(self, s: TableSpec):
        if s.name in self._existing():
            t = self.db.open_table(s.name)
            self._migrate(t, s)
            return t
        # exist_ok: another process may create the same table between the check and here.
        t = self.db.create_table(s.name, schema=s.schema, exist_ok=True)
        self._create_scalar_indexes(t, s)
        self._set_version(s.name, s.version)
        return t

    def _migrate(self, t, s: TableSpec) -> None:
        try:
            current = self.schema_version(s.name)
        except NotFound:
            current = 1  # tables created before versions were recorded start at 1
        if current > s.version:
            raise InvalidInput(f"table {s.name!r} is at schema version {current}, newer than this code "
                               f"({s.version}); upgrade the code rather than writing with an old schema")
        for v in range(current + 1, s.version + 1):
            step = s.migrations.get(v, lambda table: add_missing_columns(table, s.schema))
            step(t)
            self._set_version(s.name, v)

    # -- indexes ---------------------------------------------------------------------------------------------
    def _index_names(self, t) -> set[str]:
        return {i.name for i in t.list_indices()}

    def _create_scalar_indexes(self, t, s: TableSpec) -> None:
        # Scalar and FTS indexes can be built on an empty table and are updated incrementally by optimize().
        have = self._index_names(t)
        for col in s.btree:
            if f"{col}_idx" not in have:
                t.create_index(col, config=BTree(), replace=True)
        for col in s.bitmap:
            if f"{col}_idx" not in have:
                t.create_index(col, config=Bitmap(), replace=True)
        for col in s.fts:
            if f"{col}_idx" not in have:
                t.create_index(col, config=FTS(with_position=False), replace=True)

    def ensure_indexes(self, name: str, *, force_vector: bool = False,
                       vector_config: object | None = None) -> list[str]:
        """Create any missing index; the vector index only once the table passes the size threshold.

        Returns the names of indexes created. Unindexed rows added later stay searchable (flat scan of the tail)
        until the writer's scheduled optimize folds them into the index.
        """
        s = spec(name)
        t = self.table(name)
        before = self._index_names(t)
        self._create_scalar_indexes(t, s)
        if s.vector and f"{s.vector}_idx" not in self._index_names(t):
            rows = t.count_rows()
            if rows >= self.vector_index_threshold or (force_vector and rows >= 256):
                t.create_index(s.vector, config=vector_config or default_vector_index(rows))
        return sorted(self._index_names(t) - before)

    def has_vector_index(self, name: str) -> bool:
        s = spec(name)
        return bool(s.vector) and f"{s.vector}_idx" in self._index_names(self.table(name))


def process_session() -> lancedb.Session:
    """One LanceDB session per process and cache sizes (TELCO_MEMORY_CACHE__*): the stores a process opens share
    its bounded caches instead of each growing its own up to LanceDB's defaults."""
    cache = memory_env().memory_cache
    return _session(cache.index_mb, cache.metadata_mb)


@functools.lru_cache(maxsize=4)
def _session(index_mb: int, metadata_mb: int) -> lancedb.Session:
    return lancedb.Session(index_cache_size_bytes=index_mb << 20, metadata_cache_size_bytes=metadata_mb << 20)


def s3_storage_options() -> dict[str, str]:
    """Endpoint and credentials of an s3:// memory from the settings (TELCO_MEMORY_S3__*), read now: every process
    that opens memory (Serve replicas, writer and holder actors, jobs) gets them from its own environment."""
    return memory_env().memory_s3.storage_options()


def default_vector_index(rows: int):
    """HNSW over IVF partitions with 8-bit scalar quantisation: high recall at a few ms on CPU.

    Partitions of a few thousand rows keep each HNSW graph small enough to build quickly on two cores.
    """
    return HnswSq(distance_type="cosine", num_partitions=max(1, rows // 8192))


def connect(uri: str | os.PathLike | None = None, **kwargs) -> MemoryStore:
    """Open memory at `uri` (a directory or s3:// URI; default TELCO_MEMORY_URI or ./var/memory)."""
    return MemoryStore(uri, **kwargs)

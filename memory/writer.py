"""Single-writer path for memory tables.

LanceDB lets many processes commit to one table, but concurrent merge_insert of the same new key silently makes
duplicate rows and one commit per small write fragments the table. So every write to a table group goes through
one committer that:
- batches requests (many callers, one commit per table per batch),
- folds the batch per key (last write wins; an append never overwrites an existing row, which makes retried
  appends idempotent),
- applies upserts, appends and deletes of one table in ONE merge_insert, so a batch is visible all at once or
  not at all,
- retries commit conflicts with exponential backoff,
- acknowledges a request only after its commit returned,
- compacts on a schedule (optimize with a non-zero cleanup age so readers of older versions are not cut off).

`LocalWriter` runs the committer in-process (tests, one-off jobs). `MemoryWriterActor` is the Ray actor (one per
table group); `RayWriter` is the client that routes operations to the right actor and retries a call whose actor
died (safe because every row carries its key and appends are insert-if-absent).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import threading
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any, Iterable, Literal, Sequence

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from memory.store import MemoryStore, TableSpec, connect, groups, partition_name, spec, sql_str
from telco.errors import BackendUnavailable, InvalidInput

log = logging.getLogger(__name__)

OpKind = Literal["append", "upsert", "delete"]


class Op(BaseModel):
    """One write request against one table. `rows` for append/upsert, `keys` for delete."""

    model_config = ConfigDict(extra="forbid")
    table: str
    kind: OpKind
    rows: list[dict[str, Any]] = Field(default_factory=list)
    keys: list[str] = Field(default_factory=list)
    # Append only: the caller guarantees these keys were never written (e.g. a turn id carrying a sequence number
    # its single owner checked), so the committer skips the existence scan, whose cost grows with every
    # uncompacted fragment (measured 8 ms at 100 fragments, 37 ms at 500). A retried request is never fresh.
    fresh: bool = False


class WriteAck(BaseModel):
    """Returned only after the commit: the table versions that now contain the write."""

    versions: dict[str, int]
    rows: int
    batch_requests: int = 1


# -- validation and folding (pure) -------------------------------------------------------------------------------

def validate_op(op: Op) -> None:
    """Reject a bad request up front so it fails alone instead of failing a whole batch."""
    s: TableSpec = spec(op.table)
    if s.append_only and op.kind != "append":
        raise InvalidInput(f"{op.table!r} is append-only: a {op.kind} would change or remove what it recorded")
    if op.kind == "delete":
        if op.rows:
            raise InvalidInput(f"delete on {op.table!r} takes keys, not rows")
        for k in op.keys:
            if not isinstance(k, str) or not k:
                raise InvalidInput(f"delete on {op.table!r}: every key must be a non-empty string, got {k!r}")
        return
    if op.keys:
        raise InvalidInput(f"{op.kind} on {op.table!r} takes rows, not keys")
    names = set(s.schema.names)
    required = [f.name for f in s.schema if not f.nullable]
    for i, row in enumerate(op.rows):
        unknown = set(row) - names
        if unknown:
            raise InvalidInput(f"{op.kind} on {op.table!r}: row {i} has unknown columns {sorted(unknown)}")
        missing = [c for c in required if row.get(c) is None]
        if missing:
            raise InvalidInput(f"{op.kind} on {op.table!r}: row {i} is missing required columns {missing}")
    try:
        pa.Table.from_pylist(op.rows, schema=s.schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"{op.kind} on {op.table!r}: rows do not fit the table schema: {exc}") from exc


def fold(ops: Iterable[Op]) -> dict[str, tuple[dict[str, dict], dict[str, dict], set[str]]]:
    """Per table: (upserts by key, appends by key, deletes) after applying ops in order, last write winning.

    An append of a key already written in this batch is ignored (insert-if-absent); an append after a delete in
    the same batch re-creates the row, so it becomes an upsert.
    """
    state: dict[str, dict[str, tuple[str, dict | None]]] = defaultdict(dict)
    for op in ops:
        key = spec(op.table).key
        per = state[op.table]
        if op.kind == "delete":
            for k in op.keys:
                per[k] = ("delete", None)
            continue
        for row in op.rows:
            k = row[key]
            prev = per.get(k)
            if op.kind == "upsert":
                per[k] = ("upsert", row)
            elif prev is None:
                per[k] = ("append", row)
            elif prev[0] == "delete":
                per[k] = ("upsert", row)
    out = {}
    for table, per in state.items():
        ups = {k: r for k, (kind, r) in per.items() if kind == "upsert"}
        apps = {k: r for k, (kind, r) in per.items() if kind == "append"}
        dels = {k for k, (kind, _) in per.items() if kind == "delete"}
        out[table] = (ups, apps, dels)
    return out


def _in_list(column: str, keys: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(sql_str(k) for k in keys)})"


def is_conflict(exc: BaseException) -> bool:
    """Lance reports concurrent-commit problems as generic errors; recognise them by their wording."""
    text = str(exc).lower()
    return any(w in text for w in ("conflict", "concurrent", "retryable", "was modified", "version mismatch"))


# -- the committer (sync, single-threaded by contract) -----------------------------------------------------------

class Committer:
    """Applies folded batches, one commit per table. Callers must not run two `apply` calls at once."""

    def __init__(self, store: MemoryStore, *, max_retries: int = 8, base_backoff_s: float = 0.02) -> None:
        self.store = store
        self.max_retries = max_retries
        self.base_backoff_s = base_backoff_s
        self.retries = 0
        self.commits = 0

    def apply(self, ops: Sequence[Op]) -> dict[str, int]:
        versions: dict[str, int] = {}
        for table, (ups, apps, dels) in fold(ops).items():
            key = spec(table).key
            fresh = {r[key] for o in ops if o.table == table and o.kind == "append" and o.fresh for r in o.rows}
            versions[table] = self._with_retry(lambda: self._commit_table(table, ups, apps, dels, fresh))
        return versions

    def _with_retry(self, fn) -> int:
        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except Exception as exc:  # lance raises plain RuntimeError/OSError subclasses
                if not is_conflict(exc) or attempt == self.max_retries:
                    raise
                self.retries += 1
                delay = self.base_backoff_s * (2 ** attempt) * (0.5 + random.random())
                log.warning("commit conflict (attempt %d), retrying in %.3fs: %s", attempt + 1, delay, exc)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _existing_keys(self, t, key: str, keys: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(keys), 1000):
            chunk = keys[i:i + 1000]
            rows = t.search().where(_in_list(key, chunk)).select([key]).limit(len(chunk) * 2 + 10).to_arrow()
            found.update(rows.column(key).to_pylist())
        return found

    def _commit_table(self, table: str, ups: dict, apps: dict, dels: set[str], fresh: set[str] = frozenset()) -> int:
        s = spec(table)
        t = self.store.table(table)
        t.checkout_latest()
        to_check = [k for k in apps if k not in fresh]
        if to_check:
            # Safe read-then-write: this committer is the only writer of the table.
            existing = self._existing_keys(t, s.key, to_check)
            apps = {k: r for k, r in apps.items() if k not in existing}
        rows = list(ups.values()) + list(apps.values())
        if not rows and not dels:
            return t.version
        data = pa.Table.from_pylist(rows, schema=s.schema)
        if not ups and not dels:
            # Only new keys (checked above): a plain add. Measured on the turns table: 4 ms against 16-20 ms for
            # the same rows through merge_insert, which every turn of every conversation pays.
            t.add(data, on_bad_vectors="null")
            self.commits += 1
            return int(t.version)
        builder = t.merge_insert(s.key).when_matched_update_all().when_not_matched_insert_all()
        if dels:
            builder = builder.when_not_matched_by_source_delete(_in_list(s.key, sorted(dels)))
        # Rows were validated against the fixed-size vector type already; "null" only lets a row without an
        # embedding (vector = None) through instead of being mistaken for a ragged vector.
        result = builder.execute(data, on_bad_vectors="null")
        self.commits += 1
        return int(result.version)

    def compact(self, tables: Iterable[str], cleanup_older_than: timedelta) -> dict[str, Any]:
        if cleanup_older_than <= timedelta(0):
            raise InvalidInput("cleanup_older_than must be positive: readers may still hold older versions")
        out = {}
        for name in tables:
            t = self.store.table(name)
            t.checkout_latest()
            self._with_retry(lambda: (t.optimize(cleanup_older_than=cleanup_older_than), 0)[1])
            out[name] = {"version": t.version, "created": self.store.ensure_indexes(name)}
        return out


# -- the common client interface -------------------------------------------------------------------------------

class WriterBase:
    """What memory modules use: apply(ops) plus shorthands. Every call returns only after commit."""

    def apply(self, ops: Sequence[Op]) -> WriteAck:
        raise NotImplementedError

    async def apply_async(self, ops: Sequence[Op]) -> WriteAck:
        return await asyncio.to_thread(self.apply, ops)

    def append(self, table: str, rows: Sequence[dict]) -> WriteAck:
        return self.apply([Op(table=table, kind="append", rows=list(rows))])

    def upsert(self, table: str, rows: Sequence[dict]) -> WriteAck:
        return self.apply([Op(table=table, kind="upsert", rows=list(rows))])

    def delete(self, table: str, keys: Sequence[str]) -> WriteAck:
        return self.apply([Op(table=table, kind="delete", keys=list(keys))])


class LocalWriter(WriterBase):
    """In-process writer for tests and single-process jobs: same semantics, one commit per call per table."""

    def __init__(self, store: MemoryStore, *, cleanup_older_than: timedelta = timedelta(minutes=10)) -> None:
        self.store = store
        self.committer = Committer(store)
        self.cleanup_older_than = cleanup_older_than
        self._lock = threading.Lock()

    def apply(self, ops: Sequence[Op]) -> WriteAck:
        ops = [o if isinstance(o, Op) else Op.model_validate(o) for o in ops]
        for op in ops:
            validate_op(op)
        with self._lock:
            versions = self.committer.apply(ops)
        return WriteAck(versions=versions, rows=sum(len(o.rows) + len(o.keys) for o in ops))

    def compact(self, tables: Iterable[str] | None = None) -> dict[str, Any]:
        with self._lock:
            return self.committer.compact(tables or list(spec_names()), self.cleanup_older_than)


def spec_names() -> list[str]:
    return [t for names in groups().values() for t in names]


# -- the Ray actor ------------------------------------------------------------------------------------------------

class _Pending:
    __slots__ = ("ops", "future", "rows")

    def __init__(self, ops: list[Op], future: asyncio.Future) -> None:
        self.ops = ops
        self.future = future
        self.rows = sum(len(o.rows) + len(o.keys) for o in ops)


class WriterService:
    """The single writer of one table group: an asyncio loop that gathers requests into batches.

    Plain class so it can be tested without Ray; `MemoryWriterActor` below is the Ray actor around it.
    """

    def __init__(self, uri: str, group: str, *, max_batch_rows: int = 5_000, max_wait_s: float = 0.0,
                 compact_every_s: float = 300.0, cleanup_older_than_s: float = 600.0,
                 compact_every_commits: int = 200, shard: tuple[int, int] | None = None) -> None:
        tables = groups().get(group)
        if not tables:
            raise InvalidInput(f"unknown table group {group!r}; known groups: {', '.join(sorted(groups()))}")
        if shard is not None:
            index, count = shard
            if not 0 <= index < count:
                raise InvalidInput(f"shard {index} is not one of {count} shards")
            # Shard k of a group writes (and compacts) its own partition of each partitioned table.
            tables = [partition_name(t, index) if spec(t).partitioned else t for t in tables]
        self.group = group
        self.tables = tables
        self.store = connect(uri)
        for name in tables:
            self.store.table(name)
        self.committer = Committer(self.store)
        self.max_batch_rows = max_batch_rows
        self.max_wait_s = max_wait_s
        self.compact_every_s = compact_every_s
        # Measured: each commit adds a fragment, and a 2-row append cost 10 ms on a fresh table, 117 ms after
        # 1,000 commits and 499 ms after 3,000. Compacting by count as well as by time keeps commits cheap.
        self.compact_every_commits = compact_every_commits
        self.cleanup_older_than = timedelta(seconds=cleanup_older_than_s)
        self.shard = shard
        self._queue: asyncio.Queue[_Pending] | None = None
        self._loop_task: asyncio.Task | None = None
        self._last_compact = time.monotonic()
        self._commits_at_compact = 0
        self._commit_lock: asyncio.Lock | None = None
        self.stats_: dict[str, int] = {"requests": 0, "batches": 0, "rows": 0, "compactions": 0}

    def _ensure_loop(self) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._commit_lock = asyncio.Lock()
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.get_running_loop().create_task(self._run())

    async def apply(self, ops: list[Op] | list[dict]) -> WriteAck:
        ops = [o if isinstance(o, Op) else Op.model_validate(o) for o in ops]
        for op in ops:
            validate_op(op)
            if spec(op.table).group != self.group:
                raise InvalidInput(f"table {op.table!r} belongs to group {spec(op.table).group!r}, "
                                   f"not to this writer's group {self.group!r}")
        self._ensure_loop()
        fut = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(ops, fut))
        return await fut

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            rows = first.rows
            # Group commit: whatever queued up while the previous commit ran joins this batch. A positive
            # max_wait_s also waits for stragglers, which trades latency (every lone turn pays it) for fewer commits.
            deadline = time.monotonic() + self.max_wait_s
            while rows < self.max_batch_rows:
                if not self._queue.empty():
                    nxt = self._queue.get_nowait()
                else:
                    timeout = deadline - time.monotonic()
                    if timeout <= 0:
                        break
                    try:
                        nxt = await asyncio.wait_for(self._queue.get(), timeout)
                    except asyncio.TimeoutError:
                        break
                batch.append(nxt)
                rows += nxt.rows
            try:
                await self._commit(batch)
            except Exception as exc:  # never leave a caller waiting on a future nobody will resolve
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(_as_error(exc))
            due_by_count = self.committer.commits - self._commits_at_compact >= self.compact_every_commits
            if due_by_count or time.monotonic() - self._last_compact >= self.compact_every_s:
                try:
                    await self.compact()
                except Exception as exc:  # compaction is housekeeping: log and try again next period
                    log.warning("scheduled compaction of %s failed: %s", self.group, exc)
                    self._last_compact = time.monotonic()
                    self._commits_at_compact = self.committer.commits

    async def _commit(self, batch: list[_Pending]) -> None:
        ops = [op for p in batch for op in p.ops]
        async with self._commit_lock:
            try:
                versions = await asyncio.to_thread(self.committer.apply, ops)
            except Exception as exc:
                if len(batch) == 1:
                    if not batch[0].future.done():
                        batch[0].future.set_exception(_as_error(exc))
                    return
                # Isolate the failing request: commit the others one by one so only it sees the error.
                log.warning("batch of %d requests failed (%s); committing them one by one", len(batch), exc)
                for p in batch:
                    try:
                        v = await asyncio.to_thread(self.committer.apply, p.ops)
                        self._ack(p, v, 1)
                    except Exception as one:
                        if not p.future.done():
                            p.future.set_exception(_as_error(one))
                return
        for p in batch:
            self._ack(p, versions, len(batch))
        self.stats_["batches"] += 1

    def _ack(self, p: _Pending, versions: dict[str, int], n: int) -> None:
        self.stats_["requests"] += 1
        self.stats_["rows"] += p.rows
        if not p.future.done():
            touched = {o.table for o in p.ops}
            p.future.set_result(WriteAck(versions={t: v for t, v in versions.items() if t in touched},
                                         rows=p.rows, batch_requests=n))

    async def compact(self) -> dict[str, Any]:
        self._ensure_loop()
        async with self._commit_lock:
            out = await asyncio.to_thread(self.committer.compact, self.tables, self.cleanup_older_than)
        self._last_compact = time.monotonic()
        self._commits_at_compact = self.committer.commits
        self.stats_["compactions"] += 1
        return out

    async def stats(self) -> dict[str, int]:
        return {**self.stats_, "retries": self.committer.retries, "commits": self.committer.commits}

    async def ping(self) -> str:
        return self.group


def _as_error(exc: BaseException) -> Exception:
    if isinstance(exc, InvalidInput):
        return exc
    if is_conflict(exc):
        return BackendUnavailable(f"memory commit kept conflicting after retries: {exc}")
    return BackendUnavailable(f"memory commit failed: {type(exc).__name__}: {exc}")


def actor_name(uri: str, group: str, shard: tuple[int, int] | None = None) -> str:
    """One writer per (store, group); a sharded group has one per shard, named by its place in the layout."""
    digest = hashlib.sha1(uri.encode()).hexdigest()[:10]
    base = f"memory-writer:{group}:{digest}"
    return base if shard is None or shard[1] == 1 else f"{base}:{shard[0]}of{shard[1]}"


_ACTOR_CLASS = None


def _actor_class():
    """The Ray actor class, built on first use so that importing memory.writer does not import Ray."""
    global _ACTOR_CLASS
    if _ACTOR_CLASS is None:
        import ray

        # A restarted actor starts empty: requests in flight when it died were never acknowledged, and the
        # client retries them (idempotent by key).
        _ACTOR_CLASS = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0,
                                  max_concurrency=1000)(WriterService)
    return _ACTOR_CLASS


WRITER_NAMESPACE = "telco-memory"


def get_writer_actor(uri: str, group: str, shard: tuple[int, int] | None = None, **options):
    """The named writer actor for (uri, group[, shard]), created if missing: exactly one per cluster.

    Detached and in a fixed namespace, so every job, Serve replica and driver finds the same actor, and it does
    not die when the handle that created it goes away.
    """
    cls = _actor_class()
    if shard is not None and shard[1] > 1:
        options = {**options, "shard": shard}
    from memory.placement import on_head_node

    return cls.options(name=actor_name(uri, group, shard), namespace=WRITER_NAMESPACE, lifetime="detached",
                       get_if_exists=True, **on_head_node()).remote(uri, group, **options)


def stop_writers(uri: str) -> list[str]:
    """Kill the writer actors of one store (after a test or when retiring a store). Returns the groups stopped."""
    import ray

    stopped = []
    prefixes = {actor_name(uri, group): group for group in groups()}
    for entry in ray.util.list_named_actors(all_namespaces=True):
        if entry["namespace"] != WRITER_NAMESPACE:
            continue
        name = entry["name"]
        group = prefixes.get(name) or prefixes.get(name.rsplit(":", 1)[0])  # shards end in ":<k>of<n>"
        if group is None:
            continue
        try:
            ray.kill(ray.get_actor(name, namespace=WRITER_NAMESPACE), no_restart=True)
        except ValueError:
            continue
        stopped.append(group)
    return sorted(stopped)


def _not_fresh(ops: list[Op]) -> list[Op]:
    return [o.model_copy(update={"fresh": False}) if o.fresh else o for o in ops]


def _merged(acks: list[WriteAck]) -> WriteAck:
    """One ack for a request whose ops went to several group actors."""
    return WriteAck(versions={t: v for a in acks for t, v in a.versions.items()}, rows=sum(a.rows for a in acks),
                    batch_requests=max((a.batch_requests for a in acks), default=1))


class RayWriter(WriterBase):
    """Client: splits ops by table group, sends each group's share to its actor, waits for the acks.

    A call whose actor died is retried (the actor restarts); rows are keyed and appends are insert-if-absent,
    so a retry after a commit that did land changes nothing.

    `shard=(k, n)`: the client of shard k of the write path (memory/shards.py): its conversations-group ops go to
    that shard's writer; other groups keep their single writer.
    """

    SHARDED_GROUP = "conversations"

    def __init__(self, uri: str | None = None, *, retries: int = 5, timeout_s: float = 60.0,
                 actor_options: dict | None = None, shard: tuple[int, int] | None = None) -> None:
        from memory.store import memory_uri

        self.uri = memory_uri(uri)
        self.shard = shard
        self.retries = retries
        self.timeout_s = timeout_s
        self.actor_options = actor_options or {}
        self._actors: dict[str, Any] = {}

    def actor(self, group: str):
        if group not in self._actors:
            shard = self.shard if group == self.SHARDED_GROUP else None
            self._actors[group] = get_writer_actor(self.uri, group, shard, **self.actor_options)
        return self._actors[group]

    def _split(self, ops: Sequence[Op]) -> dict[str, list[Op]]:
        by_group: dict[str, list[Op]] = defaultdict(list)
        for op in ops:
            op = op if isinstance(op, Op) else Op.model_validate(op)
            validate_op(op)
            by_group[spec(op.table).group].append(op)
        return by_group

    def apply(self, ops: Sequence[Op]) -> WriteAck:
        import ray
        from ray.exceptions import ActorUnavailableError, RayActorError

        acks: list[WriteAck] = []
        for group, group_ops in self._split(ops).items():
            for attempt in range(self.retries + 1):
                try:
                    acks.append(ray.get(self.actor(group).apply.remote(group_ops), timeout=self.timeout_s))
                    break
                except (RayActorError, ActorUnavailableError) as exc:
                    group_ops, wait_s = self._after_dead_actor(group, group_ops, attempt, exc)
                    time.sleep(wait_s)
        return _merged(acks)

    async def apply_async(self, ops: Sequence[Op]) -> WriteAck:
        """For async callers (Serve replicas, the working-memory holder): awaits the acks without blocking the
        event loop; retries a dead actor like apply()."""
        from ray.exceptions import ActorUnavailableError, RayActorError

        acks: list[WriteAck] = []
        for group, group_ops in self._split(ops).items():
            for attempt in range(self.retries + 1):
                try:
                    acks.append(await asyncio.wait_for(self.actor(group).apply.remote(group_ops), self.timeout_s))
                    break
                except (RayActorError, ActorUnavailableError) as exc:
                    group_ops, wait_s = self._after_dead_actor(group, group_ops, attempt, exc)
                    await asyncio.sleep(wait_s)
        return _merged(acks)

    def _after_dead_actor(self, group: str, ops: list[Op], attempt: int, exc: Exception) -> tuple[list[Op], float]:
        """A group's writer actor died under a call: unavailable once retries are spent; otherwise the actor is
        looked up again and the ops resent, never as fresh (the dead actor may have committed them), after a
        backoff (the seconds returned)."""
        if attempt == self.retries:
            raise BackendUnavailable(f"memory writer for {group!r} is unavailable: {exc}") from exc
        self._actors.pop(group, None)
        return _not_fresh(ops), 0.2 * (2 ** attempt)

    def compact(self) -> dict[str, Any]:
        import ray

        return {g: ray.get(self.actor(g).compact.remote()) for g in groups()}

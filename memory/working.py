"""Working memory: the live state of one conversation, rebuilt from the turns log whenever it is not in memory.

The turns table is the source of truth: every turn is appended (redacted) together with the state change it
caused, and the state is a left fold of those changes. The in-process cache is only a shortcut, so a holder that
dies (replica restart, actor kill) loses nothing that was acknowledged.

A conversation idle for longer than the TTL (30 minutes) has no working state any more: the next turn opens a
fresh session in the same conversation, and a rebuild after a restart folds only the turns after the last idle
gap. The state is therefore a pure function of the log and the clock.
"""
from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime, timedelta
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from memory.redact import redact, redact_text
from memory.store import MemoryStore, now_utc, sql_str
from memory.writer import Op, WriterBase
from telco.errors import Conflict, InvalidInput

DEFAULT_TTL = timedelta(minutes=30)
Role = Literal["customer", "agent", "system", "tool"]


class StatePatch(BaseModel):
    """What a turn changed. Unset fields leave the state alone; a slot set to None is removed."""

    model_config = ConfigDict(extra="forbid")
    customer_id: str | None = None
    dialogue_state: str | None = None
    slots: dict[str, Any] | None = None
    active_playbook: str | None = None
    active_step: str | None = None
    pending_customer_steps: list[str] | None = None
    intents: list[str] | None = None
    # The conversation owner's own typed state (the planner's), replaced whole by each turn that sets it.
    context: dict[str, Any] | None = None


class TurnView(BaseModel):
    seq: int
    role: Role
    text: str
    created_at: datetime


class WorkingState(BaseModel):
    conversation_id: str
    customer_id: str | None = None
    dialogue_state: str = "open"
    slots: dict[str, Any] = Field(default_factory=dict)
    active_playbook: str | None = None
    active_step: str | None = None
    pending_customer_steps: list[str] = Field(default_factory=list)
    intents: list[str] = Field(default_factory=list)
    last_turns: list[TurnView] = Field(default_factory=list)
    session_turns: int = 0  # turns since this session started (after the last idle gap)
    last_seq: int = 0  # sequence number of the latest turn in the whole conversation
    context: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime | None = None
    updated_at: datetime | None = None


def apply_patch(state: WorkingState, patch: StatePatch) -> None:
    for name in patch.model_fields_set:
        value = getattr(patch, name)
        if name == "slots":
            for k, v in (value or {}).items():
                if v is None:
                    state.slots.pop(k, None)
                else:
                    state.slots[k] = v
        elif name == "customer_id" and value is None:
            continue  # identity is never un-set by a later turn
        else:
            setattr(state, name, value)


def _check_id(name: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} must be a non-empty string, got {value!r}")
    return value


def _redacted_json(text: str) -> str:
    """A JSON document redacted value by value: redacting its text whole could turn the digits of a number (a cost
    like 0.0052912345678901 holds a Luhn-valid run) into a marker and leave JSON that no longer parses."""
    try:
        return json.dumps(redact(json.loads(text)))
    except ValueError:
        return redact_text(text)


def _check_exchange(conversation_id: str, turns: list) -> None:
    _check_id("conversation_id", conversation_id)
    if not turns:
        raise InvalidInput("an exchange needs at least one turn")
    for role, text, _trace in turns:
        if role not in ("customer", "agent", "system", "tool"):
            raise InvalidInput(f"turn role must be customer, agent, system or tool, got {role!r}")
        if not isinstance(text, str):
            raise InvalidInput(f"turn text must be a string, got {type(text).__name__}")


class WorkingMemory:
    """Per-conversation state with an idle TTL, durable through the append-only turns table.

    One holder should own a conversation at a time (the planner routes a conversation to one place); within a
    process, turns of one conversation are serialised by a lock.
    """

    def __init__(self, store: MemoryStore, writer: WriterBase, *, ttl: timedelta = DEFAULT_TTL,
                 max_last_turns: int = 10, clock: Callable[[], datetime] = now_utc, log_table: str = "turns") -> None:
        if ttl <= timedelta(0):
            raise InvalidInput("working-memory TTL must be positive")
        # Where this holder appends: its shard's partition of the turns log (memory/shards.py). Reads go over
        # every partition, so a conversation's earlier turns are found whichever layout wrote them.
        self.log_table = log_table
        self.store = store
        self.writer = writer
        self.ttl = ttl
        self.max_last_turns = max_last_turns
        self.clock = clock
        self._cache: dict[str, WorkingState] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._alocks: dict[str, asyncio.Lock] = {}  # asyncio.Lock per conversation, for record_exchange_async
        self._guard = threading.Lock()

    def _lock(self, conversation_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(conversation_id, threading.Lock())

    def _expired(self, state: WorkingState, now: datetime) -> bool:
        return state.updated_at is not None and now - state.updated_at > self.ttl

    # -- reads -------------------------------------------------------------------------------------------------
    def get(self, conversation_id: str, *, customer_id: str | None) -> WorkingState | None:
        """The live state, or None when the conversation has none (never started, idle past the TTL) or belongs
        to a different customer than the one asking."""
        _check_id("conversation_id", conversation_id)
        with self._lock(conversation_id):
            state = self._live(conversation_id)
        if state is None:
            return None
        if state.customer_id is not None and state.customer_id != customer_id:
            return None
        return state.model_copy(deep=True)

    def load(self, conversation_id: str) -> WorkingState | None:
        """The live state whoever owns it: only for the conversation's owner process (the planner), which
        authorises its callers itself. Every customer-facing read goes through get()."""
        _check_id("conversation_id", conversation_id)
        with self._lock(conversation_id):
            state = self._live(conversation_id)
        return state.model_copy(deep=True) if state else None

    def exists(self, conversation_id: str) -> bool:
        with self._lock(conversation_id):
            return conversation_id in self._cache or bool(self.turns(conversation_id))

    def _live(self, conversation_id: str) -> WorkingState | None:
        now = self.clock()
        state = self._cache.get(conversation_id)
        if state is None:
            state = self.rebuild(conversation_id)
            if state is not None:
                self._cache[conversation_id] = state
        if state is None or self._expired(state, now):
            return None
        return state

    def turns(self, conversation_id: str) -> list[dict]:
        """All logged turns of a conversation in order (the raw log rows)."""
        t = self.store.log("turns")
        rows = (t.search().where(f"conversation_id = {sql_str(conversation_id)}")
                .limit(1_000_000).to_arrow().to_pylist())
        return sorted(rows, key=lambda r: r["seq"])

    def rebuild(self, conversation_id: str) -> WorkingState | None:
        """Fold the turns log into a state: only the turns after the last idle gap longer than the TTL count."""
        rows = self.turns(conversation_id)
        if not rows:
            return None
        start = 0
        for i in range(1, len(rows)):
            if rows[i]["created_at"] - rows[i - 1]["created_at"] > self.ttl:
                start = i
        state = WorkingState(conversation_id=conversation_id)
        # Identity learned in an earlier session still names whose conversation this is.
        for row in rows[:start]:
            if row.get("customer_id"):
                state.customer_id = row["customer_id"]
        for row in rows[start:]:
            patch = StatePatch.model_validate(json.loads(row["state_patch"] or "{}"))
            self._fold(state, row, patch)
        state.last_seq = rows[-1]["seq"]
        return state

    def _fold(self, state: WorkingState, row: dict, patch: StatePatch) -> None:
        apply_patch(state, patch)
        if row.get("customer_id") and state.customer_id is None:
            state.customer_id = row["customer_id"]
        if state.started_at is None:
            state.started_at = row["created_at"]
        state.updated_at = row["created_at"]
        state.session_turns += 1
        state.last_seq = row["seq"]
        state.last_turns.append(TurnView(seq=row["seq"], role=row["role"], text=row["text"] or "",
                                         created_at=row["created_at"]))
        del state.last_turns[:-self.max_last_turns]

    # -- writes ------------------------------------------------------------------------------------------------
    def record_turn(self, conversation_id: str, role: Role, text: str, *, customer_id: str | None = None,
                    intents: list[str] | None = None, patch: StatePatch | dict | None = None) -> WorkingState:
        """Log the turn (redacted), then update the state. Returns after the log write is committed."""
        return self.record_exchange(conversation_id, [(role, text, None)], customer_id=customer_id,
                                    intents=intents, patch=patch)

    def record_exchange(self, conversation_id: str, turns: list[tuple[Role, str, str | None]], *,
                        customer_id: str | None = None, intents: list[str] | None = None,
                        patch: StatePatch | dict | None = None, expected_seq: int | None = None) -> WorkingState:
        """Log several turns (e.g. the customer's message and the reply, each with an optional JSON trace) in ONE
        commit, so a reader never sees half an exchange. `expected_seq` makes it conditional: Conflict when
        another exchange landed since the caller read the state."""
        _check_exchange(conversation_id, turns)
        patch = self._clean_patch(patch)
        with self._lock(conversation_id):
            state = self._cache.get(conversation_id)
            if state is None and expected_seq != 0:  # 0: a new conversation (random id), nothing to rebuild
                state = self.rebuild(conversation_id)  # a scan of the turns log, which grows with every turn
            rows, new_state = self._exchange_rows(conversation_id, state, turns, customer_id, intents, patch,
                                                  expected_seq)
            self.writer.apply([Op(table=self.log_table, kind="append", rows=rows, fresh=True)])
            self._cache[conversation_id] = new_state
            return new_state.model_copy(deep=True)

    async def record_exchange_async(self, conversation_id: str, turns: list[tuple[Role, str, str | None]], *,
                                    customer_id: str | None = None, intents: list[str] | None = None,
                                    patch: StatePatch | dict | None = None,
                                    expected_seq: int | None = None) -> WorkingState:
        """record_exchange for an event loop (the holder actor): the commit is awaited, not waited on by a thread.
        Turns of one conversation are serialised by an asyncio lock; use one of the two forms per instance."""
        _check_exchange(conversation_id, turns)
        patch = self._clean_patch(patch)
        async with self._async_lock(conversation_id):
            state = self._cache.get(conversation_id)
            if state is None and expected_seq != 0:  # 0: a new conversation (random id), nothing to rebuild
                state = await asyncio.to_thread(self.rebuild, conversation_id)
            rows, new_state = self._exchange_rows(conversation_id, state, turns, customer_id, intents, patch,
                                                  expected_seq)
            await self.writer.apply_async([Op(table=self.log_table, kind="append", rows=rows, fresh=True)])
            self._cache[conversation_id] = new_state
            return new_state.model_copy(deep=True)

    async def load_async(self, conversation_id: str) -> WorkingState | None:
        """load() for an event loop; shares record_exchange_async's lock so a rebuild never overwrites a newer
        state in the cache."""
        _check_id("conversation_id", conversation_id)
        async with self._async_lock(conversation_id):
            state = self._cache.get(conversation_id)
            if state is None:
                state = await asyncio.to_thread(self.rebuild, conversation_id)
                if state is not None:
                    self._cache[conversation_id] = state
        if state is None or self._expired(state, self.clock()):
            return None
        return state.model_copy(deep=True)

    def _async_lock(self, conversation_id: str):
        return self._alocks.setdefault(conversation_id, asyncio.Lock())

    @staticmethod
    def _clean_patch(patch: StatePatch | dict | None) -> StatePatch:
        patch = patch if isinstance(patch, StatePatch) else StatePatch.model_validate(patch or {})
        if patch.slots:
            patch = patch.model_copy(update={"slots": redact(patch.slots)})
        if patch.context is not None:
            patch = patch.model_copy(update={"context": redact(patch.context)})
        return patch

    def _exchange_rows(self, conversation_id: str, state: WorkingState | None, turns, customer_id, intents,
                       patch: StatePatch, expected_seq: int | None) -> tuple[list[dict], WorkingState]:
        """The log rows of one exchange and the state after it (nothing written yet)."""
        now = self.clock()
        if expected_seq is not None and (state.last_seq if state else 0) != expected_seq:
            raise Conflict(f"conversation {conversation_id!r} moved on (another turn was recorded); retry",
                           conversation_id=conversation_id)
        if state is None or self._expired(state, now):
            previous = state
            state = WorkingState(conversation_id=conversation_id,
                                 customer_id=previous.customer_id if previous else None,
                                 last_seq=previous.last_seq if previous else 0)
        owner = state.customer_id
        if owner and customer_id and customer_id != owner:
            raise InvalidInput(f"conversation {conversation_id!r} belongs to another customer; "
                               "a conversation cannot change customer")
        rows = []
        for n, (role, text, trace) in enumerate(turns, start=1):
            seq = state.last_seq + n
            last = n == len(turns)
            rows.append({
                "turn_id": f"{conversation_id}:{seq:07d}",
                "conversation_id": conversation_id,
                "seq": seq,
                "customer_id": customer_id or owner,
                "role": role,
                "text": redact_text(text),
                "intents": list(intents or []),
                # The state change rides on the last row: a rebuild folds it once per exchange.
                "state_patch": patch.model_dump_json(exclude_unset=True) if last else "{}",
                "trace": _redacted_json(trace) if trace else None,
                "created_at": now,
            })
        new_state = state.model_copy(deep=True)
        for row in rows[:-1]:
            self._fold(new_state, row, StatePatch())
        self._fold(new_state, rows[-1], patch)
        return rows, new_state

    def sweep(self) -> int:
        """Drop expired states from the cache (they are still rebuildable from the log). Returns how many."""
        now = self.clock()
        gone = [cid for cid, s in self._cache.items() if self._expired(s, now)]
        for cid in gone:
            self._cache.pop(cid, None)
            lock = self._alocks.get(cid)
            if lock is not None and not lock.locked():
                del self._alocks[cid]  # the per-conversation locks would otherwise grow with every conversation
        return len(gone)

    def is_cached(self, conversation_id: str) -> bool:
        return conversation_id in self._cache

    def forget_cache(self) -> None:
        """Drop every cached state, as a restart would."""
        self._cache.clear()


_HOLDER = None


def holder_actor_class():
    """A Ray actor that holds working memory for many conversations (built lazily; Ray is optional here)."""
    global _HOLDER
    if _HOLDER is None:
        import ray

        class WorkingMemoryHolder:
            """Async: a turn's commit is awaited on the event loop, so many conversations wait on the single writer
            at once without a thread each (measured: 64 threads blocked in ray.get cost 0.4 cores under load)."""

            def __init__(self, uri: str, ttl_s: float = DEFAULT_TTL.total_seconds(),
                         shard: tuple[int, int] | None = None) -> None:
                from memory.store import connect, partition_name
                from memory.writer import RayWriter

                # Shard k of n appends to its own partition of the log through shard k's writer (memory/shards.py).
                self.shard = tuple(shard) if shard else None
                self.memory = WorkingMemory(connect(uri), RayWriter(uri, shard=self.shard),
                                            ttl=timedelta(seconds=ttl_s),
                                            log_table=partition_name("turns", self.shard[0] if self.shard else 0))

            def _owns(self, conversation_id: str) -> None:
                """Two holders writing one conversation would both number its next turn: refuse one routed here
                by a client with another layout (a resharding done without the restart it needs)."""
                if self.shard and self.shard[1] > 1:
                    from memory.shards import shard_of

                    owner = shard_of(conversation_id, self.shard[1])
                    if owner != self.shard[0]:
                        raise InvalidInput(f"conversation {conversation_id!r} belongs to shard {owner} of "
                                           f"{self.shard[1]}, not to this holder (shard {self.shard[0]})")

            async def record_exchange(self, conversation_id: str, turns: list, **kw) -> dict:
                self._owns(conversation_id)
                state = await self.memory.record_exchange_async(conversation_id, [tuple(t) for t in turns], **kw)
                return state.model_dump(mode="json")

            async def record_turn(self, conversation_id: str, role: str, text: str, **kw) -> dict:
                return await self.record_exchange(conversation_id, [(role, text, None)], **kw)

            async def load(self, conversation_id: str) -> dict | None:
                state = await self.memory.load_async(conversation_id)
                return state.model_dump(mode="json") if state else None

            async def get(self, conversation_id: str, customer_id: str | None) -> dict | None:
                state = await self.memory.load_async(conversation_id)
                if state is None or (state.customer_id is not None and state.customer_id != customer_id):
                    return None
                return state.model_dump(mode="json")

            async def exists(self, conversation_id: str) -> bool:
                return self.memory.is_cached(conversation_id) or bool(await self.turns(conversation_id))

            async def turns(self, conversation_id: str) -> list[dict]:
                return await asyncio.to_thread(self.memory.turns, conversation_id)

            async def cached(self) -> list[str]:
                return sorted(self.memory._cache)

        _HOLDER = ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=1000)(WorkingMemoryHolder)
    return _HOLDER

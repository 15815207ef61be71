"""Conversations on memory/: the planner's state lives in working memory (rebuilt from the turns
log after any restart) and each turn is one atomic append of the customer's message and the reply with its trace.

Two shapes of the same thing: in-process (tests, the local runner) and through the working-memory holder actor,
which every planner replica shares so that one conversation has one state wherever its turns land.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from actors.planner.conversation import ConversationState, TurnRecord
from actors.runtime.retry import replica_gone
from telco.contract.http import TranscriptTurn, TurnOut
from telco.errors import Conflict

HOLDER_NAME = "telco-working-memory"
HOLDER_ATTEMPTS, HOLDER_BACKOFF_S = 5, 0.5  # up to 7.5 s of waiting for a holder that restarts on another node
# What was stored may come from a newer release (a rolling deploy runs old and new replicas side by side): fields
# this code does not know are dropped when reading, where the models otherwise refuse unknown fields.
STORED_EXTRA = "ignore"


class WorkingMemoryStore:
    """ConversationStore over memory.working (an in-process WorkingMemory or the holder actor's handle)."""

    def __init__(self, memory: Any) -> None:
        self.memory = memory

    async def _call(self, method: str, *args: Any, **kw: Any) -> Any:
        fn = getattr(self.memory, method)
        if not hasattr(fn, "remote"):
            return await asyncio.to_thread(fn, *args, **kw)
        # The holder restarts elsewhere when its node is lost (max_restarts) and rebuilds from the log, but a call
        # in flight then fails: it is sent again. A commit that did land before the holder died is not repeated:
        # its conditional append finds the sequence moved on (Conflict), and the planner answers from the log.
        for attempt in range(1, HOLDER_ATTEMPTS + 1):
            try:
                return await fn.remote(*args, **kw)
            except Exception as exc:
                if attempt == HOLDER_ATTEMPTS or not replica_gone(exc):
                    raise
                await asyncio.sleep(HOLDER_BACKOFF_S * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    async def create(self, state: ConversationState) -> None:
        await self._call("record_exchange", state.conversation_id,
                         [("system", f"conversation opened on {state.channel}", None)],
                         customer_id=state.customer_id, patch={"context": state.model_dump(mode="json")},
                         expected_seq=0)

    async def load(self, conversation_id: str) -> ConversationState | None:
        ws = await self._call("load", conversation_id)
        if ws is not None:
            ws = ws if isinstance(ws, dict) else ws.model_dump(mode="json")
            if ws.get("context"):
                state = ConversationState.model_validate(ws["context"], extra=STORED_EXTRA)
                state._log_seq = ws["last_seq"]  # type: ignore[attr-defined]
                return state
        if not await self._call("exists", conversation_id):
            return None
        return await self._resume(conversation_id)

    async def _resume(self, conversation_id: str) -> ConversationState:
        """Idle past the working-memory TTL: the conversation goes on as a fresh session (identity asked again)."""
        rows = await self._call("turns", conversation_id)
        first, last = rows[0], rows[-1]
        opened = json.loads(first["state_patch"] or "{}").get("context", {})
        state = ConversationState(conversation_id=conversation_id, customer_id=last.get("customer_id"),
                                  channel=opened.get("channel", "chat"), created_at=first["created_at"],
                                  updated_at=last["created_at"],
                                  turns=sum(1 for r in rows if r["role"] == "agent"))
        state._log_seq = last["seq"]  # type: ignore[attr-defined]
        return state

    async def commit(self, state: ConversationState, turn: TurnRecord) -> None:
        expected = getattr(state, "_log_seq", None)
        try:
            await self._call("record_exchange", state.conversation_id,
                             [("customer", turn.customer_text, None),
                              ("agent", turn.out.reply, turn.out.model_dump_json())],
                             customer_id=state.customer_id, intents=[i.intent for i in turn.out.intents],
                             patch={"context": state.model_dump(mode="json")}, expected_seq=expected)
        except Exception as exc:  # the holder raises across Ray; keep the typed error
            cause = getattr(exc, "cause", exc)
            if isinstance(cause, Conflict):
                raise cause from None
            raise

    async def save_state(self, state: ConversationState) -> None:
        await self._call("record_exchange", state.conversation_id, [("system", "state updated", None)],
                         customer_id=state.customer_id, patch={"context": state.model_dump(mode="json")})

    async def transcript(self, conversation_id: str) -> list[TranscriptTurn]:
        rows = await self._call("turns", conversation_id)
        out, customer_text = [], ""
        for row in rows:
            if row["role"] == "customer":
                customer_text = row["text"] or ""
            elif row["role"] == "agent" and row.get("trace"):
                turn = TurnOut.model_validate_json(row["trace"], extra=STORED_EXTRA)
                out.append(TranscriptTurn(turn_id=turn.turn_id, at=row["created_at"], customer=customer_text,
                                          reply=turn.reply, mode=turn.mode, trace=turn.trace))
        return out

    async def logged_turn(self, conversation_id: str, turn_id: str) -> TurnOut | None:
        for row in await self._call("turns", conversation_id):
            if row["role"] == "agent" and row.get("trace"):
                turn = TurnOut.model_validate_json(row["trace"], extra=STORED_EXTRA)
                if turn.turn_id == turn_id:
                    return turn
        return None


def memory_backed(memory_uri: str, *, shared: bool | None = None, shards: int | None = None) -> WorkingMemoryStore:
    """A planner's conversation store. shared=True (default inside Ray): the named working-memory holder actors,
    one per shard (TELCO_MEMORY_SHARDS; memory/shards.py), each committing through its shard's writer actor;
    shared=False: everything in this process."""
    from memory.store import connect

    if shared is None:
        try:
            import ray

            shared = ray.is_initialized()
        except ImportError:
            shared = False
    if shared:
        from memory.placement import on_head_node
        from memory.shards import ShardedHolders, holder_name
        from memory.working import holder_actor_class
        from telco.config import memory_env

        n = shards or memory_env().memory_shards
        placement = on_head_node()
        holders = [holder_actor_class().options(name=holder_name(HOLDER_NAME, k, n), namespace="telco",
                                                get_if_exists=True, lifetime="detached", **placement)
                   .remote(memory_uri, shard=(k, n)) for k in range(n)]
        return WorkingMemoryStore(holders[0] if n == 1 else ShardedHolders(holders))
    from memory.working import WorkingMemory
    from memory.writer import LocalWriter

    store = connect(memory_uri)
    return WorkingMemoryStore(WorkingMemory(store, LocalWriter(store)))

"""Which shard of the write path owns a conversation: N working-memory holders, each with its own turns-log writer.

A conversation always maps to the same shard for a given N (a stable hash of its id, the same in every process
and release), so one holder owns its cached state and one writer commits its turns, to its own partition of the
log (`turns` for shard 0, `turns_p<k>` for shard k: memory/store.py). Separate tables because a Lance table takes
one commit at a time: measured, two writers appending to one table shared its commit rate instead of adding to it
(bench/RESULTS.md). Readers and jobs see one log through `MemoryStore.log("turns")`, whatever N is.

The hash is jump consistent hashing (Lamping and Veach, 2014): growing from N to N+1 shards moves only about
1/(N+1) of the conversations, all of them to the new shard. Nothing has to be copied when N changes (the log is
the truth and a holder rebuilds a state it has not cached from it), but two layouts must never serve at once:
resharding is a restart (docs/write-path.md).
"""
from __future__ import annotations

import hashlib
from typing import Any

from telco.errors import InvalidInput

_LCG = 2862933555777941757  # the 64-bit linear congruential step the algorithm uses as its random source
_MASK = (1 << 64) - 1


def jump_hash(key: int, buckets: int) -> int:
    """The bucket in [0, buckets) of a 64-bit key."""
    if buckets < 1:
        raise InvalidInput(f"the number of shards must be at least 1, got {buckets}")
    key &= _MASK
    chosen, nxt = -1, 0
    while nxt < buckets:
        chosen = nxt
        key = (key * _LCG + 1) & _MASK
        nxt = int((chosen + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return chosen


def shard_of(conversation_id: str, shards: int) -> int:
    """The shard that owns a conversation. Python's hash() is salted per process, so the key is a digest."""
    if not isinstance(conversation_id, str) or not conversation_id:
        raise InvalidInput(f"conversation_id must be a non-empty string, got {conversation_id!r}")
    digest = hashlib.blake2b(conversation_id.encode("utf-8"), digest_size=8).digest()
    return jump_hash(int.from_bytes(digest, "big"), shards)


def holder_name(base: str, shard: int, shards: int) -> str:
    """A holder actor's name; one shard keeps the name the single holder always had."""
    return base if shards == 1 else f"{base}:{shard}of{shards}"


class ShardedHolders:
    """Looks like one holder actor handle: `holders.record_exchange.remote(conversation_id, ...)` goes to the
    holder that owns conversation_id. Every holder method takes the conversation id first."""

    def __init__(self, handles: list[Any]) -> None:
        if not handles:
            raise InvalidInput("at least one holder is needed")
        self.handles = list(handles)

    def for_conversation(self, conversation_id: str) -> Any:
        return self.handles[shard_of(conversation_id, len(self.handles))]

    def __getattr__(self, method: str) -> "_Routed":
        if method.startswith("_"):
            raise AttributeError(method)
        return _Routed(self, method)


class _Routed:
    __slots__ = ("holders", "method")

    def __init__(self, holders: ShardedHolders, method: str) -> None:
        self.holders, self.method = holders, method

    def remote(self, conversation_id: str, *args: Any, **kw: Any) -> Any:
        return getattr(self.holders.for_conversation(conversation_id), self.method).remote(conversation_id, *args,
                                                                                        **kw)

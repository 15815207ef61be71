"""The sharded write path (memory/shards.py): a conversation's shard is stable, growing the layout moves few
conversations, and on a real local Ray cluster turns of many conversations written through N holders and their
writers land exactly once in the one turns log and are found again."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from memory.shards import ShardedHolders, jump_hash, shard_of
from telco.errors import InvalidInput

ROOT = str(Path(__file__).resolve().parents[2])

# Pinned: a change of hash would send live conversations to holders that do not have them (docs/write-path.md).
GOLDEN = {("conv-0001", 2): 0, ("conv-0001", 4): 0, ("conv-0002", 4): 2, ("conv-abc", 3): 1,
          ("2f1c9e0a-6a53-4e35-9d4b-9a4a0c1e7b11", 8): 2}


def test_the_shard_of_a_conversation_is_pinned_and_the_same_in_another_process():
    assert {k: shard_of(*k) for k in GOLDEN} == GOLDEN
    code = ("from memory.shards import shard_of; import json; "
            f"print(json.dumps([shard_of(c, n) for c, n in {list(GOLDEN)!r}]))")
    # Another interpreter with another hash seed: Python's own hash() would differ, the shard must not.
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert out.stdout.strip() == str(list(GOLDEN.values()))


def test_shards_are_even_and_growing_the_layout_moves_only_conversations_to_the_new_shard():
    ids = [f"conv-{n:05d}" for n in range(4000)]
    for n in (2, 4):
        counts = Counter(shard_of(c, n) for c in ids)
        assert set(counts) == set(range(n))
        assert max(counts.values()) < 1.15 * len(ids) / n
    before = {c: shard_of(c, 3) for c in ids}
    after = {c: shard_of(c, 4) for c in ids}
    moved = [c for c in ids if before[c] != after[c]]
    assert all(after[c] == 3 for c in moved)  # nobody moves between the shards that were already there
    assert 0.20 < len(moved) / len(ids) < 0.30  # about 1/4


def test_bad_layouts_and_ids_are_refused():
    with pytest.raises(InvalidInput):
        shard_of("conv-1", 0)
    with pytest.raises(InvalidInput):
        shard_of("", 2)
    assert jump_hash(123, 1) == 0


def test_only_partitioned_tables_have_shard_partitions():
    from memory.store import partition_name, spec

    assert partition_name("turns", 0) == "turns" and partition_name("turns", 2) == "turns_p2"
    assert spec("turns_p2").name == "turns_p2" and spec("turns_p2").group == "conversations"
    for name in ("episodes_p1", "turns_p0", "turns_p01", "turns_px"):
        with pytest.raises(InvalidInput):
            spec(name)


def test_sharded_holders_route_every_call_by_its_conversation_id():
    class Handle:
        def __init__(self, k):
            self.k, self.calls = k, []

        def __getattr__(self, method):
            handle = self

            class M:
                def remote(self, *args, **kw):
                    handle.calls.append((method, args[0]))
                    return handle.k
            return M()

    handles = [Handle(k) for k in range(3)]
    holders = ShardedHolders(handles)
    for c in ("conv-a", "conv-b", "conv-c", "conv-d"):
        assert holders.record_exchange.remote(c, [("customer", "hi", None)]) == shard_of(c, 3)
        assert holders.turns.remote(c) == shard_of(c, 3)
    assert all(cid_shard == h.k for h in handles for cid_shard in (shard_of(c, 3) for _, c in h.calls))


# -- on a real local Ray cluster ----------------------------------------------------------------------------------

SHARDS = 3
CONVERSATIONS = 24
EXCHANGES = 3


@pytest.mark.ray
@pytest.mark.slow
def test_turns_of_many_conversations_land_once_across_shards_and_are_read_back(tmp_path):
    ray = pytest.importorskip("ray")
    from actors.runtime.conversation_store import HOLDER_NAME, memory_backed
    from memory.shards import holder_name
    from memory.store import connect
    from memory.writer import actor_name, stop_writers

    uri = str(tmp_path / "memory")
    path = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR",
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        holders = memory_backed(uri, shared=True, shards=SHARDS).memory
        assert isinstance(holders, ShardedHolders) and len(holders.handles) == SHARDS
        ids = [f"conv-{n:03d}" for n in range(CONVERSATIONS)]

        async def conversation(cid: str) -> None:
            for n in range(EXCHANGES):
                await holders.record_exchange.remote(
                    cid, [("customer", f"message {n} of {cid}", None), ("agent", f"reply {n}", None)],
                    customer_id="CUST-1", patch={"context": {"n": n}}, expected_seq=2 * n)

        async def everything() -> None:
            await asyncio.gather(*(conversation(c) for c in ids))

        asyncio.run(everything())

        store = connect(uri)
        # One partition of the log per shard, each with only its own shard's conversations.
        assert store.partitions("turns") == ["turns", "turns_p1", "turns_p2"]
        for k, name in enumerate(store.partitions("turns")):
            written = {r["conversation_id"] for r in store.table(name).to_arrow().to_pylist()}
            assert written and all(shard_of(c, SHARDS) == k for c in written)
        rows = store.log("turns").search().limit(100_000).to_list()
        ids_written = Counter(r["turn_id"] for r in rows)
        assert len(rows) == CONVERSATIONS * EXCHANGES * 2
        assert max(ids_written.values()) == 1  # no turn twice
        # Reads find every conversation whole, through the holder that owns it.
        for cid in ids:
            turns = ray.get(holders.turns.remote(cid))
            assert [t["seq"] for t in turns] == list(range(1, 2 * EXCHANGES + 1))
            state = ray.get(holders.load.remote(cid))
            assert state["context"] == {"n": EXCHANGES - 1} and state["last_seq"] == 2 * EXCHANGES
        # Each holder holds only its own conversations, and each shard's writer committed them.
        owned = {k: sorted(c for c in ids if shard_of(c, SHARDS) == k) for k in range(SHARDS)}
        for k, handle in enumerate(holders.handles):
            assert ray.get(handle.cached.remote()) == owned[k]
            writer = ray.get_actor(actor_name(uri, "conversations", (k, SHARDS)), namespace="telco-memory")
            assert ray.get(writer.stats.remote())["requests"] == len(owned[k]) * EXCHANGES
        # A call routed to the wrong shard (a client on another layout) is refused, not written twice.
        stranger = next(c for c in ids if shard_of(c, SHARDS) != 0)
        with pytest.raises(ray.exceptions.RayTaskError, match="belongs to shard"):
            ray.get(holders.handles[0].record_exchange.remote(stranger, [("customer", "x", None)]))
        assert connect(uri).log("turns").count_rows() == CONVERSATIONS * EXCHANGES * 2
    finally:
        for k in range(SHARDS):
            try:
                ray.kill(ray.get_actor(holder_name(HOLDER_NAME, k, SHARDS), namespace="telco"), no_restart=True)
            except ValueError:
                pass
        stop_writers(uri)
        ray.shutdown()

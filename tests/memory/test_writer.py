"""The write path: folding, one commit per table per batch, validation, retries, compaction, batching."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from memory.writer import Committer, LocalWriter, Op, WriterService, fold, is_conflict
from telco.errors import InvalidInput

from memory_testkit import T0


def turn(i: int, text: str = "hello", conv: str = "c1") -> dict:
    return {"turn_id": f"{conv}:{i}", "conversation_id": conv, "seq": i, "role": "customer", "text": text,
            "created_at": T0}


def rows_of(store, table="turns", key="turn_id"):
    return {r[key]: r for r in store.table(table).to_arrow().to_pylist()}


def test_fold_is_last_write_wins_and_append_never_overwrites():
    ops = [
        Op(table="turns", kind="append", rows=[turn(1, "a"), turn(2, "b")]),
        Op(table="turns", kind="append", rows=[turn(1, "ignored")]),
        Op(table="turns", kind="upsert", rows=[turn(2, "B")]),
        Op(table="turns", kind="delete", keys=["c1:3"]),
        Op(table="turns", kind="delete", keys=["c1:4"]),
        Op(table="turns", kind="append", rows=[turn(4, "re-created")]),
    ]
    ups, apps, dels = fold(ops)["turns"]
    assert {k: r["text"] for k, r in apps.items()} == {"c1:1": "a"}
    assert {k: r["text"] for k, r in ups.items()} == {"c1:2": "B", "c1:4": "re-created"}
    assert dels == {"c1:3"}


def test_a_fresh_append_lands_once_and_its_retry_is_checked_again(store, writer):
    from memory.writer import _not_fresh

    first = Op(table="turns", kind="append", rows=[turn(1, "first"), turn(2)], fresh=True)
    writer.apply([first])
    retried = _not_fresh([first.model_copy(update={"rows": [turn(1, "retried"), turn(3)]})])
    assert retried[0].fresh is False
    writer.apply(retried)
    rows = store.table("turns").to_arrow().to_pylist()
    assert sorted(r["turn_id"] for r in rows) == ["c1:1", "c1:2", "c1:3"]
    assert {r["turn_id"]: r["text"] for r in rows}["c1:1"] == "first"


def test_appends_are_insert_if_absent_so_retries_do_not_duplicate(store, writer):
    writer.append("turns", [turn(1, "first"), turn(2)])
    writer.append("turns", [turn(1, "retry with other text"), turn(3)])
    rows = rows_of(store)
    assert sorted(rows) == ["c1:1", "c1:2", "c1:3"]
    assert rows["c1:1"]["text"] == "first"
    assert store.table("turns").count_rows() == 3


def test_upserts_and_deletes_of_a_batch_land_in_one_commit(store, writer):
    writer.append("turns", [turn(i) for i in range(1, 6)])
    before = store.table("turns").version
    ack = writer.apply([Op(table="turns", kind="upsert", rows=[turn(1, "changed"), turn(9, "new")]),
                        Op(table="turns", kind="delete", keys=["c1:2", "c1:3"])])
    t = store.table("turns")
    t.checkout_latest()
    assert t.version == before + 1 == ack.versions["turns"]
    rows = rows_of(store)
    assert sorted(rows) == ["c1:1", "c1:4", "c1:5", "c1:9"]
    assert rows["c1:1"]["text"] == "changed"


@pytest.mark.parametrize("op, message", [
    (Op(table="turns", kind="append", rows=[{"turn_id": "x"}]), "missing required columns"),
    (Op(table="turns", kind="append", rows=[{**turn(1), "colour": "red"}]), "unknown columns"),
    (Op(table="turns", kind="append", rows=[{**turn(1), "seq": "one"}]), "do not fit the table schema"),
    (Op(table="turns", kind="delete", keys=[""]), "non-empty string"),
    (Op(table="turns", kind="upsert", keys=["k"]), "takes rows, not keys"),
    (Op(table="nope", kind="append", rows=[]), "unknown memory table"),
])
def test_bad_requests_are_typed_errors_and_write_nothing(store, writer, op, message):
    writer.append("turns", [turn(1)])
    version = store.table("turns").version
    with pytest.raises(InvalidInput, match=message):
        writer.apply([Op(table="turns", kind="append", rows=[turn(2)]), op])
    t = store.table("turns")
    t.checkout_latest()
    assert t.version == version and sorted(rows_of(store)) == ["c1:1"]


def test_commit_conflicts_are_retried_with_backoff_and_other_errors_are_not(store):
    c = Committer(store, base_backoff_s=0.001)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("Retryable commit conflict for version 7: concurrent transaction")
        return 8

    assert c._with_retry(flaky) == 8 and len(calls) == 3 and c.retries == 2
    with pytest.raises(ValueError):
        c._with_retry(lambda: (_ for _ in ()).throw(ValueError("bad data")))
    assert is_conflict(RuntimeError("Commit conflict for version 3")) and not is_conflict(ValueError("x"))


def test_compaction_merges_fragments_and_needs_a_positive_cleanup_age(store, writer):
    for i in range(12):
        writer.append("turns", [turn(i)])
    t = store.table("turns")
    assert t.stats()["fragment_stats"]["num_fragments"] >= 10
    writer.compact(["turns"])
    t.checkout_latest()
    assert t.stats()["fragment_stats"]["num_fragments"] == 1
    assert t.count_rows() == 12
    with pytest.raises(InvalidInput, match="positive"):
        writer.committer.compact(["turns"], timedelta(0))


def test_writer_service_batches_concurrent_requests_and_acks_after_commit(tmp_path):
    svc = WriterService(str(tmp_path / "m"), "conversations", max_wait_s=0.05)

    async def go():
        acks = await asyncio.gather(*[svc.apply([Op(table="turns", kind="append", rows=[turn(i)])])
                                      for i in range(40)])
        return acks, await svc.stats()

    acks, stats = asyncio.run(go())
    assert len(acks) == 40 and all(a.rows == 1 for a in acks)
    t = svc.store.table("turns")
    t.checkout_latest()
    assert t.count_rows() == 40
    # Every ack names a version that already contains its row.
    assert all(a.versions["turns"] <= t.version for a in acks)
    assert stats["requests"] == 40 and stats["batches"] < 40 and max(a.batch_requests for a in acks) > 1


def test_writer_service_rejects_bad_and_foreign_requests_without_hurting_the_batch(tmp_path):
    svc = WriterService(str(tmp_path / "m"), "conversations", max_wait_s=0.05)

    async def go():
        good = svc.apply([Op(table="turns", kind="append", rows=[turn(1)])])
        bad = svc.apply([Op(table="turns", kind="append", rows=[{"turn_id": "x"}])])
        foreign = svc.apply([Op(table="prompts", kind="delete", keys=["p@1"])])
        return await asyncio.gather(good, bad, foreign, return_exceptions=True)

    good, bad, foreign = asyncio.run(go())
    assert good.rows == 1
    assert isinstance(bad, InvalidInput) and "missing required" in str(bad)
    assert isinstance(foreign, InvalidInput) and "belongs to group 'procedural'" in str(foreign)
    with pytest.raises(InvalidInput, match="unknown table group"):
        WriterService(str(tmp_path / "m"), "nope")


def test_writer_service_compacts_on_its_schedule(tmp_path):
    svc = WriterService(str(tmp_path / "m"), "conversations", max_wait_s=0.0, compact_every_s=0.0,
                        cleanup_older_than_s=1.0)

    async def go():
        for i in range(6):
            await svc.apply([Op(table="turns", kind="append", rows=[turn(i)])])
        await asyncio.sleep(0.2)  # let the loop finish the compaction that follows the last commit
        return await svc.stats()

    stats = asyncio.run(go())
    assert stats["compactions"] >= 1
    t = svc.store.table("turns")
    t.checkout_latest()
    assert t.count_rows() == 6 and t.stats()["fragment_stats"]["num_fragments"] <= 2

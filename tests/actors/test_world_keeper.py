"""The OSS/BSS world outlives its service (actors/runtime/world_keeper.py): every change is kept in memory before
the call returns, a new service over the same memory starts from it, and reads write nothing."""
from __future__ import annotations

import asyncio

from actors.runtime.oss_bss import OssBss
from actors.runtime.world_keeper import WorldKeeper
from memory.store import connect
from memory.writer import LocalWriter
from telco.contract.messages import Identity


class CountingWriter(LocalWriter):
    def __init__(self, store) -> None:
        super().__init__(store)
        self.commits = 0

    def apply(self, ops):
        self.commits += 1
        return super().apply(ops)


def service(uri: str) -> tuple[OssBss, CountingWriter]:
    writer = CountingWriter(connect(uri))
    return OssBss("demo", keeper=WorldKeeper(uri, writer)), writer


def test_a_new_service_resumes_the_kept_world(tmp_path):
    uri = str(tmp_path / "memory")
    first, writer = service(uri)
    run = asyncio.run
    handed = run(first.call_tool("conv-a", Identity(), "transfer_to_person",
                                 {"reason": "asked for a person", "summary": "wants a person"}, "conv-a/handoff"))
    assert handed.error is None
    hid = handed.result["handoff_id"]
    run(first.inject_fault("airplane_mode_on", "C1001"))
    kept = writer.commits
    assert kept == 2
    # Reads change nothing and keep nothing.
    run(first.call_tool("conv-a", Identity(), "get_network_status", {"area_id": "A1"}))
    assert writer.commits == kept

    second, _ = service(uri)  # a replaced replica, a restarted cluster
    assert second.sandbox.dump_json() == first.sandbox.dump_json()
    assert run(second.handoffs("get", hid))["status"] == "queued"
    # The write's idempotency key came along: sending it again does not hand over twice.
    again = run(second.call_tool("conv-a", Identity(), "transfer_to_person",
                                 {"reason": "asked for a person", "summary": "wants a person"}, "conv-a/handoff"))
    assert again.result["handoff_id"] == hid and len(second.sandbox.world.handoffs) == len(first.sandbox.world.handoffs)
    # A claim is a change too.
    run(second.handoffs("claim", hid, "dana"))
    third, _ = service(uri)
    assert run(third.handoffs("get", hid))["claimed_by"] == "dana"


def test_changes_made_together_share_snapshots(tmp_path):
    uri = str(tmp_path / "memory")
    svc, writer = service(uri)

    async def many():
        await asyncio.gather(*(svc.call_tool(f"conv-{i}", Identity(), "transfer_to_person",
                                             {"reason": "asked", "summary": f"case {i}"}, f"k-{i}")
                               for i in range(20)))

    asyncio.run(many())
    assert 1 <= writer.commits < 20
    resumed, _ = service(uri)
    assert len(resumed.sandbox.world.handoffs) == len(svc.sandbox.world.handoffs) >= 20


def test_without_a_keeper_nothing_is_kept(tmp_path):
    svc = OssBss("demo")
    asyncio.run(svc.inject_fault("airplane_mode_on", "C1001"))
    assert svc.keeper is None

"""What the audit tests share: a scenario client that remembers its conversations' turns, and the check that the
writes a conversation's traces show and its audit rows are the same attempts, one row each."""
from __future__ import annotations

from collections import Counter
from typing import Any

from telco.tools.write_rules import rules_of


class Recording:
    """A ScenarioClient (in-process or HTTP) that remembers which conversations it started and the turns it got."""

    def __init__(self, client: Any) -> None:
        self.client, self.turns = client, {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def start(self) -> str:
        cid = self.client.start()
        self.turns[cid] = []
        return cid

    def send(self, conversation_id: str, body: dict[str, Any]) -> dict[str, Any]:
        turn = self.client.send(conversation_id, body)
        self.turns[conversation_id].append(turn)
        return turn


def check_rows(cid: str, turns: list[dict[str, Any]], rows: list[dict[str, Any]], who: tuple[str, str]) -> None:
    """`rows`: the conversation's audit rows as JSON (AuditRecord); `who`: the (key_id, role) every row must name."""
    traced = [t for turn in turns for t in turn["trace"]["tools"] if t["kind"] == "write"]
    assert len(rows) == len(traced), (cid, [t["name"] for t in traced], [(r["tool"], r["result"]) for r in rows])
    assert Counter((t["name"], t["ok"]) for t in traced) == \
        Counter((r["tool"], r["result"] in ("ok", "replayed", "queued")) for r in rows), cid
    applied = Counter(r["idempotency_key"] for r in rows if r["result"] == "ok")
    assert all(n == 1 for n in applied.values()), applied  # one applied row per idempotency key
    for r in rows:
        assert (r["key_id"], r["role"]) == who and r["conversation_id"] == cid
        assert r["idempotency_key"] and r["policy_rules"] == rules_of(r["tool"])
        if r["result"] == "refused" and r["policy_rule"]:
            assert r["policy_rule"] in r["policy_rules"], (r["tool"], r["policy_rule"])

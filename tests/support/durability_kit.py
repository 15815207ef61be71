"""Clients that keep talking through a failure, and the check that the turns log kept what they were told.

Used by the node-loss and whole-restart tests (tests/integration/test_node_loss.py, test_restart.py). A client
gives every message a `client_message_id` and, when a turn fails in flight (a dropped connection, a 5xx while a
replica or the whole app is replaced), sends the same message again until it is answered. A turn is acknowledged
when the client got its 200; the log must then hold it exactly once."""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import httpx

RETRY_STATUSES = {409, 429, 500, 502, 503, 504}


@dataclass
class Acked:
    conversation_id: str
    message_id: str
    turn_id: str
    body: dict


@dataclass
class Talk:
    """Conversations run by threads, each sending its script in order, resending a message until it is answered."""

    url: str
    key: str
    scripts: list[list[str]]
    turn_deadline_s: float = 300.0
    acked: list[Acked] = field(default_factory=list)
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    conversation_ids: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)  # cleared: threads wait before their next turn
    # Set: every conversation stops before this turn of its script until resume(), so that what follows a failure
    # can be sent only once the system has recovered from it.
    pause_at: int | None = None
    _resumed: threading.Event = field(default_factory=threading.Event)

    def open(self, client: httpx.Client) -> None:
        for _ in self.scripts:
            r = client.post(f"{self.url}/v1/conversations", headers={"X-API-Key": self.key}, json={})
            assert r.status_code == 201, r.text
            self.conversation_ids.append(r.json()["conversation_id"])

    def start(self) -> None:
        self.gate.set()
        for i, script in enumerate(self.scripts):
            t = threading.Thread(target=self._run, args=(i, script), daemon=True)
            t.start()
            self._threads.append(t)

    def join(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self._threads), "conversations still running"

    def resume(self) -> None:
        self._resumed.set()

    def count(self) -> int:
        with self._lock:
            return len(self.acked)

    def _run(self, i: int, script: list[str]) -> None:
        cid = self.conversation_ids[i]
        with httpx.Client(timeout=120) as client:
            for j, text in enumerate(script):
                if j == self.pause_at:
                    self._resumed.wait()
                self.gate.wait()
                mid = f"m{i}-{j}"
                out = self._send(client, cid, {"text": text, "client_message_id": mid})
                if out is None:
                    return
                with self._lock:
                    self.acked.append(Acked(cid, mid, out["turn_id"], out))

    def _send(self, client: httpx.Client, cid: str, body: dict) -> dict | None:
        deadline = time.monotonic() + self.turn_deadline_s
        while True:
            try:
                r = client.post(f"{self.url}/v1/conversations/{cid}/messages", headers={"X-API-Key": self.key},
                                json=body)
                if r.status_code == 200:
                    return r.json()
                # While `telco up` deploys the app, Serve's proxy already listens and answers 404 "Path ... not
                # found. Ping .../-/routes" (no route yet): the app is not there yet, not the conversation gone.
                starting = r.status_code == 404 and "/-/routes" in r.text
                if r.status_code not in RETRY_STATUSES and not starting:
                    self._fail(f"{cid} {body['client_message_id']}: {r.status_code} {r.text[:200]}")
                    return None
            except httpx.HTTPError:
                pass
            with self._lock:
                self.retries += 1
            if time.monotonic() > deadline:
                self._fail(f"{cid} {body['client_message_id']}: no answer within {self.turn_deadline_s:.0f} s")
                return None
            time.sleep(1.0)

    def _fail(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)


def logged(uri: str, conversation_ids: list[str]) -> dict[str, list[dict]]:
    """The customer and agent rows of these conversations in the turns log, in order."""
    from memory.store import connect, sql_str

    table = connect(uri).table("turns")
    table.checkout_latest()
    out: dict[str, list[dict]] = defaultdict(list)
    ids = ", ".join(sql_str(c) for c in conversation_ids)
    for row in table.search().where(f"conversation_id IN ({ids})").limit(1_000_000).to_list():
        if row["role"] in ("customer", "agent"):
            out[row["conversation_id"]].append(row)
    return {c: sorted(rows, key=lambda r: r["seq"]) for c, rows in out.items()}


def check_log(uri: str, talk: Talk, settled: bool = True) -> dict[str, int]:
    """Every acknowledged turn is in the log, once; no conversation has a turn nobody was answered for twice.

    `settled=False` while conversations still talk: a turn applied before a failure whose client has not had the
    answer to its resend yet is in the log without being acknowledged, so one such turn per conversation is allowed.
    Returns figures for the report: acknowledged turns, turns in the log, retries."""
    import json

    log = logged(uri, talk.conversation_ids)
    agent_ids: dict[str, list[str]] = {c: [json.loads(r["trace"])["turn_id"] for r in rows if r["role"] == "agent"]
                                       for c, rows in log.items()}
    for a in talk.acked:
        assert a.turn_id in agent_ids.get(a.conversation_id, []), f"acknowledged turn {a.turn_id} is not in the log"
    for cid, ids in agent_ids.items():
        assert len(ids) == len(set(ids)), f"{cid}: a turn logged twice: {ids}"
        sent = {a.message_id for a in talk.acked if a.conversation_id == cid}
        # Each message applied once: as many agent turns as distinct messages answered (a turn whose answer was
        # lost and never asked for again would show up here as one more).
        assert len(sent) <= len(ids) <= len(sent) + (0 if settled else 1), \
            f"{cid}: {len(ids)} turns logged for {len(sent)} messages answered"
    return {"acknowledged": len(talk.acked), "logged": sum(len(v) for v in agent_ids.values()),
            "retries": talk.retries}

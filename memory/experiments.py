"""A/B experiments on playbook and prompt versions: which running experiment gives a conversation the candidate.

Assignment is sticky per conversation (a hash of experiment and conversation id: no state to keep, the same on
every replica), with a configurable share for the candidate. A run already under way keeps the version it started
with, even when the experiment stops or its share changes mid-conversation. Experiments are started and stopped by
the evaluation job (jobs.prompt_eval); outcomes per version come from the episodes (jobs.learn).

Prompt versions of a role share the table and the split: the experiment's subject (the `playbook` column) is
`prompt:<role>` (prompt_subject), a name no playbook has. The Claude path serves them (actors.planner.prompt_split).
"""
from __future__ import annotations

import hashlib
import time
from typing import Any, Callable

from memory.store import MemoryStore, now_utc, sql_str
from memory.writer import WriterBase
from telco.errors import InvalidInput


def arm(experiment_id: str, conversation_id: str, share: float) -> str:
    """'candidate' for `share` of conversations, 'control' for the rest; a conversation always gets the same arm."""
    if not 0.0 <= share <= 1.0:
        raise InvalidInput(f"share must be within [0, 1], got {share}")
    digest = hashlib.sha256(f"{experiment_id}|{conversation_id}".encode()).digest()
    return "candidate" if int.from_bytes(digest[:8], "big") / 2 ** 64 < share else "control"


def prompt_subject(role: str) -> str:
    """The experiments-table subject of a prompt role's experiment (playbook experiments use the playbook name)."""
    return f"prompt:{role}"


# Serving re-reads the running experiments at most this often, so an experiment started or stopped reaches every
# replica within it (playbook experiments in the technical agent, prompt experiments on the Claude path).
REFRESH_S = 30.0


def read_running(store: MemoryStore) -> list[dict[str, Any]]:
    return store.table("experiments").search().where("status = 'running'").limit(1000).to_list()


def running_reader(store: MemoryStore, refresh_s: float = REFRESH_S,
                   clock: Callable[[], float] = time.monotonic) -> Callable[[], list[dict[str, Any]]]:
    """() -> the running experiments, re-read from the table at most every `refresh_s` (serving reads it per turn)."""
    cache: dict[str, Any] = {"at": float("-inf"), "running": []}

    def running() -> list[dict[str, Any]]:
        if clock() - cache["at"] > refresh_s:
            cache.update(at=clock(), running=read_running(store))
        return cache["running"]

    return running


class Experiments:
    def __init__(self, store: MemoryStore, writer: WriterBase) -> None:
        self.store, self.writer = store, writer

    def running(self) -> list[dict[str, Any]]:
        return read_running(self.store)

    def start(self, playbook: str, control: int, candidate: int, share: float, note: str | None = None) -> str:
        """`playbook`: the subject, a playbook name or prompt_subject(role)."""
        arm("check", "check", share)  # validates the share
        if any(e["playbook"] == playbook for e in self.running()):
            raise InvalidInput(f"{playbook!r} already has a running experiment; stop it first")
        experiment_id = f"{playbook}:{control}-vs-{candidate}:{int(time.time())}"
        self.writer.upsert("experiments", [{
            "experiment_id": experiment_id, "playbook": playbook, "control_version": control,
            "candidate_version": candidate, "share": share, "status": "running", "started_at": now_utc(),
            "stopped_at": None, "note": note}])
        return experiment_id

    def stop(self, playbook: str) -> int:
        rows = [e for e in self.running() if e["playbook"] == playbook]
        if rows:
            self.writer.upsert("experiments", [{**e, "status": "stopped", "stopped_at": now_utc()} for e in rows])
        return len(rows)


VariantSource = Callable[[str, dict, Any], dict]


def experiment_variants(memory_uri: str, refresh_s: float = REFRESH_S) -> VariantSource:
    """For the technical agent: (conversation id, active books, run in progress) -> the books this conversation
    uses. Experiments and candidate bodies are re-read every `refresh_s`."""
    from memory.store import connect
    from telco.playbooks.spec import Playbook

    store = connect(memory_uri)
    running = running_reader(store, refresh_s)
    cache: dict[str, Any] = {"bodies": {}}

    def body(name: str, version: int) -> Playbook | None:
        key = (name, version)
        if key not in cache["bodies"]:
            rows = (store.table("procedures").search()
                    .where(f"procedure_id = {sql_str(f'{name}@{version}')}").limit(1).to_list())
            cache["bodies"][key] = Playbook.model_validate_json(rows[0]["body"]) if rows else None
        return cache["bodies"][key]

    def variants(conversation_id: str, books: dict, run: Any) -> dict:
        out = dict(books)
        for e in running():
            if e["playbook"] in out and arm(e["experiment_id"], conversation_id, e["share"]) == "candidate":
                out[e["playbook"]] = body(e["playbook"], int(e["candidate_version"])) or out[e["playbook"]]
        if run is not None and run.playbook_id in out and out[run.playbook_id].version != run.version:
            out[run.playbook_id] = body(run.playbook_id, run.version) or out[run.playbook_id]
        return out

    return variants

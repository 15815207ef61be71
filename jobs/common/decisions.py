"""The log of evaluation decisions: every start, decision, promotion and rollback of a playbook or prompt version
is appended to one job_state row, under the name of the job that makes them (`python -m jobs.prompt_eval`)."""
from __future__ import annotations

import json
from typing import Any

from memory.store import MemoryStore, now_utc, sql_str

EVAL_JOB = "prompt_eval"


def log_decision(store: MemoryStore, writer: Any, entry: dict[str, Any]) -> None:
    rows = store.table("job_state").search().where(f"job = {sql_str(EVAL_JOB)}").limit(1).to_list()
    state = json.loads(rows[0]["state"]) if rows else {"history": []}
    state["history"].append(entry)
    writer.upsert("job_state", [{"job": EVAL_JOB, "watermark": None, "state": json.dumps(state, default=str),
                                 "updated_at": now_utc()}])

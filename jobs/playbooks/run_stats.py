"""Playbook run statistics: one procedure_runs row per episode of a known playbook version (keyed by the episode id,
so a rerun adds nothing), which procedural memory's stats and the playbook A/B decision (jobs.playbooks.split)
read."""
from __future__ import annotations

import json
from typing import Any

from memory.store import MemoryStore

from jobs.common.episodes import playbook_of


def active_versions(store: MemoryStore) -> dict[str, int]:
    rows = store.table("procedures").search().where("status = 'active'").select(["name", "version"]).limit(
        100_000).to_list()
    return {r["name"]: int(r["version"]) for r in rows}


def run_row(row: dict[str, Any], steps: list[dict[str, Any]], active: dict[str, int]) -> dict[str, Any] | None:
    """The procedure_runs row of one episode (its steps read once by the caller), or None when no playbook ran it."""
    name, version = playbook_of(row["summary"])
    version = version or active.get(name or "")
    if not (name and version):
        return None
    return {"run_id": row["episode_id"], "procedure_id": f"{name}@{version}", "name": name, "version": version,
            "outcome": row["outcome"], "turns": len(steps),
            "step_outcomes": json.dumps({s["name"]: "ok" if s.get("ok", True) else "failed" for s in steps},
                                        sort_keys=True),
            "at": row["ended_at"]}

"""Every playbook version in procedural memory, loaded once: which is active, the books a given run used, and a
playbook's history (what the failure analysis, the variant generator, the evaluation and the replays read)."""
from __future__ import annotations

from memory.store import MemoryStore
from telco.playbooks.spec import Playbook


class Library:
    """Playbook versions from procedural memory, loaded once."""

    def __init__(self, store: MemoryStore) -> None:
        rows = store.table("procedures").search().select(["name", "version", "status", "body"]).limit(
            100_000).to_list()
        self.versions = {(r["name"], int(r["version"])): Playbook.model_validate_json(r["body"]) for r in rows}
        self.active = {r["name"]: int(r["version"]) for r in rows if r["status"] == "active"}

    def books(self, name: str | None = None, version: int | None = None) -> dict[str, Playbook]:
        out = {n: self.versions[(n, v)] for n, v in self.active.items()}
        if name and version and (name, version) in self.versions:
            out[name] = self.versions[(name, version)]
        return out

    def history(self, name: str) -> list[Playbook]:
        return [b for (n, _), b in sorted(self.versions.items()) if n == name]

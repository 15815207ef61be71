"""A/B experiments on playbook versions: the technical agent's sticky split, and the decision from served runs."""
from __future__ import annotations

from jobs.playbooks.evolve import repoint
from jobs.playbooks.split import decide_ab, start_ab
from jobs.playbooks.versions import rollback
from memory.experiments import Experiments, experiment_variants
from memory.procedural import ProceduralMemory
from telco.playbooks import load_playbooks
from telco.playbooks.runner import RunState


def test_split_is_sticky_keeps_a_run_on_its_version_and_decides_from_served_runs(tmp_path, store, writer):
    uri = str(tmp_path / "memory")
    procedures = ProceduralMemory(store, writer)
    procedures.load_playbooks()
    v1 = load_playbooks()["slow_broadband"]
    v2 = repoint(v1, "first_test", "next", "router_status", v1.version + 1)  # same flow, a new version number
    procedures.add_version(v2.model_dump(mode="json", exclude_none=True))
    start_ab(store, writer, "slow_broadband", v2.version, 0.3)

    variants = experiment_variants(uri)
    active = {"slow_broadband": v1}
    picked = {f"conv-{i}": variants(f"conv-{i}", active, None)["slow_broadband"].version for i in range(600)}
    assert 0.25 < sum(v == v2.version for v in picked.values()) / 600 < 0.35
    assert all(variants(c, active, None)["slow_broadband"].version == v for c, v in list(picked.items())[:50])
    on_v1 = next(c for c, v in picked.items() if v == v2.version)
    run = RunState(playbook_id="slow_broadband", version=v1.version, scope={}, current="router_status")
    # a run keeps the version it started with
    assert variants(on_v1, active, run)["slow_broadband"].version == v1.version

    # Served outcomes (as jobs.learn records them): identical rates never promote.
    e = Experiments(store, writer).running()[0]
    rows = []
    for version, n in ((v1.version, 300), (v2.version, 140)):
        for i in range(n):
            rows.append({"run_id": f"r{version}-{i}", "procedure_id": f"slow_broadband@{version}",
                         "name": "slow_broadband", "version": version,
                         "outcome": "resolved" if i % 5 else "escalated", "turns": 5,
                         "step_outcomes": "{}", "at": e["started_at"]})
    writer.append("procedure_runs", rows)
    out = decide_ab(store, writer, "slow_broadband", promote=True)
    assert out["promoted"] is None and not out["decision"]["promote"]
    assert procedures.get("slow_broadband").version == v1.version

    procedures.activate("slow_broadband", v2.version)
    back = rollback(store, writer, "slow_broadband")
    assert back["active"] == v1.version and Experiments(store, writer).running() == []

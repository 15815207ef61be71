"""`telco intents status|rollback` on LanceDB memory on disk: what is served, and going back to the set before."""
from __future__ import annotations

import json

from cli.main import main
from memory.bootstrap import load_intent_examples
from memory.intent_sets import IntentSets
from memory.store import connect
from memory.writer import LocalWriter


def test_status_and_rollback(tmp_path, embedder, capsys):
    uri = str(tmp_path / "memory")
    store = connect(uri)
    writer = LocalWriter(store)
    load_intent_examples(store, writer, embedder)

    assert main(["intents", "rollback", "--memory-uri", uri]) == 1  # nothing was active before v1
    assert "no previously active version" in capsys.readouterr().out

    v1 = IntentSets(store).active()
    IntentSets(store, writer).add([*v1.examples, ("mobile_data", "me phone's net is banjaxed")], v1.calibration,
                                  activate=True, metrics={"decision": "promoted", "accuracy_before": 0.98,
                                                          "accuracy_after": 0.98, "held_out": 45})
    assert main(["intents", "status", "--memory-uri", uri]) == 0
    out = capsys.readouterr().out.splitlines()
    status = json.loads(out[-1])
    assert status["active_version"] == 2 and [v["status"] for v in status["versions"]] == ["retired", "active"]
    assert out[1].startswith("* v2") and "0.98 -> 0.98 (45 messages)" in out[1]

    assert main(["intents", "rollback", "--memory-uri", uri]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {
        "decision": "rolled_back", "from_version": 2, "active_version": 1}
    assert IntentSets(store).active_version() == 1

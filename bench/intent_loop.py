"""The intent half of the learning loop (`bench/learning_loop.py --intents`): plant a phrasing gap, simulate
contacts, learn + publish, and measure intent accuracy and resolution before and after on held-out contacts.

The gap (bench/data/planted_phrasings.yaml): informal regional wording for "my mobile data does not work" that the
catalogue's examples do not cover. Training contacts open with its `train` phrasings (mixed with ordinary
traffic); the customer is named by the channel (caller ID), so every issue that ends leaves an episode. jobs.learn
keeps the openings whose intent the customer gave (asked to choose), jobs/intent/publish.py screens, refits and
gates them into a new example set. Held-out contacts (another seed, the `held_out` phrasings, never learned from)
run on a separate memory holding first the catalogue set, then the published one, so the only difference between
the two runs is the example set. Families for accuracy are intents, read on every labelled message that is no
example of either set; families for resolution are the traffic families, the planted one apart.
"""
from __future__ import annotations

import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PLANTED = ROOT / "bench" / "data" / "planted_phrasings.yaml"
MIN_LIFT_POINTS = 20  # issue #17: held-out accuracy on the planted family


def named_client(uri: str):
    """LocalClient whose conversations are opened for the contact's customer, as a channel with caller ID does."""
    from actors.runtime.local import OPERATIONS, LocalClient
    from telco.contract.http import NewConversation

    class Named(LocalClient):
        customer_id: str | None = None

        def reset_world(self, scenario):
            self.customer_id = scenario.customer_id
            super().reset_world(scenario)

        def start(self) -> str:
            body = NewConversation(customer_id=self.customer_id)
            return self._run(self.planner.start_conversation(OPERATIONS, body)).conversation_id

    return Named(uri)


def contacts(seed: int, planted_n: int, other_n: int, phrasings: list[str], family: str, intent: str) -> list:
    """planted_n contacts of the planted intent opening with the planted phrasings (family renamed so they are
    counted apart), then other_n contacts of the ordinary traffic mix, shuffled together."""
    from jobs.common.scenario_mix import draw_contacts

    rng = random.Random(seed)
    planted = []
    for c in draw_contacts(seed, planted_n, intents={intent}):
        scenario = c.scenario.model_copy(update={"message": rng.choice(phrasings), "family": family})
        planted.append(c.model_copy(update={"scenario": scenario}))
    others = list(draw_contacts(seed + 1, other_n)) if other_n else []
    mixed = planted + others
    rng.shuffle(mixed)
    return mixed


def run(uri: str, batch: list, seed: int, desc: str) -> dict[str, Any]:
    from jobs.common.command import progress
    from jobs.common.personas import run_contact
    from jobs.common.simulation import drain, tally

    rng = random.Random(seed ^ 0x5EED)
    with named_client(uri) as client:
        results = [run_contact(c, client, rng) for c in progress(batch, total=len(batch), desc=desc)]
        drain(client)
    return tally(results)


def accuracy_of(chosen: Any, planted: list[str], intent: str, other_examples: list) -> dict[str, Any]:
    """Whole-message top-1 of an example set on the planted held-out phrasings and, per intent, on the labelled
    messages (scenario openings and development messages) that no example of this set or `other_examples`
    rewords: both sets are measured on the same messages."""
    from actors.agents.intent import Calibration, IntentAgent
    from jobs.intent.publish import accuracy, development_messages, disjoint, held_out_messages

    async def measure() -> dict[str, Any]:
        agent = IntentAgent(None, chosen.examples, calibration=Calibration.model_validate(chosen.calibration))
        labelled = await disjoint(agent, [*held_out_messages(), *development_messages()],
                                  [*chosen.examples, *other_examples])
        by_intent: dict[str, list] = defaultdict(list)
        for text, want in labelled:
            by_intent[want].append((text, want))
        return {"version": chosen.version, "planted": await accuracy(agent, [(t, intent) for t in planted]),
                "families": {i: await accuracy(agent, msgs) for i, msgs in sorted(by_intent.items())},
                "messages": len(labelled)}

    return asyncio.run(measure())


def main(argv: list[str] | None = None) -> None:
    import argparse

    from jobs.common.command import print_summary

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--intents", action="store_true")
    ap.add_argument("--contacts", type=int, default=80, help="training contacts with the planted phrasings")
    ap.add_argument("--other-contacts", type=int, default=40, help="ordinary training contacts mixed in")
    ap.add_argument("--held-out", type=int, default=40, help="held-out contacts with the planted phrasings")
    ap.add_argument("--held-out-other", type=int, default=40, help="ordinary held-out contacts")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--held-out-seed", type=int, default=9001)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args(argv)

    from jobs.common.tables import local_writer
    from jobs.intent.learning import learn
    from jobs.intent.publish import publish
    from memory.bootstrap import memory_bootstrap
    from memory.intent_sets import IntentSets
    from telco.config import Settings

    spec = yaml.safe_load(PLANTED.read_text())
    family, intent = spec["family"], spec["intent"]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="intent-loop-"))
    live, holdout = str(work / "live"), str(work / "holdout")
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    memory_bootstrap(Settings(memory_uri=live))
    shutil.copytree(live, holdout)
    timings["bootstrap_s"] = round(time.perf_counter() - t0, 1)

    v1 = IntentSets(local_writer(holdout)[0]).active()
    test_contacts = contacts(args.held_out_seed, args.held_out, args.held_out_other, spec["held_out"], family, intent)
    t = time.perf_counter()
    before = run(holdout, test_contacts, args.held_out_seed, "held-out before")
    timings["held_out_before_s"] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    sim = run(live, contacts(args.seed, args.contacts, args.other_contacts, spec["train"], family, intent),
              args.seed, "simulate")
    timings["simulate_s"] = round(time.perf_counter() - t, 1)
    print(json.dumps({"simulate": sim}), file=sys.stderr)

    t = time.perf_counter()
    learned = learn(live)
    store, writer = local_writer(live)
    decision = publish(store, writer)
    timings["learn_publish_s"] = round(time.perf_counter() - t, 1)

    after, published = before, v1
    if decision["decision"] == "promoted":
        published = IntentSets(store).active()
        IntentSets(*local_writer(holdout)).add(published.examples, published.calibration, activate=True,
                                               metrics=published.metrics, note="published by the learning run")
        t = time.perf_counter()
        after = run(holdout, test_contacts, args.held_out_seed, "held-out after")
        timings["held_out_after_s"] = round(time.perf_counter() - t, 1)
    acc_before = accuracy_of(v1, spec["held_out"], intent, published.examples)
    acc_after = accuracy_of(published, spec["held_out"], intent, v1.examples)
    timings["total_s"] = round(time.perf_counter() - t0, 1)

    lift = round((acc_after["planted"] - acc_before["planted"]) * 100, 1)
    worse_acc = sorted(f for f, v in acc_before["families"].items() if acc_after["families"].get(f, 0) < v)
    res = {f: {"before": before["families"].get(f), "after": after["families"].get(f)}
           for f in sorted(set(before["families"]) | set(after["families"]))}
    worse_res = sorted(f for f, v in res.items() if f != family and (v["after"] or 0) < (v["before"] or 0))
    planted_res = res.get(family, {"before": None, "after": None})
    targets = {
        "planted_accuracy_lift_points": {"target": f">= {MIN_LIFT_POINTS}", "value": lift,
                                         "met": lift >= MIN_LIFT_POINTS},
        "planted_resolution_up": {"target": "> before", "value": planted_res,
                                  "met": (planted_res["after"] or 0) > (planted_res["before"] or 0)},
        "families_worse_accuracy": {"target": "none", "value": worse_acc, "met": not worse_acc},
        "families_worse_resolution": {"target": "none", "value": worse_res, "met": not worse_res},
        "published": {"target": "promoted", "value": decision["decision"], "met": decision["decision"] == "promoted"},
    }
    print_summary({
        "bench": "learning_loop_intents", "planted": {"family": family, "intent": intent,
                                                      "train_phrasings": len(spec["train"]),
                                                      "held_out_phrasings": len(spec["held_out"])},
        "contacts": {"train_planted": args.contacts, "train_other": args.other_contacts,
                     "held_out_planted": args.held_out, "held_out_other": args.held_out_other},
        "simulated_resolution": sim["resolution_rate"], "episodes_learned": learned["episodes"],
        "new_intent_examples": learned["new_intent_examples"],
        "publish": {k: decision.get(k) for k in ("decision", "version", "added", "screened_out", "held_out",
                                                 "accuracy_before", "accuracy_after")},
        "accuracy_before": acc_before, "accuracy_after": acc_after,
        "resolution_before": before["resolution_rate"], "resolution_after": after["resolution_rate"],
        "resolution_by_family": res, "targets": targets, "acceptance": all(v["met"] for v in targets.values()),
        "timings": timings})

"""A/B splits of prompt versions: the sticky split the Claude path serves, and the decision from served episodes
(the Claude path end to end: tests/unit/test_claude_path.py)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from actors.planner.llm_context import RolePrompts, file_prompt
from jobs.prompt_eval import main
from jobs.prompts.split import decide_prompt_ab, served_outcomes, start_prompt_ab
from memory.experiments import Experiments, experiment_variants, prompt_subject
from memory.prompts import PromptRegistry


@pytest.fixture
def registry(store, writer) -> PromptRegistry:
    r = PromptRegistry(store, writer)
    r.register("dialogue", "You write replies. Version one.", status="active")
    r.register("dialogue", "You write replies. Version two, shorter.")
    return r


def test_the_split_is_sticky_near_its_share_and_leaves_other_roles_and_playbooks_alone(tmp_path, store, writer,
                                                                                         registry):
    start_prompt_ab(store, writer, "dialogue", 2, 0.3)
    prompts = RolePrompts(registry)
    picked = {f"conv-{i}": prompts.pick("dialogue", f"conv-{i}") for i in range(1000)}
    on_candidate = [c for c, p in picked.items() if p.version == 2]
    assert 0.25 < len(on_candidate) / 1000 < 0.35
    assert {p.text for c, p in picked.items() if p.version == 2} == {"You write replies. Version two, shorter."}
    assert all(prompts.pick("dialogue", c) == p for c, p in list(picked.items())[:100])  # sticky
    assert prompts("dialogue") == "You write replies. Version one."  # no conversation: the active version
    assert prompts.pick("planner", on_candidate[0]).text == file_prompt("planner")  # another role: unchanged
    # a prompt experiment shares the table with playbook experiments without reaching the technical agent
    books = {"mobile_data": object()}
    assert experiment_variants(str(tmp_path / "memory"))(on_candidate[0], books, None) == books
    with pytest.raises(SystemExit, match="active version"):
        start_prompt_ab(store, writer, "dialogue", 1, 0.3)


def episode_rows(version_outcomes: list[tuple[list[str], int, int]], at, *, legacy: bool = False) -> list[dict]:
    """Episodes as the planner records them: (prompt versions served, how many, how many resolved). `legacy`: as
    releases before the typed episode stored them, the versions in a "served_prompts" note step and no prompts
    column."""
    rows = []
    for served, n, resolved in version_outcomes:
        for i in range(n):
            steps = [{"name": "check_line", "kind": "tool", "result": None, "ok": True}]
            row = {"episode_id": f"ep-{at.timestamp()}-{'-'.join(served)}-{i}", "customer_id": "C1001",
                   "summary": "no mobile data", "intents": ["no_mobile_data"], "intent": "no_mobile_data",
                   "outcome": "resolved" if i < resolved else "escalated", "started_at": at, "ended_at": at}
            if legacy:
                steps.append({"name": "served_prompts", "kind": "note", "result": served, "ok": True})
            else:
                row["prompts"] = served
            rows.append({**row, "steps": json.dumps(steps)})
    return rows


def test_decide_ab_promotes_a_clear_winner_only_and_rolls_back_through_the_registry(tmp_path, store, writer,
                                                                                      registry):
    uri = str(tmp_path / "memory")
    main(["--memory-uri", uri, "--role", "dialogue", "--candidate", "2", "--start-ab", "0.5"])
    e = Experiments(store, writer).running()[0]
    assert e["playbook"] == prompt_subject("dialogue")
    at = e["started_at"]
    # Too few, then identical arms: no promotion, however the numbers fall.
    writer.upsert("episodes", episode_rows([(["dialogue@1"], 60, 42), (["dialogue@2"], 60, 42)], at))
    few = decide_prompt_ab(store, writer, "dialogue", promote=True)
    assert few["promoted"] is None and "at least 100" in few["decision"]["reason"]
    writer.upsert("episodes", episode_rows([(["dialogue@1", "planner@1"], 300, 210),
                                            (["dialogue@2", "planner@1"], 300, 210)], at))
    same = decide_prompt_ab(store, writer, "dialogue", promote=True)
    assert same["promoted"] is None and same["decision"]["n_control"] == same["decision"]["n_candidate"] == 360
    assert registry.active("dialogue").version == 1
    # Episodes before the split, or served by both versions, count for neither arm.
    writer.upsert("episodes", episode_rows([(["dialogue@2"], 200, 0)], at - timedelta(days=1))
                  + episode_rows([(["dialogue@1", "dialogue@2"], 200, 0)], at))
    # A clear winner: the candidate resolves all of 400 more (652 of 760 in all), the control stays at 70%.
    writer.upsert("episodes", episode_rows([(["dialogue@2", "intent@3"], 400, 400)], at))
    won = decide_prompt_ab(store, writer, "dialogue", promote=True)
    assert won["decision"]["n_candidate"] == 760 and won["decision"]["candidate_rate"] == round(652 / 760, 4)
    assert won["decision"]["promote"] and won["promoted"] == 2
    assert registry.active("dialogue").version == 2 and Experiments(store, writer).running() == []
    assert registry.get("dialogue", 2).metrics["served_n"] == 760
    logged = json.loads(store.table("job_state").search().where("job = 'prompt_eval'").to_list()[0]["state"])
    assert [h.get("promoted") for h in logged["history"]] == [None, None, None, 2]

    main(["--memory-uri", uri, "--role", "dialogue", "--rollback"])
    assert registry.active("dialogue").version == 1
    with pytest.raises(SystemExit, match="no running prompt experiment"):
        decide_prompt_ab(store, writer, "dialogue")


def test_a_conversation_keeps_the_prompt_version_it_was_first_served(store, writer, registry):
    from actors.planner.prompt_split import ServedPrompts, pinned_versions

    start_prompt_ab(store, writer, "dialogue", 2, 0.5)
    prompts = RolePrompts(registry)
    cid = next(f"conv-{i}" for i in range(100) if prompts.pick("dialogue", f"conv-{i}").version == 2)
    first = ServedPrompts(prompts, cid)
    first("dialogue")
    assert first.labels == ["dialogue@2"]
    Experiments(store, writer).stop(prompt_subject("dialogue"))
    later = RolePrompts(registry)  # e.g. another replica, after the split stopped
    assert later.pick("dialogue", cid).version == 1  # a new conversation would get the active version
    kept = ServedPrompts(later, cid, pinned_versions(first.labels))
    assert kept("dialogue") == "You write replies. Version two, shorter." and kept.labels == ["dialogue@2"]
    assert pinned_versions(["dialogue@1", "dialogue@2", "planner@3"]) == {"planner": 3}  # two versions: not pinned


def test_episodes_stored_before_the_prompts_field_count_for_the_version_their_note_step_named(store, writer,
                                                                                                registry):
    start_prompt_ab(store, writer, "dialogue", 2, 0.5)
    since = Experiments(store, writer).running()[0]["started_at"]
    writer.upsert("episodes", episode_rows([(["dialogue@1"], 3, 2), (["dialogue@2", "planner@1"], 4, 4)], since,
                                           legacy=True)
                  + episode_rows([(["dialogue@2"], 2, 1), (["dialogue@1", "dialogue@2"], 5, 5)], since))
    assert served_outcomes(store, "dialogue", (1, 2), since) == {1: (2, 3), 2: (5, 6)}

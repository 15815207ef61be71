"""Prompt guidelines as data, the reply signals read off a conversation, the scripted model that follows the
guidelines its prompt carries, the checks on a reflective rewrite, and the clear error when a prompt job has no
model."""
from __future__ import annotations

import pytest

from jobs.prompts.evolve import check_rewrite
from jobs.prompts.model_source import NeedsModel, model_source
from telco.config import Settings
from telco.prompt_guidelines import acknowledges, carried, load_guidelines, read_replies, with_guidelines
from telco.testing.guided_model import PADDING, guided_reply, guided_text

BOOK = load_guidelines()
PROMPT = "You write replies.\n- never invent policy, prices or dates;\n- keep it short."
TEMPLATE = "Sorry your mobile data isn't working; let's find out why. Data is charged per GB [1]. Is airplane mode on?"


def test_guidelines_are_added_once_and_recognised_in_a_prompt():
    both = with_guidelines(PROMPT, ["concision", "acknowledgement"])
    assert both.startswith(PROMPT) and carried(both) == {"concision", "acknowledgement"}
    assert with_guidelines(both, ["concision"]) == both and carried(PROMPT) == set()
    # whitespace of the stored text does not matter (the registry may re-wrap it)
    assert carried(both.replace(" ", "  ")) == {"concision", "acknowledgement"}
    assert set(BOOK.for_role("dialogue")) == {"concision", "acknowledgement", "history"}


def test_reply_signals_of_a_conversation():
    turns = [{"reply": "Sorry to hear that. Who are you?", "question": {"slot": "name"}, "citations": [{"n": 1}]},
             {"reply": "Thanks. Who are you, again?", "question": {"slot": "name"}},
             {"reply": "Roaming costs 5 per day [1].", "citations": [{"n": 1}]},
             {"reply": "Here is the answer, with no marker at all " + "word " * 60, "citations": [{"n": 1}]}]
    read = read_replies(turns)
    assert read.replies == 4 and read.opening_acknowledged and read.reasked == 1
    assert (read.passages, read.passages_cited) == (2, 1)  # the asking turn's knowledge is not a passage to quote
    assert read.share_within == 0.75 and not read.meets(BOOK.reply_standard)
    assert read_replies(turns[2:3]).meets(BOOK.reply_standard) is False  # no acknowledgement on opening
    assert not acknowledges("Let me check the network.") and acknowledges("I understand. Let me check.")


def test_the_scripted_model_writes_what_its_prompt_asks_for():
    plain = guided_text(TEMPLATE, set())
    assert plain.endswith(PADDING) and not acknowledges(plain) and "[1]" not in plain
    good = guided_text(TEMPLATE, {"concision", "acknowledgement", "history"})
    assert good == TEMPLATE
    assert acknowledges(guided_text("Let me check the network.", {"acknowledgement"}))
    # it reads the guideline from the system prompt it receives
    request = {"model": "m", "max_tokens": 10, "stream": True,
               "system": [{"type": "text", "text": with_guidelines(PROMPT, ["concision"])}],
               "messages": [{"role": "user", "content": f"<template_reply>\n{TEMPLATE}\n</template_reply>"}]}
    assert PADDING not in guided_reply(request).content[0]["text"]
    request["system"][0]["text"] = PROMPT
    assert PADDING in guided_reply(request).content[0]["text"]


def test_a_reflective_rewrite_must_keep_policy_lines_and_stay_bounded():
    assert check_rewrite(PROMPT, PROMPT + "\n- acknowledge first.", BOOK) is None
    assert "policy line" in check_rewrite(PROMPT, "You write replies.\n- keep it short.\n- be nice.", BOOK)
    assert "empty" in check_rewrite(PROMPT, "  ", BOOK)
    assert "grew" in check_rewrite(PROMPT, PROMPT + "x" * (BOOK.reflection.max_growth_chars + 1), BOOK)
    assert "kept" in check_rewrite(PROMPT * 3, PROMPT, BOOK)


def test_prompt_jobs_without_a_model_say_so(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("TELCO_ANTHROPIC__API_KEY", raising=False)
    with pytest.raises(NeedsModel, match="evaluating a dialogue prompt needs a model: set ANTHROPIC_API_KEY"):
        model_source(None, "evaluating a dialogue prompt", settings=Settings(_env_file=None))
    with_key = Settings(_env_file=None, anthropic={"api_key": "sk-real"})
    assert model_source(None, "x", settings=with_key).name == "claude"
    assert model_source("scripted-guided", "x").scripted


def test_prompt_eval_cli_without_a_model_stops_with_the_reason(monkeypatch, tmp_path, capsys):
    from jobs import prompt_eval
    from memory.prompts import PromptRegistry
    from memory.store import connect
    from memory.writer import LocalWriter

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("TELCO_ANTHROPIC__API_KEY", raising=False)
    monkeypatch.setattr("telco.config.get_settings", lambda: Settings(_env_file=None))
    store = connect(str(tmp_path / "m"))
    registry = PromptRegistry(store, LocalWriter(store))
    registry.register("dialogue", PROMPT, status="active")
    registry.register("dialogue", with_guidelines(PROMPT, ["concision"]))
    with pytest.raises(SystemExit, match="needs a model"):
        prompt_eval.main(["--memory-uri", str(tmp_path / "m"), "--role", "dialogue", "--replay", "4"])
    assert capsys.readouterr().out == ""  # no summary line: nothing was evaluated

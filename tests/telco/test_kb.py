"""The knowledge base: documents parse, follow the authoring rules, agree with policy.yaml, and the labelled
retrieval set points at sections that exist."""
from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from telco.errors import InvalidInput, NotFound
from telco.knowledge import (
    KB_DIR,
    find_section,
    load_documents,
    load_retrieval_eval,
    parse_document,
    slugify,
)
from telco.models.devices import OPERATOR_APN, OPERATOR_MMSC
from telco.data import POLICY_FILE

POLICY_PATH = POLICY_FILE

REQUIRED_DOCS = {
    "policy": {
        "identity-verification", "billing-and-payments", "billing-disputes", "suspension-and-reactivation",
        "data-refuel", "roaming", "goodwill-credits", "plan-changes-and-5g", "moving-house",
        "technician-visits", "outage-communication",
    },
    "manual": {
        "no-mobile-service", "mobile-data-not-working", "mms-picture-messages", "broadband-keeps-dropping",
        "slow-broadband", "home-wifi", "router-ont-lights",
    },
}

# "$25" and "$25.00" are the same amount; both renderings are accepted.
MONEY = r"\$(\d+(?:\.\d\d)?)"

# policy.yaml key -> (document that must state it, the phrase that states it with the number captured).
# The phrase is searched in EVERY document, so a stale copy of the number anywhere in the KB fails the test.
NUMBER_CHECKS: dict[str, tuple[str, str]] = {
    "refuel.max_gb_per_request": ("data-refuel", r"(\d+(?:\.\d+)?) ?GB per (?:single )?request"),
    "refuel.max_gb_per_cycle": ("data-refuel", r"(\d+(?:\.\d+)?) ?GB per (?:billing )?cycle"),
    "goodwill_credit.max_per_credit": ("goodwill-credits", MONEY + r" per credit"),
    "goodwill_credit.yearly_limit_per_customer": ("goodwill-credits", MONEY + r" per customer per (?:calendar )?year"),
    "billing_dispute.window_days": ("billing-disputes", r"within (\d+) days of the bill's issue date"),
    "technician.lead_days": ("technician-visits", r"(\d+) working days? after booking"),
    "technician.horizon_days": ("technician-visits", r"up to (\d+) days ahead"),
    "payment_request.expires_hours": ("billing-and-payments", r"expires? after (\d+) hours"),
    "outage.credit_after_hours": ("outage-communication", r"longer than (\d+) hours"),
    "plan_change.min_months_before_downgrade": ("plan-changes-and-5g", r"(\d+) months on (?:its|the|your) current plan"),
    "identity.max_failed_attempts": ("identity-verification", r"(\d+) failed attempts"),
}


def policy_value(policy: dict, dotted: str) -> Decimal:
    node: object = policy
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"policy.yaml has no {dotted!r}"
        node = node[part]
    return Decimal(str(node))


def stated_values(text: str, pattern: str) -> list[Decimal]:
    # Documents are hard-wrapped, so a phrase may straddle a line break.
    flat = re.sub(r"\s+", " ", text)
    return [Decimal(m) for m in re.findall(pattern, flat)]


def number_problems(texts: dict[str, str], policy: dict) -> list[str]:
    """Every disagreement between policy.yaml and the KB texts (doc id -> full text); empty when they agree."""
    problems = []
    for key, (doc_id, pattern) in NUMBER_CHECKS.items():
        want = policy_value(policy, key)
        if not stated_values(texts.get(doc_id, ""), pattern):
            problems.append(f"{doc_id} does not state {key} ({want}) with /{pattern}/")
        for other_id, text in texts.items():
            for got in stated_values(text, pattern):
                if got != want:
                    problems.append(f"{other_id} states {got} where policy.yaml {key} is {want}")
    return problems


@pytest.fixture(scope="module")
def docs():
    return load_documents()


@pytest.fixture(scope="module")
def policy():
    return yaml.safe_load(POLICY_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def kb_texts():
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(KB_DIR.glob("*.md"))}


# --- the documents ----------------------------------------------------------------------------------------

def test_every_document_parses_with_unique_ids(docs):
    assert len(docs) >= 14
    assert len(docs) == len(list(KB_DIR.glob("*.md")))
    ids = [d.id for d in docs]
    assert len(ids) == len(set(ids))
    section_ids = [s.id for d in docs for s in d.sections]
    assert len(section_ids) == len(set(section_ids))
    for d in docs:
        assert all(s.id.startswith(f"{d.id}#") for s in d.sections)


def test_required_topics_exist_with_the_right_kind(docs):
    kinds = {d.id: d.kind for d in docs}
    for kind, ids in REQUIRED_DOCS.items():
        for doc_id in ids:
            assert kinds.get(doc_id) == kind, f"{doc_id} missing or not a {kind}"


def test_documents_follow_the_authoring_rules(docs):
    for d in docs:
        assert 4 <= len(d.sections) <= 8, f"{d.id} has {len(d.sections)} sections"
        for s in d.sections:
            words = len(s.text.split())
            assert 60 <= words <= 200, f"{s.id} has {words} words"
            assert "\n## " not in s.text and not s.text.startswith("#")


def test_manuals_quote_the_operator_settings_the_physics_uses(docs):
    text = {d.id: " ".join(s.text for s in d.sections) for d in docs}
    assert OPERATOR_APN in text["mobile-data-not-working"]
    assert OPERATOR_APN in text["mms-picture-messages"]
    assert OPERATOR_MMSC in text["mms-picture-messages"]


# --- numbers agree with policy.yaml -----------------------------------------------------------------------

def test_every_checked_number_belongs_to_a_policy_document(docs):
    kinds = {d.id: d.kind for d in docs}
    for key, (doc_id, _) in NUMBER_CHECKS.items():
        assert kinds.get(doc_id) == "policy", f"{key} is checked against {doc_id}, which is not a policy document"


def test_kb_numbers_agree_with_policy_yaml(kb_texts, policy):
    assert number_problems(kb_texts, policy) == []


@pytest.mark.parametrize("rendering", ["$25", "$25.00"])
def test_money_is_recognised_in_both_renderings(rendering, policy):
    _, pattern = NUMBER_CHECKS["goodwill_credit.max_per_credit"]
    assert stated_values(f"An agent may give up to {rendering} per credit.", pattern) == [
        policy_value(policy, "goodwill_credit.max_per_credit")
    ]


def test_a_conflicting_number_is_caught(kb_texts, policy):
    doctored = dict(kb_texts)
    doctored["data-refuel"] = kb_texts["data-refuel"].replace("up to 5 GB per request", "up to 8 GB per request")
    doctored["home-wifi"] = kb_texts["home-wifi"] + "\nA stale copy says up to $40 per credit.\n"
    problems = number_problems(doctored, policy)
    assert any("data-refuel states 8" in p for p in problems), problems
    assert any("home-wifi states 40" in p for p in problems), problems


def test_a_missing_number_is_caught(kb_texts, policy):
    doctored = dict(kb_texts)
    doctored["billing-disputes"] = re.sub(r"within \d+ days of the bill's", "soon after the bill's",
                                          kb_texts["billing-disputes"])
    problems = number_problems(doctored, policy)
    assert any(p.startswith("billing-disputes does not state billing_dispute.window_days") for p in problems)


# --- the parser rejects malformed documents ---------------------------------------------------------------

GOOD = """---
id: sample-doc
title: Sample
kind: manual
services: [mobile]
updated: 2025-01-02
---

## First question?

Body of the first section.

## Second: the answer

Body of the second section.
"""


def test_parser_builds_typed_sections():
    doc = parse_document(GOOD)
    assert doc.updated.isoformat() == "2025-01-02"
    assert [s.id for s in doc.sections] == ["sample-doc#first-question", "sample-doc#second-the-answer"]
    assert doc.sections[1].text == "Body of the second section."
    assert doc.section("first-question").heading == "First question?"
    with pytest.raises(NotFound, match="no section 'nope'"):
        doc.section("nope")


@pytest.mark.parametrize(
    "text, message",
    [
        (GOOD.replace("---\nid", "id", 1), "missing YAML front matter"),
        (GOOD.replace("kind: manual", "kind: faq"), "kind"),
        (GOOD.replace("services: [mobile]", "services: [tv]"), "services"),
        (GOOD.replace("updated: 2025-01-02", "updated: last week"), "updated"),
        (GOOD.replace("title: Sample\n", ""), "title"),
        (GOOD.replace("## First question?", "Stray intro.\n\n## First question?"), "text before the first"),
        (GOOD.replace("## Second: the answer", "## First question!"), "share the anchor 'first-question'"),
        (GOOD.replace("Body of the first section.", ""), "section 'First question?' is empty"),
        (GOOD.split("## ")[0], "no '## ' sections"),
        (GOOD.replace("id: sample-doc", "id: Sample Doc"), "id"),
    ],
)
def test_parser_rejects_malformed_documents(text, message):
    with pytest.raises(InvalidInput, match=re.escape(message)):
        parse_document(text, source="bad.md")


def test_loader_requires_id_to_match_file_name(tmp_path):
    (tmp_path / "other-name.md").write_text(GOOD, encoding="utf-8")
    with pytest.raises(InvalidInput, match="must equal the file name 'other-name'"):
        load_documents(tmp_path)


def test_loader_reads_a_given_directory_and_rejects_empty_ones(tmp_path):
    with pytest.raises(InvalidInput, match="holds no .md documents"):
        load_documents(tmp_path)
    with pytest.raises(InvalidInput, match="does not exist"):
        load_documents(tmp_path / "missing")
    shutil.copy(KB_DIR / "roaming.md", tmp_path / "roaming.md")
    assert [d.id for d in load_documents(tmp_path)] == ["roaming"]


def test_slugify_and_find_section(docs):
    assert slugify("Wi-Fi calling can't block MMS?") == "wi-fi-calling-cant-block-mms"
    first = docs[0].sections[0]
    assert find_section(docs, first.id) == first
    with pytest.raises(InvalidInput, match="must look like"):
        find_section(docs, "roaming")
    with pytest.raises(NotFound, match="no knowledge-base document 'nowhere'"):
        find_section(docs, "nowhere#x")


# --- the labelled retrieval set ---------------------------------------------------------------------------

def _shingles(text: str, n: int = 6) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def test_retrieval_set_labels_resolve_and_cover_every_document(docs):
    cases = load_retrieval_eval()
    assert len(cases) >= 70
    for case in cases:
        find_section(docs, case.expected)  # raises NotFound for a stale label
    covered = {c.expected.split("#")[0] for c in cases}
    assert covered == {d.id for d in docs}
    questions = [c.question.strip().lower() for c in cases]
    assert len(questions) == len(set(questions)), "duplicate questions"


def test_retrieval_questions_are_paraphrased_not_copied(docs):
    for case in load_retrieval_eval():
        section = find_section(docs, case.expected)
        copied = _shingles(case.question) & _shingles(section.text)
        assert not copied, f"{case.question!r} copies {' '.join(next(iter(copied)))!r} from {case.expected}"


def test_retrieval_loader_rejects_bad_entries(tmp_path):
    bad = tmp_path / "eval.yaml"
    bad.write_text("- question: hi\n  expected: no-anchor\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="entry 0: expected"):
        load_retrieval_eval(bad)
    bad.write_text("question: hi\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="must be a list"):
        load_retrieval_eval(bad)

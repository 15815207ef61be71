"""Every playbook refers only to tools, customer steps and playbooks that exist, and every step is reachable."""
import pytest

from telco.intents import load_intents
from telco.playbooks import load_playbooks
from telco.sandbox.customer_steps import list_customer_steps
from telco.tools import TOOLS

BOOKS = load_playbooks()
REQUIRED = {"no_service", "mobile_data", "mms", "broadband_drops", "slow_broadband", "billing_dispute",
            "moving_house", "plan_upgrade", "outage", "identify"}


def test_required_playbooks_exist():
    assert REQUIRED <= set(BOOKS)


@pytest.mark.parametrize("book_id", sorted(BOOKS))
def test_references_resolve(book_id):
    book = BOOKS[book_id]
    step_ids = {s.id for s in list_customer_steps()}
    for step in book.steps:
        if step.tool:
            assert step.tool in TOOLS, f"{book_id}/{step.id}: unknown tool {step.tool}"
        if step.customer_step:
            assert step.customer_step in step_ids, f"{book_id}/{step.id}: unknown customer step {step.customer_step}"
        if step.continue_with:
            assert step.continue_with in BOOKS, f"{book_id}/{step.id}: unknown playbook {step.continue_with}"


@pytest.mark.parametrize("book_id", sorted(BOOKS))
def test_every_step_is_reachable(book_id):
    book = BOOKS[book_id]
    seen, todo = set(), [book.start]
    while todo:
        step = book.step(todo.pop())
        if step.id in seen:
            continue
        seen.add(step.id)
        todo += [t for t in [step.next, step.on_error, *(b.goto for b in step.branches)] if t]
    assert seen == {s.id for s in book.steps}, f"unreachable: {sorted({s.id for s in book.steps} - seen)}"


def test_every_intent_with_a_playbook_points_at_one_that_handles_it():
    for intent in load_intents().values():
        if intent.playbook is None:
            assert intent.handoff_queue, f"{intent.id} has neither a playbook nor a handoff queue"
            continue
        assert intent.playbook in BOOKS, f"{intent.id}: missing playbook {intent.playbook}"
        assert intent.id in BOOKS[intent.playbook].intents


def test_conflicting_intents_are_known_intents():
    catalogue = load_intents()
    for intent in catalogue.values():
        for other in intent.conflicts_with:
            assert other in catalogue

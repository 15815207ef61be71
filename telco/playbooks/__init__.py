"""Troubleshooting and service flows as data (the YAML files beside this module) and their runner."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from telco.data import PLAYBOOKS_DIR
from telco.playbooks.spec import Playbook

PLAYBOOK_DIR = PLAYBOOKS_DIR


def load_playbook(path: str | Path) -> Playbook:
    return Playbook.model_validate(yaml.safe_load(Path(path).read_text()))


@lru_cache(maxsize=1)
def load_playbooks(directory: str | None = None) -> dict[str, Playbook]:
    books = [load_playbook(p) for p in sorted(Path(directory or PLAYBOOK_DIR).glob("*.yaml"))]
    return {b.id: b for b in books}


def playbook_for_intent(intent: str, books: dict[str, Playbook] | None = None) -> Playbook | None:
    for book in (books or load_playbooks()).values():
        if intent in book.intents:
            return book
    return None


# Told by the runner itself when a flow is about a service the account does not have.
RUNNER_NOTICES = frozenset({"service_not_on_account"})


def flow_notices(books: dict[str, Playbook] | None = None) -> set[str]:
    """Every notice a flow can record as told to the customer: playbook inform steps, the diagnosis loop's causes,
    and the runner's own."""
    from telco.playbooks.diagnosis import load_catalogue

    steps = {s.inform for b in (books or load_playbooks()).values() for s in b.steps if s.inform}
    return steps | load_catalogue().notices() | RUNNER_NOTICES

"""Redaction at memory's write boundary (turns, episodes, facts): the kernel's scrubbing (telco/redact.py), which
the model client applies to every request as well, so that what is stored and what a model is shown are scrubbed
by the same rules."""
from __future__ import annotations

from telco.redact import (  # noqa: F401 - re-exported: memory's modules and their tests import them from here
    CARD,
    CVV,
    DOB,
    NATIONAL_ID,
    SECRET,
    SECRET_KEYS,
    luhn_valid,
    redact,
    redact_text,
)

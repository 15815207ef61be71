"""Limits of the wire contract, one definition each. The HTTP bodies enforce them, the settings may only lower them
(telco/config.py), and the agents behind the API rely on them; a module with no imports, so the settings read it
without loading the bodies."""
from __future__ import annotations

MAX_MESSAGE_CHARS = 4000  # one message in a conversation, the customer's or a person's at the handoff desk
MAX_WORLD_CUSTOMERS = 1000  # a world generated through the admin API (POST /v1/admin/sandbox/world)

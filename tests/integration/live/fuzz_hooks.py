"""Schemathesis hooks for test_api_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

A fuzzed chaos drill is undone at once: the drill route itself is exercised and its answer checked, but the calls
that follow it must meet the app as it normally runs, not slowed by a minute per tool call or with a system down
(a 503 there would be the drill's doing, not the API's).
"""
from __future__ import annotations

import os

import httpx
import schemathesis


@schemathesis.hook
def after_call(context, case, response) -> None:
    if case.path.endswith("/sandbox/chaos") and response.status_code == 200:
        restored = httpx.post(f"{os.environ['TELCO_FUZZ_URL']}/v1/admin/sandbox/chaos", json={},
                              headers={"Authorization": f"Bearer {os.environ['TELCO_FUZZ_ADMIN_KEY']}"}, timeout=60)
        restored.raise_for_status()

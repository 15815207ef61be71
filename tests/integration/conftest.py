"""Shared by the integration modules: each module starts its own app (an `app` fixture with its `url`)."""
from __future__ import annotations

import httpx
import pytest


@pytest.fixture(scope="module")
def http(app):
    with httpx.Client(base_url=app["url"], timeout=60) as client:
        yield client

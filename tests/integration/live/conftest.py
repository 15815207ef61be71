"""One app for every module in this package: a local Ray cluster, the Serve app, LanceDB memory on disk and the
embedding model, offline mode. Starting an app costs one to three minutes on a 2-core machine, so the modules here
share it (package scope: it stops after the package's last test, before other modules start their own clusters).

Modules share state: each test loads the world it needs first (POST /v1/admin/sandbox/world) and leaves drills
(chaos) switched off. Keys: tests/support/live_kit.py. `TELCO_LIVE_TEST_URL` (and `TELCO_LIVE_TEST_URI`, its memory
directory) reuse an app already running while iterating on a test."""
from __future__ import annotations

import os

import pytest
from live_kit import api_keys_json
from memory_template import bootstrapped_memory


@pytest.fixture(scope="package")
def app(tmp_path_factory):
    pytest.importorskip("ray")
    from serve.local_app import local_app

    if os.environ.get("TELCO_LIVE_TEST_URL"):
        yield {"url": os.environ["TELCO_LIVE_TEST_URL"], "uri": os.environ.get("TELCO_LIVE_TEST_URI")}
        return
    uri = bootstrapped_memory(tmp_path_factory.mktemp("memory"))
    env = {"TELCO_LIMITS__RATE_PER_MINUTE": "100000", "OMP_NUM_THREADS": "1", "TELCO_API_KEYS": api_keys_json()}
    with local_app(uri, env) as url:
        yield {"url": url, "uri": uri}

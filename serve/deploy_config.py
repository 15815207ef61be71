"""serve/config.yaml, the file `serve deploy` reads: every deployment's replicas, autoscaling and CPU share.

`telco up` (serve.run) applies the same numbers through `deployment_options`, so a local run and a production
deploy never disagree.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CONFIG_FILE = Path(__file__).resolve().with_name("config.yaml")
_OPTION_KEYS = ("num_replicas", "autoscaling_config", "max_ongoing_requests", "ray_actor_options")


@lru_cache(maxsize=1)
def _deployments() -> dict[str, dict[str, Any]]:
    app = yaml.safe_load(CONFIG_FILE.read_text())["applications"][0]
    return {d["name"]: d for d in app["deployments"]}


def deployment_options(name: str) -> dict[str, Any]:
    """The deployment's settings (only the keys Deployment.options accepts)."""
    return {k: v for k, v in _deployments().get(name, {}).items() if k in _OPTION_KEYS}

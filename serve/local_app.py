"""The real app on a fresh local Ray cluster over memory in a given directory: for tests and benchmarks.

`telco up` is for people (a long-lived head, port 8000, the dashboard); this is for programs that need their own
short-lived instance on a free port and must leave nothing running.
"""
from __future__ import annotations

import contextlib
import os
import socket
import time
from typing import Iterator

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=10).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the app at {url} did not become ready within {timeout_s:.0f} s")
        time.sleep(1)


@contextlib.contextmanager
def local_app(memory_uri: str, env: dict[str, str] | None = None, ready_timeout_s: float = 180) -> Iterator[str]:
    """Bootstrap memory, start a local cluster and the app; yield its base URL; shut everything down."""
    import ray
    from ray import serve

    from memory.bootstrap import memory_bootstrap
    from telco.config import Settings, get_settings

    env = {"TELCO_MEMORY_URI": memory_uri, **(env or {})}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # this process reads settings too; the replicas get them through runtime_env
    get_settings.cache_clear()
    settings = Settings(memory_uri=memory_uri)
    memory_bootstrap(settings)
    ray.init(address="local", include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    try:
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        from serve.app import build_app

        serve.run(build_app(settings), name="telco", route_prefix="/")
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, ready_timeout_s)
        yield url
    finally:
        with contextlib.suppress(Exception):
            serve.shutdown()
        ray.shutdown()
        # The next app in this process (another test module) must not inherit this one's settings, e.g. an API key.
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()

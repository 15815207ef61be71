"""The scripted Messages API on a real loopback socket (uvicorn in a background thread).

Over a socket the SDK's timeouts, connection handling and streaming run exactly as against the real API, which
the in-process MockTransport cannot show. Use it as a context manager:

    with serve(api) as base_url:
        client = LlmClient(settings, base_url=base_url)
"""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from telco.testing.scripted_api import ScriptedMessagesApi


def asgi_app(api: ScriptedMessagesApi) -> Any:
    """A bare ASGI app answering POST /v1/messages and the Message Batches endpoints from `api`."""
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw, more = b"", True
        while more:
            msg = await receive()
            raw += msg.get("body", b"")
            more = msg.get("more_body", False)
        hdrs = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host, port = scope.get("server") or ("127.0.0.1", 80)
        status, headers, content = await api.route(scope["method"], scope["path"], raw, hdrs,
                                                   f"http://{host}:{port}")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in headers.items()]})
        if isinstance(content, bytes):
            await send({"type": "http.response.body", "body": content})
            return
        async for chunk in content:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    return app


@contextmanager
def serve(api: ScriptedMessagesApi, *, startup_timeout_s: float = 10.0) -> Iterator[str]:
    """Serve `api` on 127.0.0.1 (a free port) for the duration of the block; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(asgi_app(api), lifespan="off", log_level="warning", access_log=False,
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="scripted-messages-api",
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the scripted Messages API did not start on 127.0.0.1:{port}")
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()

"""Request size limit as plain ASGI middleware, enforced before any route, parser or backend sees the body.

A declared Content-Length over the limit is refused at once; the body actually received is counted too, because a
client can omit the header (chunked upload) or lie in it. The body is at most the limit (64 KiB by default), so it
is buffered whole and replayed to the app; after that `receive` falls through to the server, which keeps
disconnect detection working for streaming responses.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from serve.errors import error_response
from telco.errors import InvalidInput, TelcoError, TooLarge

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodySizeLimit:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_declared(scope)
            messages = await self._read(receive)
        except TelcoError as err:
            await error_response(err)(scope, receive, send)
            return
        if messages is None:  # the client went away before finishing its request
            return
        pending = list(messages)

        async def replay() -> Message:
            if pending:
                return pending.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    def _check_declared(self, scope: Scope) -> None:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                text = value.decode("latin-1").strip()
                if not text.isdigit():
                    raise InvalidInput(f"Content-Length must be a non-negative integer, got {text!r}")
                if int(text) > self.max_bytes:
                    raise TooLarge(f"request body of {int(text)} bytes is over the limit of {self.max_bytes} bytes",
                                   limit_bytes=self.max_bytes, declared_bytes=int(text))

    async def _read(self, receive: Receive) -> list[Message] | None:
        messages: list[Message] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                raise TooLarge(f"request body is over the limit of {self.max_bytes} bytes",
                               limit_bytes=self.max_bytes)
            messages.append(message)
            if not message.get("more_body", False):
                return messages

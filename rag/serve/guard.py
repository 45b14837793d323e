"""Request limits for the web server: bounded bodies, uploads only where allowed, slowed-down wrong logins.

A question (2,000 characters are read) and a number need no large request body, so bodies are
bounded before Gradio parses anything. Gradio's upload route is refused unless the page's
Articles panel takes uploads; then a request to it must say its length, within the upload limit.
"""
from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import re
import time

MAX_BODY_BYTES = 256 * 1024  # a question is cut to 2,000 characters; JSON around it is small

# Our API endpoints: their arguments, and how many are required. Gradio answers a missing one
# with a 500 or a bare {"error": null}; these are checked here and answered with a clear 422.
ENDPOINTS = {"ask": (("question", "k"), 1), "source": (("doc_id",), 1)}
_CALL = re.compile(r"^(?:/gradio_api)?/call/(?P<v2>v2/)?(?P<name>[a-z_]+)/?$")


def check_call(path: str, body: bytes) -> tuple[bytes | None, str | None]:
    """For a POST to one of ENDPOINTS: (body with optional arguments filled in, None) or (None, error)."""
    m = _CALL.match(path)
    if not m or m["name"] not in ENDPOINTS:
        return body, None
    names, required = ENDPOINTS[m["name"]]
    try:
        payload = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None, "The request body must be JSON."
    if not isinstance(payload, dict):
        return None, "The request body must be a JSON object."
    if m["v2"]:  # {"question": ..., "k": ...}
        unknown = sorted(set(payload) - set(names))
        if unknown:
            return None, f"Unknown argument(s): {', '.join(unknown)[:200]}; expected {', '.join(names)}."
        missing = [n for n in names[:required] if n not in payload]
        if missing:
            return None, f"Missing argument: {missing[0]}."
        filled = {n: payload.get(n) for n in names}
    else:  # {"data": [question, k]}
        data = payload.get("data")
        if not isinstance(data, list):
            return None, f'The request body must be {{"data": [{", ".join(names)}]}}.'
        if len(data) < required:
            return None, f"Missing argument: {names[len(data)]}."
        if len(data) > len(names):
            return None, f"Too many arguments: expected {', '.join(names)}."
        filled = dict(payload, data=data + [None] * (len(names) - len(data)))
    return json.dumps(filled).encode(), None


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RequestLimit:
    """ASGI middleware: 413 for bodies over `max_bytes`; Gradio's upload route refused (404) when
    `upload_bytes` is None, else bounded by it (411 without a Content-Length, 413 over it)."""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES, upload_bytes: int | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"].rstrip("/").endswith("/upload"):
            return await self._upload(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                return await _reply(send, 400, "Bad Content-Length.")
            if too_big:
                return await _reply(send, 413, f"Request too large (the limit is {self.max_bytes:,} bytes).")
            if not (scope["method"] == "POST" and _CALL.match(scope["path"])):
                return await self.app(scope, receive, send)
        elif scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):  # no body to bound
            return await self.app(scope, receive, send)
        # Read the body here (chunked, or a call to check), up to the limit, then hand it on.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, _replay([message], receive), send)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return await _reply(send, 413, f"Request too large (the limit is {self.max_bytes:,} bytes).")
            chunks.append(message)
            if not message.get("more_body"):
                break
        if scope["method"] == "POST":
            body, error = check_call(scope["path"], b"".join(m.get("body", b"") for m in chunks))
            if error:
                return await _reply(send, 422, error)
            headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-length"]
            scope = dict(scope, headers=headers + [(b"content-length", str(len(body)).encode())])
            chunks = [{"type": "http.request", "body": body, "more_body": False}]
        return await self.app(scope, _replay(chunks, receive), send)


    async def _upload(self, scope, receive, send):
        """Gradio's upload route: refused, or passed on (streamed, not buffered) when its declared
        length is within `upload_bytes`; Gradio then holds each file to the page's file size limit."""
        if self.upload_bytes is None:
            return await _reply(send, 404, "This server accepts no uploads.")
        length = dict(scope.get("headers") or []).get(b"content-length")
        try:
            size = int(length) if length is not None else None
        except ValueError:
            return await _reply(send, 400, "Bad Content-Length.")
        if size is None:  # a chunked body could be any size; browsers always send the length
            return await _reply(send, 411, "An upload must send its Content-Length.")
        if size > self.upload_bytes:
            return await _reply(send, 413, f"Upload too large (at most {self.upload_bytes:,} bytes at once).")
        return await self.app(scope, receive, send)


def _replay(messages, receive):
    """A `receive` that gives the buffered messages first, then waits on the real connection
    (streaming responses ask it whether the client has gone)."""
    queue = list(messages)

    async def replay():
        return queue.pop(0) if queue else await receive()

    return replay


async def _reply(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def slow_login(user: str, password: str, first_delay: float = 0.25, max_delay: float = 8.0):
    """A login check for Gradio's `auth=`: constant-time comparison; attempts are taken one at a
    time, and after each wrong password the next attempt (right or wrong) waits twice as long as
    the last, from `first_delay` up to `max_delay`, so guessing is slow even from many connections.

    Async, because Gradio calls a plain function on its event loop, where sleeping would stall
    every other request.
    """
    want_user, want_password = user.encode(), password.encode()
    state = {"failures": 0, "next": 0.0}
    lock = asyncio.Lock()

    async def check(given_user: str, given_password: str) -> bool:
        async with lock:
            wait = state["next"] - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            ok = hmac.compare_digest(str(given_user).encode(), want_user) & hmac.compare_digest(
                str(given_password).encode(), want_password)
            if ok:
                state["failures"], state["next"] = 0, 0.0
            else:
                state["next"] = time.monotonic() + min(first_delay * 2 ** state["failures"], max_delay)
                state["failures"] += 1
            return bool(ok)

    return check

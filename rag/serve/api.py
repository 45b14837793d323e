"""The JSON HTTP API, served beside the chat page on the same server.

    POST /api/ask             {"question": str, "k": int | null, "earlier": [str]} -> the `rag ask --json` object
    GET  /api/articles        the indexed articles: id, title, characters, chunks, date, format, pages
    GET  /api/articles/{id}   one indexed article's text (the page's /source rules)
    GET  /api/health          status, article count, whether a rebuild is running
    GET  /api/openapi.json    the schema

`create_api` returns a FastAPI app with these routes and the request limits of `rag.serve.guard`; the
Gradio page is mounted on it (see rag/serve/server.py), so one server, one port and one login serve both.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, Awaitable, Callable, Protocol

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.middleware import Middleware

from rag import __version__
from rag.answer.records import QuestionError
from rag.ingest.library import article_format, page_count
from rag.serve.api_schema import ArticleOut, ArticlesOut, ArticleText, AskRequest, AskResponse, HealthOut, problem
from rag.serve.guard import MAX_BODY_BYTES, RequestLimit

Login = Callable[[str, str], Awaitable[bool]]  # rag.serve.guard.slow_login's check


class AssistantHolder(Protocol):
    """What the API needs from the server: the assistant once loaded, without ever waiting for it."""

    load_error: str | None  # why the last load failed
    loading: bool  # a load is under way

    def loaded(self) -> Any | None:
        """The loaded Assistant, or None (starting a load in the background if none is under way)."""


# ------------------------------------------------------------------ the app

def basic_auth(login: Login | None) -> Callable[[Request], Awaitable[None]]:
    """A dependency that requires HTTP Basic credentials accepted by `login` (when it is set).

    `login` is the page's own check (rag.serve.guard.slow_login): constant-time comparison, and a wrong
    password delays the next attempt of the page and the API alike, so guessing through the API
    is as slow as through the login form.
    """

    async def require(request: Request) -> None:
        if login is None:
            return
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        user = password = None
        if scheme.lower() == "basic":
            try:
                user, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user = None
            else:
                user = user if sep else None
        if user is None or not await login(user, password):
            raise HTTPException(401, "Login required (HTTP Basic, the page's user and password).",
                                headers={"WWW-Authenticate": 'Basic realm="rag", charset="UTF-8"'})

    return require


# long because: each route is a short closure over the holder, pool and login; read together they show the whole API.
def create_api(holder: AssistantHolder, login: Login | None = None, workers: int = 2,
               max_body: int = MAX_BODY_BYTES, upload_bytes: int | None = None) -> FastAPI:
    """The FastAPI app with the /api routes, bodies bounded by `rag.serve.guard.RequestLimit` (which
    covers anything mounted on it later, such as the page), `workers` questions answered at once.
    `upload_bytes`: the most one request to Gradio's upload route may carry (None: uploads refused).
    """
    # Answering is CPU bound and Assistant.ask is thread-safe: a pool as wide as the cores keeps
    # the event loop free and queues the rest, rather than 40 threads fighting over 2 cores.
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rag-api")

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="rag: cited, extractive answers from your articles", version=__version__,
                  openapi_url="/api/openapi.json", docs_url=None, redoc_url=None,  # the docs pages load scripts from a CDN
                  middleware=[Middleware(RequestLimit, max_bytes=max_body, upload_bytes=upload_bytes)], lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default echoes the offending input, which can be the whole body: keep it short.
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))[:200], "type": e.get("type")}
                  for e in exc.errors()[:10]]
        return JSONResponse({"detail": errors}, status_code=422)

    router = APIRouter(prefix="/api", dependencies=[Depends(basic_auth(login))],
                       responses={401: problem("a login is set and the request lacks valid credentials")})
    chunk_counts = _ChunkCounts()

    def ready():
        assistant = holder.loaded()
        if assistant is None:
            raise HTTPException(503, _not_ready_message(holder), headers={"Retry-After": "5"})
        return assistant

    @router.post("/ask", response_model=AskResponse, summary="Answer a question with quoted, cited sentences",
                 responses={400: problem("the question or k was refused (the message says why)"),
                            413: problem(f"the body is over {max_body:,} bytes"),
                            422: problem('the body is not {"question": string, "k": integer or null, "earlier": [string]}'),
                            503: problem("the index is not loaded yet")})
    async def ask(body: AskRequest) -> JSONResponse:
        """The object `rag ask --json` prints. An abstention is a 200 with `"abstained": true`."""
        assistant = ready()
        try:
            answer = await asyncio.get_running_loop().run_in_executor(
                pool, lambda: assistant.ask(body.question, body.k, earlier=body.earlier))
        except QuestionError as exc:
            raise HTTPException(400, str(exc)) from None
        except Exception as exc:  # the server keeps serving; the caller gets the page's message
            traceback.print_exc()
            raise HTTPException(500, f"The assistant is unavailable: {exc}") from None
        return JSONResponse(answer.to_dict())

    @router.get("/articles", response_model=ArticlesOut, summary="The indexed articles",
                responses={503: problem("the index is not loaded yet")})
    def articles() -> ArticlesOut:
        """Every article of the index in use, with its length, chunks, format and PDF pages (as `rag list`)."""
        index = ready().current().index
        counts = chunk_counts.of(index)
        rows = [ArticleOut(id=doc_id, title=a.title, characters=a.chars, chunks=counts.get(doc_id, 0), date=a.date,
                           format=article_format(a), pages=page_count(a))
                for doc_id, a in sorted(index.manifest.articles.items())]
        return ArticlesOut(count=len(rows), articles=rows)

    @router.get("/articles/{doc_id:path}", response_model=ArticleText, summary="One indexed article's text",
                responses={404: problem("not an article of the index"), 503: problem("the index is not loaded yet")})
    def article(doc_id: str, index: str | None = None) -> ArticleText:
        """The text as indexed, which citations' offsets point into. Only ids of the index are
        served: paths are never taken from the caller. `?index=` (an answer's `index`) serves the
        generation that gave that answer, even just after a rebuild replaced it."""
        try:
            return ArticleText(**ready().source(doc_id, index))
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from None

    @router.get("/health", response_model=HealthOut, summary="Whether questions can be answered now",
                responses={503: {"model": HealthOut, "description": "the index is loading, or could not be loaded"}})
    def health() -> JSONResponse:
        """200 with the index's size when ready; 503 while loading or after a failed load."""
        assistant = holder.loaded()
        if assistant is None:
            status = "loading" if holder.loading or not holder.load_error else "unavailable"
            out = HealthOut(status=status, error=holder.load_error)
            return JSONResponse(out.model_dump(), status_code=503, headers={"Retry-After": "5"})
        index = assistant.index
        out = HealthOut(status="ok", articles=len(index.manifest.articles), chunks=len(index.chunks),
                        rebuilding=assistant.rebuilding, warning=index.warning)
        return JSONResponse(out.model_dump())

    app.include_router(router)
    return app


def _not_ready_message(holder: AssistantHolder) -> str:
    if holder.load_error and not holder.loading:
        return f"The index could not be loaded ({holder.load_error}); retrying."
    return "The index is loading; try again shortly."


class _ChunkCounts:
    """Chunks per article of the last index asked about (recounted only when the index changes)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._index: object = None
        self._counts: dict[str, int] = {}

    def of(self, index) -> dict[str, int]:
        """Chunk counts by doc_id for `index`."""
        with self._lock:
            if self._index is not index:
                counts: dict[str, int] = {}
                for chunk in index.chunks:
                    counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
                self._index, self._counts = index, counts
            return self._counts


# ------------------------------------------------------------------ serving

class Running:
    """A uvicorn server running in a background thread."""

    def __init__(self, server, thread: threading.Thread, url: str):
        self.server, self.thread, self.url = server, thread, url

    def wait(self) -> None:
        """Block until the server stops; Ctrl+C stops it."""
        try:
            while self.thread.is_alive():
                self.thread.join(0.5)
        except KeyboardInterrupt:
            self.close()

    def close(self, timeout: float = 10.0) -> None:
        """Stop accepting, finish what is in flight (up to `timeout`), and return."""
        self.server.should_exit = True
        self.thread.join(timeout)


def serve(app, host: str, port: int, timeout: float = 60.0) -> Running:
    """Serve `app` on host:port from a background thread; returns once it accepts connections.

    Raises OSError when the server cannot start (the port is taken, the address is not ours).
    """
    import uvicorn

    # One process, one event loop: answering runs in the API's pool and the page's queue, so more
    # worker processes would only load the models again on the same 2 cores.
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)  # off the main thread it installs no signal handlers: Ctrl+C stays ours
    thread = threading.Thread(target=server.run, name="rag-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise OSError(f"could not serve on {host}:{port} (is the port taken?)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise OSError(f"the server on {host}:{port} did not start in {timeout:.0f}s")
        thread.join(0.01)
    shown = f"[{host}]" if ":" in host else host
    return Running(server, thread, f"http://{shown}:{port}")

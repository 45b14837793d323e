"""The chat page: ask the articles a question, get quoted sentences with their sources.

    python app.py [--host 127.0.0.1] [--port 7860] [--auth-file FILE | --auth USER with RAG_PASSWORD]
"""
from __future__ import annotations

import time

STARTED = time.perf_counter()  # "ready in" counts the imports too (gradio's are most of it)

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

# Every rag import below runs rag/__init__.py first, which sets the offline and no-analytics
# environment before gradio or Hugging Face load.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _warm_models() -> None:
    """Load the answering models (cached per process) while gradio is imported: the two overlap
    on two cores, and the assistant then finds them loaded."""
    try:
        from rag.assistant import preload
        from rag.embedding.question_encoder import get_question_encoder
        from rag.settings import from_env

        s = from_env()
        get_question_encoder(s.model, s.query_runtime, s.batch_size)
        preload(s)
    except Exception:  # noqa: BLE001  (the assistant loads them again and reports any problem)
        pass


if __name__ == "__main__":
    threading.Thread(target=_warm_models, name="rag-warm", daemon=True).start()

from rag.serve.api import serve  # noqa: E402
from rag.serve.guard import is_loopback, slow_login  # noqa: E402
from rag.logs import show_messages  # noqa: E402
from rag.serve.server import build_server  # noqa: E402  (imports gradio, while the models warm up)
from rag.serve.service import Service  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (and its RAG_* environment defaults), with the login resolved into `credentials`."""
    env = os.environ
    p = argparse.ArgumentParser(description="Serve the chat page.")
    p.add_argument("--host", default=env.get("RAG_HOST") or env.get("GRADIO_SERVER_NAME") or "127.0.0.1",
                   help="address to bind (default 127.0.0.1; 0.0.0.0 exposes the page to the network)")
    p.add_argument("--port", type=int, default=int(env.get("RAG_PORT") or env.get("GRADIO_SERVER_PORT") or 7860))
    p.add_argument("--auth", default=env.get("RAG_AUTH"),
                   help="require a login: USER (password from RAG_PASSWORD) or USER:PASSWORD (visible in `ps`; "
                        "prefer RAG_AUTH=USER:PASSWORD or --auth-file)")
    p.add_argument("--auth-file", type=Path, help="require a login; the file's first line is USER:PASSWORD")
    p.add_argument("--concurrency", type=int, default=2, help="questions answered at once (default: 2 cores)")
    args = p.parse_args(argv)
    args.credentials = credentials(args, p, env, argv if argv is not None else sys.argv[1:])
    if not 1 <= args.concurrency <= 64:
        p.error("--concurrency must be from 1 to 64")
    return args


def credentials(args, parser, env, argv: list[str]) -> tuple[str, str] | None:
    """(user, password) from --auth-file, --auth USER + RAG_PASSWORD, RAG_AUTH or --auth USER:PASSWORD."""
    if args.auth_file:
        try:
            spec = args.auth_file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, UnicodeDecodeError, IndexError) as exc:
            parser.error(f"--auth-file {args.auth_file}: cannot be read ({exc.__class__.__name__})")
    elif args.auth:
        spec = args.auth
        if ":" not in spec and env.get("RAG_PASSWORD"):
            spec = f"{spec}:{env['RAG_PASSWORD']}"
        elif ":" in spec and any(a == "--auth" or a.startswith("--auth=") for a in argv):
            print("warning: a password given with --auth is visible to every local user (ps); "
                  "use RAG_AUTH, RAG_PASSWORD or --auth-file instead", file=sys.stderr)
    else:
        return None
    user, sep, password = spec.partition(":")
    if not sep or not user.strip() or not password:
        parser.error("a login needs USER:PASSWORD with both parts non-empty "
                     "(--auth USER with RAG_PASSWORD, RAG_AUTH=USER:PASSWORD or --auth-file)")
    return user, password


def main(argv: list[str] | None = None) -> int:
    """Build the index if needed, then serve the page until interrupted."""
    args = parse_args(argv)
    t0 = STARTED if argv is None else time.perf_counter()  # run as a program: from its first import
    show_messages("stdout")  # index building and live rebuilds, where the page has always printed them
    try:
        service = Service()
    except ValueError as exc:  # a setting out of range: say which, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        service.assistant()
    except Exception as exc:  # serve anyway: the page shows the problem
        print(f"warning: the index could not be loaded: {exc}", file=sys.stderr)
    login = slow_login(*args.credentials) if args.credentials else None
    if not is_loopback(args.host) and not login:
        print(f"warning: serving on {args.host} without --auth: anyone who can reach this machine can use it "
              "(uploads and deletes are off)", file=sys.stderr)
    try:
        running = serve(build_server(service, login, args.concurrency, args.host), args.host, args.port)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Serving on {running.url}  (page and /api; ready in {time.perf_counter() - t0:.1f}s; Ctrl+C stops)",
          flush=True)
    running.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

import rag  # noqa: F401  (sets the offline and no-analytics environment before gradio loads)

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _warm_models() -> None:
    """Load the answering models (cached per process) while gradio is imported: the two overlap
    on two cores, and the assistant then finds them loaded."""
    try:
        from rag.assistant import preload
        from rag.question_encoder import get_question_encoder
        from rag.settings import from_env

        s = from_env()
        get_question_encoder(s.model, s.query_runtime, s.batch_size)
        preload(s)
    except Exception:  # noqa: BLE001  (the assistant loads them again and reports any problem)
        pass


if __name__ == "__main__":
    threading.Thread(target=_warm_models, name="rag-warm", daemon=True).start()

import gradio as gr  # noqa: E402

from rag.answer import QuestionError  # noqa: E402
from rag.api import create_api, serve  # noqa: E402
from rag.guard import is_loopback, slow_login  # noqa: E402
from rag.assistant import Assistant  # noqa: E402
from rag.logs import show_messages  # noqa: E402
from rag.page import answer_messages, collection_markdown, escape  # noqa: E402
from rag.panel import MAX_FILES, ArticlesPanel, Editing, View, editing_for  # noqa: E402
from rag.settings import from_env  # noqa: E402

EXAMPLES = [
    "Who noted that the Hub periodically conducts needs assessment surveys?",
    "Who received a special ACSH award at the New York workshop?",
    "Where was the ACSH-ICSC workshop held?",
    "When did the Serbian delegation visit Belgium?",
    "How many countries participate in the Astana Civil Service Hub?",
]
CSS = """
.rag-source { margin: 0.4em 0 0.8em; }
.rag-source blockquote { margin: 0.3em 0 0; padding-left: 0.8em; border-left: 3px solid #bbb; }
.rag-source mark { background: #ffe58a; padding: 0 2px; }
.rag-articles { width: 100%; border-collapse: collapse; font-size: 0.92em; }
.rag-articles th, .rag-articles td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #ddd; }
.rag-articles td:nth-child(n+3) { white-space: nowrap; }
"""


class Service:
    """Holds the assistant; a failure to load it becomes a message, retried on the next question."""

    RETRY_SECONDS = 5.0  # the HTTP API's retries of a failed load (the page retries on each question)

    def __init__(self, assistant: Assistant | None = None, settings=None):
        self.settings = settings or from_env()
        self._assistant = assistant
        self._lock = threading.Lock()
        self._loader: threading.Thread | None = None
        self._retry_at = 0.0
        self.load_error: str | None = None  # why the last load failed (the HTTP API's 503s say it)

    def assistant(self) -> Assistant:
        with self._lock:
            if self._assistant is None:
                try:
                    self._assistant = Assistant(self.settings, progress=True)
                except Exception as exc:
                    self.load_error = str(exc)
                    raise
                self.load_error = None
            return self._assistant

    def loaded(self) -> Assistant | None:
        """The assistant if it is loaded; otherwise None, and a load starts in the background (at most
        one every RETRY_SECONDS): the HTTP API answers 503 meanwhile rather than hold connections."""
        if self._assistant is None and not self._lock.locked() and time.monotonic() >= self._retry_at:
            self._retry_at = time.monotonic() + self.RETRY_SECONDS
            if self._loader is None or not self._loader.is_alive():
                self._loader = threading.Thread(target=self._load, name="rag-load", daemon=True)
                self._loader.start()
        return self._assistant

    @property
    def loading(self) -> bool:
        """Whether the assistant is being loaded (by the page or in the background) right now."""
        return self._assistant is None and self._lock.locked()

    def _load(self) -> None:
        try:
            self.assistant()
        except Exception:  # kept in load_error for /api/health and the 503s
            pass

    def ask_json(self, question: str, k: int | None = None) -> dict:
        """The `rag ask --json` object, or {"question", "error"}."""
        try:
            return self.assistant().ask(question, k=k).to_dict()
        except QuestionError as exc:
            return {"question": question, "error": str(exc)}
        except Exception as exc:  # the server keeps serving; the caller gets a message
            traceback.print_exc()
            return {"question": question, "error": f"The assistant is unavailable: {exc}"}

    def update_index(self) -> str | None:
        """After an upload or delete: the index brought in step with the corpus folder, waited for
        (the first load builds it, for a collection that started empty); None, or why not."""
        try:
            if self._assistant is None:
                self.assistant()
                return None
            return self._assistant.refresh()
        except Exception as exc:  # the page shows it; the previous index keeps answering
            return str(exc)

    def source_json(self, doc_id: str) -> dict:
        """An indexed article's text (only articles of the index; paths are never taken from the caller)."""
        return self.source_at_json(doc_id, None)

    def source_at_json(self, doc_id: str, index: str | None) -> dict:
        """The same, from the index generation that gave an answer (its `index`; see Assistant.source)."""
        try:
            return self.assistant().source(doc_id, index)
        except ValueError as exc:  # the id is echoed only in part: it can be any size
            shown = doc_id[:200] if isinstance(doc_id, str) else None
            return {"doc_id": shown, "error": str(exc)}

    def respond(self, message: str, history: list, k: float, show_scores: bool):
        """Chat handler: append the question and its answer (or a clear error) to the history."""
        history = list(history or []) + [{"role": "user", "content": escape(message or "")}]
        try:
            answer = self.assistant().ask(message, k=k)
            history += answer_messages(answer, show_scores)
        except QuestionError as exc:
            history.append({"role": "assistant", "content": f"⚠️ {escape(str(exc))}"})
        except Exception as exc:
            traceback.print_exc()
            history.append({"role": "assistant", "content": f"⚠️ The assistant is unavailable: {escape(str(exc))}"})
        return "", history


def build_app(service: Service, editing: Editing = Editing(False, "Uploads and deletes are off.")) -> gr.Blocks:
    """The page: description, chat, examples, settings, the Articles panel, and the `/ask` API endpoint."""
    try:
        about = collection_markdown(service.assistant().index.titles)
    except Exception as exc:
        about = f"⚠️ The index could not be loaded: {escape(str(exc))}"
    with gr.Blocks(title="Ask the articles") as demo:
        gr.Markdown("## Ask the articles\nAnswers are **quoted verbatim** from the articles, with sources. "
                    "When the articles don't answer, the assistant says so.")
        with gr.Accordion("What the collection covers", open=False):
            about_md = gr.Markdown(about)
        chat = gr.Chatbot(label="Answers", height=520, buttons=["copy", "copy_all"], elem_id="chat")
        box = gr.Textbox(placeholder="Ask a question about the articles and press Enter", show_label=False,
                         elem_id="question", lines=1, max_lines=4, submit_btn=True)
        gr.Examples(EXAMPLES, inputs=[box], label="Examples")
        with gr.Accordion("Settings", open=False):
            k = gr.Slider(1, 20, value=service.settings.k, step=1, label="Passages to read")
            show_scores = gr.Checkbox(False, label="Show scores")
        articles_panel(demo, ArticlesPanel(service, editing, Path(gr.utils.get_upload_folder())), about_md)
        box.submit(service.respond, [box, chat, k, show_scores], [box, chat], api_visibility="private")
        gr.api(service.ask_json, api_name="ask")
        gr.api(service.source_json, api_name="source")
        gr.api(service.source_at_json, api_name="source_at")
    return demo


def articles_panel(demo: gr.Blocks, panel: ArticlesPanel, about_md: gr.Markdown) -> None:
    """The "Articles" accordion: the collection's table, and when editing is allowed an upload box
    (drag and drop, several files) and a delete with a confirm step, each reporting its progress."""
    with gr.Accordion("Articles", open=False, elem_id="articles"):
        gr.Markdown(panel.notice(), elem_id="articles-notice")
        if panel.editing.allowed:
            files = gr.File(file_count="multiple", label="Add articles: PDF, HTML, DOCX, TXT, MD", elem_id="upload",
                            height=160)
        status = gr.Markdown(elem_id="articles-status")
        table = gr.HTML(panel.view().table, elem_id="articles-table")
        if not panel.editing.allowed:
            demo.load(lambda: _shown(panel.view(), False)[1:3], None, [table, about_md], api_visibility="private")
            return  # no upload or delete controls, hence no events to call
        with gr.Row():
            chosen = gr.Dropdown(choices=panel.view().choices, multiselect=True, label="Articles to delete",
                                 elem_id="delete-choice", scale=4)
            ask = gr.Button("Delete…", elem_id="delete", scale=1)
        pending = gr.State([])
        with gr.Row(visible=False) as confirm_row:
            question = gr.Markdown(elem_id="delete-question")
            confirm = gr.Button("Yes, delete", variant="stop", elem_id="confirm-delete", scale=0)
            cancel = gr.Button("Cancel", elem_id="cancel-delete", scale=0)

    def upload(paths: list[str] | None):
        for view in panel.upload(paths):  # a generator, so each step shows as it happens
            yield _shown(view, True)

    def delete(ids: list[str] | None):
        for view in panel.delete(ids):
            yield _shown(view, True) + [gr.update(visible=False), []]

    shown = [status, table, about_md, chosen, files]
    # One change at a time (concurrency_id): a second upload waits for the first one's index.
    edits = dict(concurrency_limit=1, concurrency_id="articles", api_visibility="private")
    files.upload(upload, [files], shown, **edits)
    ask.click(lambda ids: _confirm_step(panel, ids), [chosen], [question, pending, confirm_row],
              api_visibility="private")
    confirm.click(delete, [pending], shown + [confirm_row, pending], **edits)
    cancel.click(lambda: ("", [], gr.update(visible=False)), None, [question, pending, confirm_row],
                 api_visibility="private")
    demo.load(lambda: _shown(panel.view(), True)[1:4], None, [table, about_md, chosen], api_visibility="private")


def _shown(view: View, editing: bool) -> list:
    """A View as the panel's outputs: status, table, collection summary, then (editing) the delete
    choices and the upload box, emptied (its files were handled)."""
    out = [view.status, view.table, view.about]
    if editing:
        out += [gr.update(choices=view.choices, value=[]), None]
    return out


def _confirm_step(panel: ArticlesPanel, ids: list[str] | None):
    """The delete button: ask to confirm the chosen articles (nothing is deleted yet)."""
    message, pending = panel.ask_delete(ids)
    return message, pending, gr.update(visible=bool(pending))


def build_server(service: Service, login=None, concurrency: int = 2, host: str = "127.0.0.1"):
    """The whole server as one ASGI app: the JSON API (rag/api.py) with the page mounted at "/".

    Both share the port, the request limits of rag/guard.py (bodies bounded; uploads only when the
    Articles panel takes them, see rag.panel.editing_for) and `login` (rag.guard.slow_login's
    check): the page asks for it in a form, the API as HTTP Basic. `concurrency` questions at once
    for the page and as many for the API (a pool each). `host` is the address served on.
    """
    editing = editing_for(service.settings, host, login is not None)
    limit = service.settings.max_upload_bytes
    demo = build_app(service, editing).queue(default_concurrency_limit=concurrency)
    api = create_api(service, login=login, workers=concurrency,
                     upload_bytes=MAX_FILES * (limit + 4096) if editing.allowed else None)  # + multipart headers
    return gr.mount_gradio_app(api, demo, path="/", auth=login, max_file_size=limit if editing.allowed else "1kb",
                               footer_links=[], css=CSS, ssr_mode=False)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
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

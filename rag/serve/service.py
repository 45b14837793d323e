"""The server's hold on the assistant, shared by the chat page and the JSON API.

`Service` loads the assistant on first use and turns a failure to load into a message (the page
shows it, the API answers 503 with it), retried later; its handlers never raise into the server.
No Gradio here (rag/serve/server.py wires these handlers to the page), so it can be driven as it is.
"""
from __future__ import annotations

import html
import threading
import time
import traceback

from rag.answer.records import QuestionError
from rag.assistant import Assistant
from rag.serve.page import answer_messages, escape
from rag.settings import Settings, from_env


class Service:
    """Holds the assistant; a failure to load it becomes a message, retried on the next question."""

    RETRY_SECONDS = 5.0  # the HTTP API's retries of a failed load (the page retries on each question)

    def __init__(self, assistant: Assistant | None = None, settings: Settings | None = None):
        self.settings = settings or from_env()
        self._assistant = assistant
        self._lock = threading.Lock()
        self._loader: threading.Thread | None = None
        self._retry_at = 0.0
        self.load_error: str | None = None  # why the last load failed (the HTTP API's 503s say it)

    def assistant(self) -> Assistant:
        """The assistant, loaded (building the index if needed) on first use; raises when it cannot be."""
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

    def respond(self, message: str, history: list, k: float, show_scores: bool) -> tuple[str, list]:
        """Chat handler: append the question and its answer (or a clear error) to the history; the
        questions asked before it in the chat are its `earlier` (a follow-up is read with them)."""
        earlier = asked_before(history or [])
        history = list(history or []) + [{"role": "user", "content": escape(message or "")}]
        try:
            answer = self.assistant().ask(message, k=k, earlier=earlier)
            history += answer_messages(answer, show_scores)
        except QuestionError as exc:
            history.append({"role": "assistant", "content": f"⚠️ {escape(str(exc))}"})
        except Exception as exc:
            traceback.print_exc()
            history.append({"role": "assistant", "content": f"⚠️ The assistant is unavailable: {escape(str(exc))}"})
        return "", history


def asked_before(history: list) -> list[str]:
    """The user's questions in a chat history (Gradio's messages: content a string, or a list of
    parts with "text"), as typed: the page shows them escaped."""
    asked = []
    for message in history:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        parts = content if isinstance(content, list) else [content]
        text = " ".join(p if isinstance(p, str) else str(p.get("text", "")) for p in parts
                        if isinstance(p, str) or isinstance(p, dict))
        if text.strip():
            asked.append(html.unescape(text))
    return asked

"""The page's Articles panel: the collection as a table, uploads, and deletes with a confirm step.

No Gradio here (rag/serve/server.py wires these to components), so the panel can be driven and tested as it is.
Uploads and deletes go through rag.ingest.library, as `rag add` and `rag remove` do, so the checks and
their messages are the CLI's; then the panel waits for the live index (rag.indexing.live) to switch to the
new articles, so it can say "indexed" and the next question sees the change. Questions asked
meanwhile are answered from the index in use. Every text shown goes through `escape`.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol

from rag.ingest.corpus_files import ARTICLE_SUFFIXES, safe_name
from rag.ingest.intake import Limits
from rag.ingest.library import Listed, add_named, list_articles, remove_articles
from rag.serve.guard import is_loopback
from rag.serve.page import articles_html, collection_markdown, escape, human_size
from rag.settings import Settings

MAX_FILES = 20  # files per upload; with max_upload_bytes each, what one upload request may carry


class Holder(Protocol):
    """What the panel needs from the server (rag.serve.service.Service)."""

    settings: Settings

    def assistant(self):
        """The loaded Assistant (loading or building the index first); raises when there is none."""

    def update_index(self) -> str | None:
        """Bring the index in step with the corpus folder and wait for it: None, or why not."""


@dataclass(frozen=True)
class Editing:
    """Whether the panel takes uploads and deletes, and if not, why (shown on the page)."""

    allowed: bool
    reason: str | None = None


def editing_for(settings: Settings, host: str, logged_in: bool) -> Editing:
    """Uploads and deletes: off by the `uploads` setting, and off on a non-loopback address
    without a login (anyone who can reach the machine could change the collection)."""
    if not settings.uploads:
        return Editing(False, "Uploads and deletes are turned off on this server (setting uploads, RAG_UPLOADS=off).")
    if not is_loopback(host) and not logged_in:
        return Editing(False, f"Uploads and deletes are off: the page is served on {host} without a login "
                              "(start app.py with --auth to allow them).")
    return Editing(True)


@dataclass
class View:
    """What the panel shows after an action: a status line (Markdown), the table (HTML), the
    delete choices ((label, id) pairs), and the collection summary (Markdown)."""

    status: str
    table: str
    choices: list[tuple[str, str]] = field(default_factory=list)
    about: str = ""


class ArticlesPanel:
    """The panel's actions over `holder`'s corpus folder and index; one change at a time."""

    def __init__(self, holder: Holder, editing: Editing, upload_dir: Path | None = None):
        """`upload_dir`: where the web server keeps uploaded files (Gradio's cache); an upload's
        files there are deleted once handled, copied or refused."""
        self.holder = holder
        self.editing = editing
        self.upload_dir = Path(upload_dir).resolve() if upload_dir else None
        self._lock = threading.Lock()  # checks and writes of one change, then the next

    @property
    def settings(self) -> Settings:
        return self.holder.settings

    def notice(self) -> str:
        """The line above the panel: what may be uploaded, or why it only lists."""
        if not self.editing.allowed:
            return f"ℹ️ {escape(self.editing.reason or '')}"
        s = self.settings
        return escape(f"Drop files or click to choose: {', '.join(ARTICLE_SUFFIXES)}; up to {MAX_FILES} at a time, "
                      f"{human_size(s.max_upload_bytes)} per PDF/HTML/DOCX file and {human_size(s.max_article_bytes)} "
                      "of text per article. Each file is checked before it is added.")

    def rows(self) -> tuple[list[Listed], str | None]:
        """The indexed articles (the index answering now), or none and why."""
        try:
            index = self.holder.assistant().current().index
        except Exception as exc:  # no index yet (an empty folder): the panel still lists, and can add
            return [], f"The index could not be loaded: {exc}"
        return list_articles(index, self.settings.corpus_dir), None

    def view(self, status: str = "") -> View:
        """The table, choices and collection summary as they are now, under `status`."""
        rows, problem = self.rows()
        if problem and not status:
            status = f"⚠️ {escape(problem)}"
        # Gradio shows a dropdown's labels as text, so they are not escaped (entities would show as such).
        choices = [(f"{r.title} ({safe_name(r.doc_id)})", r.doc_id) for r in rows]
        about = collection_markdown({r.doc_id: r.title for r in rows})
        return View(status, articles_html(rows), choices, about)

    def upload(self, paths: list[str] | None) -> Iterator[View]:
        """Check and add the uploaded files, then wait for the index: a View per step."""
        paths = [Path(p) for p in paths or []]
        if not self.editing.allowed:
            self._discard(paths)
            yield self.view(self._off())
            return
        if not paths:
            yield self.view()
            return
        if len(paths) > MAX_FILES:
            self._discard(paths)
            yield self.view(f"⛔ {len(paths)} files at once: at most {MAX_FILES}, nothing was added.")
            return
        yield self.view(f"⏳ Checking {len(paths)} file{'s' if len(paths) != 1 else ''}…")
        try:
            with self._lock:
                added = add_named([(p, p.name) for p in paths], self.settings.corpus_dir, Limits.of(self.settings))
        finally:
            self._discard(paths)
        lines = [f"✅ Added **{escape(safe_name(src.name))}** as <code>{escape(safe_name(dest.name))}</code>"
                 for src, dest in added.copied]
        lines += [f"⛔ Refused **{escape(safe_name(src.name))}**: {escape(reason)}" for src, reason in added.refused]
        report = "  \n".join(lines)
        if not added.copied:
            yield self.view(report + "  \nNothing was added.")
            return
        yield self.view(report + "  \n⏳ Indexing… questions are answered from the articles already indexed until it is done.")
        problem = self.holder.update_index()
        yield self.view(report + "  \n" + self._done("Indexed: the new articles are searchable now.", problem))

    def ask_delete(self, ids: list[str] | None) -> tuple[str, list[str]]:
        """The confirm step: (question to show, ids awaiting confirmation); no ids: a hint and none."""
        if not self.editing.allowed:
            return self._off(), []
        ids = list(dict.fromkeys(ids or []))
        if not ids:
            return "Choose the articles to delete first.", []
        titles = {r.doc_id: r.title for r in self.rows()[0]}
        names = ", ".join(f"**{escape(titles.get(i, '?'))}** (<code>{escape(safe_name(i))}</code>)" for i in ids)
        n = len(ids)
        return (f"Delete {n} article{'s' if n != 1 else ''}: {names}? Their files are removed from the corpus folder; "
                "this cannot be undone.", ids)

    def delete(self, ids: list[str] | None) -> Iterator[View]:
        """Delete the confirmed articles' files, then wait for the index: a View per step."""
        if not self.editing.allowed:
            yield self.view(self._off())
            return
        ids = list(dict.fromkeys(ids or []))
        if not ids:
            yield self.view("Nothing to delete.")
            return
        try:
            with self._lock:
                index = self.holder.assistant().current().index
                removed = remove_articles(index, self.settings.corpus_dir, ids)
        except (ValueError, OSError) as exc:  # an unknown id, a file outside the folder: nothing deleted
            yield self.view(f"⛔ {escape(str(exc))}; nothing was deleted.")
            return
        except Exception as exc:  # no index to delete from
            yield self.view(f"⚠️ {escape(str(exc))}")
            return
        shown = ", ".join(f"<code>{escape(safe_name(p.name))}</code>" for p in removed)
        report = f"🗑 Deleted {shown or 'nothing (the files were already gone)'}"
        yield self.view(report + "  \n⏳ Updating the index…")
        problem = self.holder.update_index()
        yield self.view(report + "  \n" + self._done("Removed: they are no longer in answers.", problem))

    def _off(self) -> str:
        """The status line when uploads and deletes are off, saying why."""
        return f"⛔ {escape(self.editing.reason or '')}"

    @staticmethod
    def _done(success: str, problem: str | None) -> str:
        return f"⚠️ {escape(problem)}" if problem else f"✅ {escape(success)}"

    def _discard(self, paths: list[Path]) -> None:
        """Delete uploaded files from the server's upload folder (never anything outside it)."""
        if self.upload_dir is None:
            return
        for p in paths:
            try:
                real = p.resolve()
                if real.is_relative_to(self.upload_dir) and real.is_file():
                    real.unlink()
                    if real.parent != self.upload_dir:
                        real.parent.rmdir()  # Gradio keeps each file in a folder of its own; kept if not empty
            except OSError:
                continue

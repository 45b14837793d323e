"""Keeping a serving assistant's index in step with its corpus folder.

A question costs at most one cheap look at the corpus per second (names, sizes and mtimes of the
files, no reading). When that signature changes, the index is rebuilt in a background thread
while questions are answered from the previous index; the new one is swapped in whole when it is
ready. Sources are served from each index's own stored text, so a citation always matches what
`/source` shows for the index that produced it. A failed rebuild (read-only folder, full disk) or
a failed swap (the Milvus sync) is retried only after a back-off, never on every question.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable

from rag.indexing.build import build
from rag.indexing.index import Index
from rag.indexing.store import load_index
from rag.ingest.corpus_files import walk
from rag.ingest.links import registry_path
from rag.settings import Settings

CHECK_INTERVAL = 1.0  # seconds between looks at the corpus folder
FIRST_BACKOFF = 30.0  # seconds before a failed rebuild is tried again; doubles up to MAX_BACKOFF
MAX_BACKOFF = 600.0
log = logging.getLogger(__name__)


def corpus_signature(corpus_dir: Path) -> str:
    """A digest of every file's relative name, size and mtime under `corpus_dir` (unreadable: noted).

    `stat` follows links, so a file linked by `rag add --link` counts with its own size and time
    (edited or deleted where it lives, the signature changes); the hidden link registry counts too,
    since a link becomes readable only once it is recorded there.
    """
    root = Path(corpus_dir)
    digest = hashlib.sha256()
    try:
        files, skipped = walk(root)
    except OSError as exc:
        return f"unreadable: {exc}"
    for path in [*files, registry_path(root)]:
        try:
            st = path.stat()
            entry = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError as exc:
            entry = f"error:{exc.errno}"
        digest.update(os.fsencode(path.relative_to(root)) + b"\0" + entry.encode() + b"\n")
    for s in skipped:
        digest.update(b"skip:" + os.fsencode(s.path) + b"\n")
    return digest.hexdigest()


class LiveIndex:
    """Watches the corpus of `settings` and hands a rebuilt index to `on_ready` (from a thread)."""

    def __init__(self, settings: Settings, on_ready: Callable[[Index], None], stale: str | None = None,
                 interval: float = CHECK_INTERVAL):
        self.settings = settings
        self.on_ready = on_ready
        self.interval = interval
        self._lock = threading.Lock()
        self._seen = corpus_signature(settings.corpus_dir)
        self._checked = time.monotonic()
        self._thread: threading.Thread | None = None
        self.error: str | None = None  # why the last rebuild failed, until one succeeds
        self._backoff = FIRST_BACKOFF
        self._retry_at = 0.0
        # The index in use is older than the corpus (its rebuild failed): retry after a back-off.
        self._stale = stale is not None
        if self._stale:
            self._retry_at = time.monotonic() + self._backoff

    @property
    def rebuilding(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def poll(self) -> None:
        """Start a background rebuild if the corpus changed; returns at once in every case."""
        now = time.monotonic()
        if now - self._checked < self.interval or self.rebuilding or now < self._retry_at:
            return
        with self._lock:
            if now - self._checked < self.interval or self.rebuilding:
                return
            self._checked = now
            signature = corpus_signature(self.settings.corpus_dir)
            if signature == self._seen and not self._stale:
                return
            self._start(signature)

    def _start(self, signature: str) -> None:
        """Start the background rebuild for the corpus state `signature` (the caller holds the lock)."""
        log.info("the articles changed; updating the index in the background")
        self._thread = threading.Thread(target=self._rebuild, args=(signature,), name="rag-rebuild", daemon=True)
        self._thread.start()

    def refresh(self, timeout: float = 600.0) -> str | None:
        """Bring the index in step with the corpus now and wait until it is in use: None when it
        is, else why not. For a change made through the app (an upload, a delete), so the next
        question sees it; questions meanwhile are answered from the index in use, as with `poll`.

        Skips the once-a-second throttle and a failed rebuild's back-off (the user asked for this
        change), waits for a rebuild already running, and starts another while the corpus still
        differs from what was indexed (another change came in meanwhile).
        """
        deadline = time.monotonic() + timeout
        started = False
        while True:
            self.wait(max(0.0, deadline - time.monotonic()))
            with self._lock:
                if self.rebuilding or time.monotonic() > deadline:
                    return f"the index is still being updated after {timeout:.0f}s; it will be used when ready"
                self._checked = time.monotonic()
                signature = corpus_signature(self.settings.corpus_dir)
                if signature == self._seen and (not self._stale or started):
                    return self.error if self._stale else None
                self._start(signature)
                started = True

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a running rebuild (tests and shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _rebuild(self, signature: str) -> None:
        try:
            build(self.settings, progress=False)  # a no-op when the index is up to date (a retried swap)
            # Put in use here, so a failed swap (Milvus: the sync) is retried like a failed build.
            self.on_ready(load_index(self.settings.index_dir))
        except Exception as exc:  # the previous index keeps answering
            self._seen, self._stale, self.error = signature, True, f"the index could not be updated: {exc}"
            self._retry_at = time.monotonic() + self._backoff
            log.warning(f"warning: the index could not be updated ({exc}); answering from the previous index, "
                        f"next try in {self._backoff:.0f}s or later")
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)
            return
        self._seen, self._stale, self.error = signature, False, None
        self._backoff, self._retry_at = FIRST_BACKOFF, 0.0

"""Shared fixtures: the real seeds, the real bundled model, a real index in a temp folder."""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from rag.settings import ROOT, from_env

SEEDS = ROOT / "seeds"
XSS = "<img src=x onerror=alert(1)>"

# Questions written from the seeds, with the article that answers each.
QUESTIONS = [
    ("How many people attended the webinars on Belgian HR practices?", "000_46a559f0544261a8"),
    ("Who was the speaker at the ACSH webinars about Belgium?", "000_46a559f0544261a8"),
    ("How many countries took part in the conference on civil service reforms?", "001_b514283cee207ec3"),
    ("Which Serbian delegation visited Belgium to study competency-based HRM?", "002_c697df2783ecb75a"),
    ("When did the Serbian study visit to BOSA take place?", "002_c697df2783ecb75a"),
    ("Where was the ACSH-ICSC workshop held?", "003_4b5c9540a69ebcf9"),
    ("Who received a special ACSH award at the New York workshop?", "003_4b5c9540a69ebcf9"),
    ("Where did Alikhan Baimenov meet Marcos Bonturi?", "004_f18814f87b6a3778"),
    ("How many participating countries does the Astana hub platform have?", "004_f18814f87b6a3778"),
    ("What did the OECD propose to the Astana Civil Service Hub?", "004_f18814f87b6a3778"),
]


class HashEmbedder:
    """Deterministic unit vectors: each word adds one to a hashed dimension."""

    model_id = "test-hash-embedder"
    dim = 64
    max_tokens = 256

    def __init__(self):
        self.embedded = 0

    def encode(self, texts, progress=False):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        self.embedded += len(texts)
        return out

    def count_tokens(self, text):
        return len(text.split()) + 2


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory):
    """Settings over the repository's seeds with an index of the session's own."""
    return from_env(env={}, corpus_dir=SEEDS, index_dir=tmp_path_factory.mktemp("index"))


@pytest.fixture(scope="session")
def assistant(seed_settings):
    from rag.assistant import Assistant

    return Assistant(seed_settings, progress=False)


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the seed articles."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for f in SEEDS.glob("*.txt"):
        shutil.copy(f, folder / f.name)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def in_process_server(service, login=None):
    """app.py's server (page and JSON API) for `service`, served in this process on a free loopback port."""
    from rag.serve.api import serve
    from rag.serve.server import build_server

    running = serve(build_server(service, login), "127.0.0.1", free_port())
    try:
        yield running.url
    finally:
        running.close()


@pytest.fixture(scope="session")
def server(assistant):
    """The page and API over the repository's own seeds: read-only (uploads off), since tests share it."""
    from rag.serve.service import Service

    with in_process_server(Service(assistant, assistant.settings.replace(uploads=False))) as url:
        yield url


@pytest.fixture(scope="module")
def library_service(assistant, tmp_path_factory):
    """A rag.serve.service.Service over a writable copy of the seeds whose Articles panel takes uploads (each
    PDF/HTML/DOCX file up to 200 KB). Its index starts as a copy of the session's, so only what a
    test adds is embedded."""
    from rag.assistant import Assistant
    from rag.serve.service import Service

    corpus = tmp_path_factory.mktemp("library-corpus")
    for f in SEEDS.glob("*.txt"):
        shutil.copy(f, corpus / f.name)
    index_dir = tmp_path_factory.mktemp("library-index")
    shutil.copytree(assistant.settings.index_dir, index_dir, dirs_exist_ok=True)
    settings = assistant.settings.replace(corpus_dir=corpus, index_dir=index_dir, max_upload_bytes=200_000)
    return Service(Assistant(settings, progress=False), settings)


@pytest.fixture(scope="module")
def library_server(library_service):
    """`library_service` served on loopback (uploads on): yields (url, service)."""
    with in_process_server(library_service) as url:
        yield url, library_service


@contextmanager
def app_process(settings, **env):
    """`python app.py` in its own process on a free loopback port, as users run it.

    Yields (url, output lines up to "Serving on"); on exit the server is stopped and the rest of
    its output is appended to those lines.
    """
    port = free_port()
    env = dict(os.environ, RAG_INDEX_DIR=str(settings.index_dir), RAG_CORPUS_DIR=str(settings.corpus_dir), **env)
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("Serving on" in x for x in seen):
            seen.append(proc.stdout.readline())
            assert seen[-1] or proc.poll() is None, "app.py exited early: " + "".join(seen)
        assert f"http://127.0.0.1:{port}" in seen[-1], "".join(seen)
        yield f"http://127.0.0.1:{port}", seen
    finally:
        proc.terminate()
        rest, _ = proc.communicate(timeout=30)
        seen.append(rest)


# Tests that load the real model, start servers or browsers, or build real indexes: the product
# end to end. `pytest -m "not slow"` runs the rest in seconds (tests/test_fast.py among them).
SLOW_FIXTURES = {"assistant", "seed_settings", "server", "corpus_copy", "library_service", "library_server"}
SLOW_MODULES = {"test_app", "test_api", "test_browser", "test_load", "test_crash", "test_hostile", "test_bench",
                "test_beir", "test_cli", "test_query_path", "test_store", "test_vectors", "test_reliability",
                "test_documents", "test_library", "test_panel"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(item.fixturenames) or item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)

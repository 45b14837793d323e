"""Shared fixtures: the real seeds, the real bundled model, a real index in a temp folder."""
import shutil
import socket
from pathlib import Path

import pytest

from rag.settings import ROOT, from_env

SEEDS = ROOT / "seeds"


def quiet(_message: str) -> None:
    pass


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory):
    """Settings over the repository's seeds with an index of the session's own."""
    return from_env(env={}, corpus_dir=SEEDS, index_dir=tmp_path_factory.mktemp("index"))


@pytest.fixture(scope="session")
def assistant(seed_settings):
    from rag.assistant import Assistant

    return Assistant(seed_settings, progress=False, log=quiet)


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


@pytest.fixture(scope="session")
def server(assistant):
    import app

    service = app.Service(assistant, assistant.settings)
    demo = app.build_app(service).queue(default_concurrency_limit=2)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}"
    demo.close()

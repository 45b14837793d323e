"""The Milvus backend against a real server process: `milvus-lite server` serves one data folder
over gRPC on a loopback port, and the backend reaches it through `http://127.0.0.1:N`, as it
would reach a Milvus standalone or cluster. Every test starts its own server under its tmp dir.

Marked slow (they start servers); they use the hashed embedder of conftest.py, not the model."""
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from rag.assistant import Assistant  # noqa: E402
from rag.milvus.backend import attach  # noqa: E402
from rag.milvus.client import MilvusProblem  # noqa: E402
from rag.milvus.sync import alias_target, read_state  # noqa: E402
from rag.settings import ROOT  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.test_milvus import edit_corpus, fake_index, question_set, rankings, rebuilt, same_rankings, writable_seeds  # noqa: E402

pytestmark = pytest.mark.slow

TOKEN = "s3rver-Token-never-logged"


def milvus_lite_command() -> list[str] | None:
    """The `milvus-lite` command of this environment, if it has the `server` entry point."""
    exe = shutil.which("milvus-lite") or str(Path(sys.executable).with_name("milvus-lite"))
    if not os.access(exe, os.X_OK):
        return None
    try:
        probe = subprocess.run([exe, "server", "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return [exe] if probe.returncode == 0 and "--data-dir" in probe.stdout else None


class Server:
    """A `milvus-lite server` process on a loopback port; `stop()` ends it and returns all it printed."""

    def __init__(self, command: list[str], data_dir: Path):
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        # --host always: the server's default is 0.0.0.0, every interface.
        self.proc = subprocess.Popen([*command, "server", "--data-dir", str(data_dir), "--host", "127.0.0.1",
                                      "--port", str(self.port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        deadline = time.monotonic() + 120
        while not any("listening on" in line for line in self.output):
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("milvus-lite server did not start: " + "".join(self.output))
            self.output.append(line)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            rest, _ = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest, _ = self.proc.communicate()
        self.output.append(rest or "")
        return "".join(self.output)


@pytest.fixture
def milvus_server(tmp_path):
    """A `milvus-lite server` serving a data folder under tmp_path (skipped without the entry point)."""
    command = milvus_lite_command()
    if command is None:
        pytest.skip("the `milvus-lite server` entry point is not available")
    server = Server(command, tmp_path / "milvus-data")
    try:
        yield server
    finally:
        server.stop()


REPLICA = """
import json, sys
import pymilvus
from pathlib import Path
from rag.assistant import Assistant
from rag.settings import from_env
from rag.indexing.store import load_index
from tests.conftest import HashEmbedder

inserted = []
real_insert = pymilvus.MilvusClient.insert
def counted(client, name, data, *args, **kwargs):
    inserted.extend(data)
    return real_insert(client, name, data, *args, **kwargs)
pymilvus.MilvusClient.insert = counted

index_dir, questions = sys.argv[1], json.loads(sys.argv[2])
# RAG_BACKEND, RAG_MILVUS_URI and RAG_MILVUS_TOKEN come from the environment, as in a deployment.
settings = from_env(index_dir=Path(index_dir))
replica = Assistant(settings, index=load_index(settings.index_dir), progress=False, encoder=HashEmbedder(),
                    answer_models=False)
out = {"collection": replica.retriever.backend.name, "inserted": len(inserted), "answers": []}
for q in questions:
    a = replica.ask(q)
    out["answers"].append([[c.doc_id, c.start, c.end, c.text] for c in a.citations])
replica.close()
print(json.dumps(out))
"""


def citations(answer) -> list[list]:
    return [[c.doc_id, c.start, c.end, c.text] for c in answer.citations]


def test_a_server_answers_with_exact_citations_and_replicas_share_one_collection(milvus_server, tmp_path, caplog):
    """Replica A syncs the index into the server's collection and answers with exact citations;
    replica B, another process over the same index folder, finds the collection up to date, writes
    nothing and gives the same citations; after A moves to a changed corpus, an instance still on
    the previous generation answers exactly as before (it sees only its committed state)."""
    uri = milvus_server.uri
    caplog.set_level(logging.DEBUG)
    corpus = writable_seeds(tmp_path)
    settings, v1, embedder = fake_index(tmp_path, corpus=corpus)
    local = Assistant(settings, index=v1, progress=False, encoder=embedder)
    remote_settings = settings.replace(backend="milvus", milvus_uri=uri, milvus_token=TOKEN)
    a = Assistant(remote_settings, index=v1, progress=False, encoder=embedder)
    held = Assistant(remote_settings, index=v1, progress=False, encoder=embedder)  # a replica that stays on v1
    try:
        questions = question_set()
        answers = {}
        same_top = 0
        for question in questions:
            answer = a.ask(question)
            for c in answer.citations:
                assert v1.texts[c.doc_id][c.start:c.end] == c.text
            for p in answer.passages:
                assert v1.texts[p.doc_id][p.start:p.end] == p.text
            answers[question] = citations(answer)
            ours = local.ask(question)
            same_top += bool(answer.passages) and bool(ours.passages) and answer.passages[0].doc_id == ours.passages[0].doc_id
        assert same_top >= 0.95 * len(questions), f"{same_top}/{len(questions)}"
        name = a.retriever.backend.name
        assert alias_target(a.retriever.backend.client) == name

        env = dict(os.environ, RAG_BACKEND="milvus", RAG_MILVUS_URI=uri, RAG_MILVUS_TOKEN=TOKEN,
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        some = questions[:12]
        out = subprocess.run([sys.executable, "-c", REPLICA, str(settings.index_dir), json.dumps(some)], env=env,
                             capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        replica = json.loads(out.stdout.strip().splitlines()[-1])
        assert replica["collection"] == name and replica["inserted"] == 0  # the shared collection, untouched
        assert replica["answers"] == [answers[q] for q in some]
        for text in (out.stdout, out.stderr):
            assert TOKEN not in text

        # A moves on: one article changed, one deleted, one added; its sync stages and commits on
        # the server. The instance held on v1 keeps its committed state: same rankings as before.
        before = rankings(held.retriever.backend, embedder)
        edit_corpus(corpus)
        v2 = rebuilt(settings, embedder)
        a._swap(v2)
        assert a.retriever.backend.name == name and read_state(a.retriever.backend.client, name).generation == v2.folder.name
        assert same_rankings(rankings(held.retriever.backend, embedder), before)
        orchids = a.ask("How many orchids did the garden show?")
        assert orchids.citations and all(v2.texts[c.doc_id][c.start:c.end] == c.text for c in orchids.citations)
        assert any(c.doc_id == "900_added" for c in orchids.citations)
        with pytest.raises(MilvusProblem, match="generation"):
            attach(remote_settings, v1)  # a new replica cannot start on the generation the collection left
    finally:
        for x in (a, held, local):
            x.close()
    assert TOKEN not in caplog.text
    assert TOKEN not in milvus_server.stop()  # nor in what the server printed


def test_a_server_that_goes_away_gives_a_clear_error_without_the_token(milvus_server, tmp_path, caplog):
    """Started against a live server, then the server is stopped: a new start names the URI and
    the problem, never the token (a plain unreachable http URI is tested in test_milvus.py)."""
    uri = milvus_server.uri
    caplog.set_level(logging.DEBUG)
    settings, index, embedder = fake_index(tmp_path)
    remote = settings.replace(backend="milvus", milvus_uri=uri, milvus_token=TOKEN)
    Assistant(remote, index=index, progress=False, encoder=embedder).close()
    milvus_server.stop()
    with pytest.raises(MilvusProblem, match=f"cannot (open|sync the index into) Milvus at {uri}") as exc:
        Assistant(remote, index=index, progress=False, encoder=embedder)
    assert TOKEN not in str(exc.value) and TOKEN not in caplog.text

import json
import os
import subprocess
import sys

import pytest

from rag.settings import ROOT


def rag(*args, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def index_env(seed_settings, assistant):
    # The session fixture has already built this index; the CLI reuses it.
    return {"RAG_INDEX_DIR": str(seed_settings.index_dir), "RAG_CORPUS_DIR": str(seed_settings.corpus_dir)}


def test_ask_json_schema(index_env):
    out = rag("ask", "--json", "Who received a special ACSH award at the New York workshop?", env_extra=index_env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"question", "answer", "abstained", "citations", "passages"} <= data.keys()
    assert data["abstained"] is False
    c = data["citations"][0]
    assert {"n", "doc_id", "title", "start", "end", "text", "score"} <= c.keys()
    assert any("William Shields" in c["text"] and c["doc_id"] == "003_4b5c9540a69ebcf9" for c in data["citations"])


def test_ask_text_output_and_abstention(index_env):
    out = rag("ask", "Who won the 2018 FIFA World Cup?", env_extra=index_env)
    assert out.returncode == 0 and "The articles don't answer this." in out.stdout
    assert "Closest passages" in out.stdout


def test_bad_input_gets_clear_messages(index_env):
    out = rag("ask", "   ", env_extra=index_env)
    assert out.returncode == 2 and "Please type a question" in out.stderr and "Traceback" not in out.stderr
    out = rag("ask", "--bogus", "x", env_extra=index_env)
    assert out.returncode == 2 and "unrecognized arguments" in out.stderr
    out = rag("index", "--corpus", "/no/such/folder", env_extra={"RAG_INDEX_DIR": index_env["RAG_INDEX_DIR"]})
    assert out.returncode == 1 and "corpus folder not found" in out.stderr and "Traceback" not in out.stderr


def test_output_into_a_closed_pipe_is_not_an_error(index_env):
    # `rag ask --json ... | head -c 100`: the reader is gone before the answer is printed.
    r, w = os.pipe()
    os.close(r)
    proc = subprocess.run([sys.executable, "-m", "rag", "ask", "--json", "Who spoke at the webinars?"],
                          stdout=w, stderr=subprocess.PIPE, text=True, env=dict(os.environ, **index_env), cwd=ROOT, timeout=300)
    os.close(w)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr

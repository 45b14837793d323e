"""Issue 15, reliability round 2: a hostile user's corpus, index folder, settings and requests.

Real components throughout: the bundled model, FAISS, bm25s, `rag` in its own process, and a
real Gradio server driven over HTTP.
"""
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.indexing.build import build
from rag.indexing.store import CURRENT, live_folder, load_index
from rag.settings import ROOT, from_env

DELEGATION = "How many Serbian public administration representatives were in the delegation?"
SERBIA = "002_c697df2783ecb75a"


def rag(*args, env=None, timeout=300, **kw):
    kw = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kw}
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})), **kw)


def small_corpus(folder: Path) -> Path:
    """Two short articles: quick to embed."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alpha.txt").write_text("Alpha report\n\nThe alpha team planted 412 trees in Astana.\n", encoding="utf-8")
    (folder / "beta.txt").write_text("Beta report\n\nThe beta team repaired 37 bridges in Almaty.\n", encoding="utf-8")
    return folder


def can_drop_privileges() -> bool:
    """Root ignores file permissions; `setpriv` can drop the capabilities that let it."""
    return os.geteuid() != 0 or shutil.which("setpriv") is not None


def unprivileged(cmd: list[str]) -> list[str]:
    """`cmd` run without the power to bypass file permissions (as an ordinary user would be)."""
    if os.geteuid() != 0:
        return cmd
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", *cmd]


# ------------------------------------------------------------------ 1. one bad entry stops everything


def test_non_utf8_file_name_is_skipped_and_the_rest_indexed(tmp_path):
    corpus = small_corpus(tmp_path / "c")
    bad = os.fsencode(corpus) + b"/caf\xe9_report.txt"
    with open(bad, "wb") as fh:
        fh.write(b"Cafe report\n\nThe cafe served 713 cups.\n")
    env = {"RAG_CORPUS_DIR": str(corpus), "RAG_INDEX_DIR": str(tmp_path / "i")}
    run = rag("index", "--quiet", env=env)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert "caf\\xe9_report.txt: file name is not valid UTF-8" in run.stdout
    assert set(load_index(tmp_path / "i").manifest.articles) == {"alpha", "beta"}
    ask = rag("ask", "How many trees did the alpha team plant?", env=env)
    assert ask.returncode == 0 and "412" in ask.stdout, ask.stderr


@pytest.mark.skipif(not can_drop_privileges(), reason="cannot drop the privilege to read anything")
def test_unreadable_entries_are_skipped_with_a_reason(tmp_path):
    corpus = small_corpus(tmp_path / "c")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "inside.txt").write_text("Locked\n\nNever read.\n", encoding="utf-8")
    os.symlink(locked / "inside.txt", corpus / "link into locked.txt")
    noexec = corpus / "noexec"
    noexec.mkdir()
    (noexec / "hidden.txt").write_text("Hidden\n\nListed but not stat-able.\n", encoding="utf-8")
    noread = corpus / "noread"
    noread.mkdir()
    os.symlink("/proc/1/cwd", corpus / "proc loop")
    os.symlink("/", corpus / "root link")
    index = tmp_path / "i"
    index.mkdir()
    for path in (corpus, tmp_path, index):
        path.chmod(0o777)
    locked.chmod(0o000)
    noexec.chmod(0o644)
    noread.chmod(0o311)
    try:
        cmd = unprivileged([sys.executable, "-m", "rag", "index", "--quiet", "--corpus", str(corpus), "--index",
                            str(index)])
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
        out = run.stdout + run.stderr
        assert run.returncode == 0, out
        assert "Traceback" not in out
        assert "skipped link into locked.txt: cannot be read: Permission denied" in out
        assert "skipped hidden.txt: cannot be read: Permission denied" in out
        assert "skipped noread: unreadable folder: Permission denied" in out
        assert "skipped proc loop: " in out  # not followed, or cannot be read: never walked
        assert "skipped root link: symlinked folder: not followed" in out
        assert "2 article(s) indexed" in run.stdout
    finally:
        for path in (locked, noexec, noread):
            path.chmod(0o755)


# ------------------------------------------------------------------ 2. two files, one id


def test_same_stem_files_get_distinct_stable_ids_and_no_orphan_rows(tmp_path):
    corpus = small_corpus(tmp_path / "c")
    (corpus / "report.txt").write_text("Plain report\n\nThe plain report counts 58 wells in Shymkent.\n", encoding="utf-8")
    (corpus / "report.md").write_text("Markdown report\n\nThe markdown report counts 91 schools in Aktobe.\n",
                                      encoding="utf-8")
    settings = from_env(env={}, corpus_dir=corpus, index_dir=tmp_path / "i")
    build(settings, progress=False)
    index = load_index(settings.index_dir)
    assert set(index.manifest.articles) == {"alpha", "beta", "report.txt", "report.md"}
    counts = [len(index.chunks)]
    for n in range(3):  # an incremental rebuild must not re-insert any row
        (corpus / "beta.txt").write_text(f"Beta report\n\nThe beta team repaired {n} bridges.\n", encoding="utf-8")
        build(settings, progress=False)
        counts.append(len(load_index(settings.index_dir).chunks))
    assert counts == [counts[0]] * 4
    from rag.assistant import Assistant

    assistant = Assistant(settings, progress=False)
    for question, doc in [("How many wells does the plain report count?", "report.txt"),
                          ("How many schools does the markdown report count?", "report.md")]:
        answer = assistant.ask(question)
        cited = answer.citations[0]
        assert cited.doc_id == doc, answer.answer
        assert assistant.source(doc)["text"][cited.start:cited.end] == cited.text
        assert assistant.source(doc)["text"] == (corpus / doc).read_text(encoding="utf-8")


def test_ids_stay_stem_when_unique_and_disambiguate_deterministically(tmp_path):
    from rag.ingest.corpus_files import assign_ids

    names = ["000_x.txt", "report.txt", "report.md", "a.txt.md", "a.txt", "a.md", "sub/b.txt"]
    ids = assign_ids([tmp_path / n for n in names], tmp_path)
    assert ids[tmp_path / "000_x.txt"] == "000_x" and ids[tmp_path / "sub/b.txt"] == "sub/b"
    assert ids[tmp_path / "report.md"] == "report.md" and ids[tmp_path / "report.txt"] == "report.txt"
    assert len(set(ids.values())) == len(names)


def test_index_with_rows_of_an_unlisted_article_is_rebuilt(tmp_path, caplog):
    from rag.indexing.build import ensure_index
    from rag.indexing.store import IndexCorrupt

    settings = from_env(env={}, corpus_dir=small_corpus(tmp_path / "c"), index_dir=tmp_path / "i")
    build(settings, progress=False)
    folder = live_folder(settings.index_dir)
    # Re-label beta's rows as alpha's (as two files sharing one id did), checksums made consistent.
    rows = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
    for row in rows:
        row["doc_id"] = "alpha"
    rewrite(folder, "chunks.json", json.dumps(rows))
    with pytest.raises(IndexCorrupt, match="do not match"):
        load_index(settings.index_dir)
    caplog.set_level(logging.INFO, logger="rag")
    caplog.clear()
    index = ensure_index(settings, progress=False)
    assert any("damaged" in m for m in caplog.messages) and {c.doc_id for c in index.chunks} == {"alpha", "beta"}


def test_chunk_spans_that_disagree_with_their_sentence_rows_are_damage(tmp_path):
    from rag.indexing.store import IndexCorrupt

    settings = from_env(env={}, corpus_dir=small_corpus(tmp_path / "c"), index_dir=tmp_path / "i")
    build(settings, progress=False)
    folder = live_folder(settings.index_dir)
    rows = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
    rows[0]["sentences"][0][1] += 1  # a span that is no longer its sentence row's
    rewrite(folder, "chunks.json", json.dumps(rows))
    with pytest.raises(IndexCorrupt, match="disagrees with its sentence rows"):
        load_index(settings.index_dir)


def rewrite(folder: Path, name: str, text: str) -> None:
    """Change an index file and update the manifest's checksums, as a careful vandal would."""
    import hashlib

    (folder / name).write_text(text, encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    raw = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
    (folder / "manifest.json").write_bytes(raw)
    (folder / "manifest.sha256").write_text(hashlib.sha256(raw).hexdigest(), encoding="ascii")


# ------------------------------------------------------------------ 3. stale citations while serving


def wait_for(predicate, timeout=120.0, step=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out")


def test_served_citations_match_source_while_articles_change(corpus_copy, tmp_path):
    """A running server: edit, shift and delete articles; every citation matches `/source`."""
    from gradio_client import Client

    from rag.assistant import Assistant
    from rag.serve.server import build_app
    from rag.serve.service import Service
    from tests.conftest import free_port

    settings = from_env(env={}, corpus_dir=corpus_copy, index_dir=tmp_path / "index")
    assistant = Assistant(settings, progress=False)
    demo = build_app(Service(assistant, settings)).queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}", verbose=False)

        def ask(question):
            data = client.predict(question, 8, api_name="/ask")
            for c in data["citations"]:  # every citation is verbatim in what /source serves for its answer
                source = client.predict(c["doc_id"], data["index"], api_name="/source_at")
                assert source.get("text", "")[c["start"]:c["end"]] == c["text"], (c, source.get("error"))
            return data

        assert any("delegation of 12" in c["text"] for c in ask(DELEGATION)["citations"])
        path = corpus_copy / f"{SERBIA}.txt"
        text = path.read_text(encoding="utf-8")
        path.write_text("Breaking: a new first line.\n" + text.replace("delegation of 12", "delegation of 99"),
                        encoding="utf-8")
        ask(DELEGATION)  # answered at once, from the previous index, with its own source text
        wait_for(lambda: any("delegation of 99" in c["text"] for c in ask(DELEGATION)["citations"]))
        path.unlink()
        wait_for(lambda: "unknown article" in client.predict(SERBIA, api_name="/source").get("error", ""))
        assert not any(c["doc_id"] == SERBIA for c in ask(DELEGATION)["citations"])
    finally:
        demo.close()
        assistant._live.wait(60)


def test_source_serves_the_indexed_text_not_the_live_file(corpus_copy, tmp_path):
    from rag.assistant import Assistant

    settings = from_env(env={}, corpus_dir=corpus_copy, index_dir=tmp_path / "index")
    assistant = Assistant(settings, index=None, progress=False)
    assistant._live.interval = 3600  # no rebuild: the index stays as it was
    cited = assistant.ask(DELEGATION).citations[0]
    (corpus_copy / f"{SERBIA}.txt").write_text("Replaced\n\nSomething else entirely.\n", encoding="utf-8")
    assert assistant.source(cited.doc_id)["text"][cited.start:cited.end] == cited.text


def test_a_citation_given_before_a_rebuild_is_shown_in_its_own_text(corpus_copy, tmp_path):
    """The race the live server has: an answer, then a background swap, then /source for it."""
    from rag.assistant import Assistant

    settings = from_env(env={}, corpus_dir=corpus_copy, index_dir=tmp_path / "index")
    assistant = Assistant(settings, index=None, progress=False)
    assistant._live.interval = 3600  # swaps happen only when this test makes them
    answer = assistant.ask(DELEGATION)
    cited = answer.citations[0]
    path = corpus_copy / f"{cited.doc_id}.txt"
    path.write_text("Breaking: a new first line.\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    build(settings, progress=False)
    assistant._swap(load_index(settings.index_dir))  # what the background rebuild does
    assert answer.index != assistant.index.folder.name
    shifted = assistant.source(cited.doc_id)["text"]
    assert shifted[cited.start:cited.end] != cited.text  # the new text no longer matches the old offsets
    own = assistant.source(cited.doc_id, answer.index)
    assert own["index"] == answer.index and own["text"][cited.start:cited.end] == cited.text
    with pytest.raises(ValueError, match="re-indexed"):
        assistant.source(cited.doc_id, "gen-that-never-was")
    path.write_text(path.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    build(settings, progress=False)
    assistant._swap(load_index(settings.index_dir))  # two swaps later the first generation is gone
    with pytest.raises(ValueError, match="ask again"):
        assistant.source(cited.doc_id, answer.index)


def test_questions_during_a_rebuild_are_answered_from_the_index_in_use(corpus_copy, tmp_path, monkeypatch):
    """An article added while the assistant serves: while the background rebuild is held mid-way,
    questions are answered from the previous index, never a half-built one; then from the new one."""
    import threading

    from rag.assistant import Assistant
    from rag.embedding.onnx_encoder import OnnxEncoder

    settings = from_env(env={}, corpus_dir=corpus_copy, index_dir=tmp_path / "index")
    assistant = Assistant(settings, progress=False)
    before = assistant.index.folder.name
    gate, entered = threading.Event(), threading.Event()
    encode = OnnxEncoder.encode

    def held(self, texts, *args, **kwargs):  # the rebuild's embedding waits here; questions pass
        if threading.current_thread().name != "rag-embed":  # not the question batcher's worker
            entered.set()
            gate.wait(120)
        return encode(self, texts, *args, **kwargs)

    monkeypatch.setattr(OnnxEncoder, "encode", held)
    (corpus_copy / "zz_lighthouse.txt").write_text(
        "The lighthouse keepers of Varna met\n\nThe lighthouse keepers of Varna counted 4711 ships in 2025.\n",
        encoding="utf-8")
    question = "How many ships did the lighthouse keepers of Varna count?"
    assistant._live.interval = 0  # look at the corpus on the next question
    try:
        assistant.ask(question)
        assert entered.wait(60) and assistant.rebuilding  # the rebuild is under way, held mid-embedding
        during = assistant.ask(question)
        assert during.index == before and "zz_lighthouse" not in {c.doc_id for c in during.citations}
    finally:
        gate.set()
    assistant._live.wait(120)
    after = assistant.ask(question)
    assert after.index != before and "zz_lighthouse" in {c.doc_id for c in after.citations}
    assert "4711" in after.answer


# ------------------------------------------------------------------ 4. damaged CURRENT


@pytest.mark.parametrize("damage", ["non_utf8", "directory"])
def test_damaged_current_pointer_is_rebuilt_by_every_command(tmp_path, damage):
    corpus = small_corpus(tmp_path / "c")
    env = {"RAG_CORPUS_DIR": str(corpus), "RAG_INDEX_DIR": str(tmp_path / "i")}
    build(from_env(env=env), progress=False)
    pointer = tmp_path / "i" / CURRENT

    def damage_it():
        if pointer.is_dir():
            shutil.rmtree(pointer)
        else:
            pointer.unlink()
        if damage == "non_utf8":
            pointer.write_bytes(b"\xff\xfegen")
        else:
            (pointer / "sub").mkdir(parents=True)

    for args in (["ask", "How many trees did the alpha team plant?"], ["index", "--quiet"], ["index", "--force"]):
        damage_it()
        run = rag(*args, env=env)
        assert run.returncode == 0 and "Traceback" not in run.stderr, (args, run.stderr)
        assert "damaged" in run.stderr or args[0] == "index"
        assert pointer.is_file() and load_index(tmp_path / "i").manifest.articles.keys() == {"alpha", "beta"}
    assert "412" in rag("ask", "How many trees did the alpha team plant?", env=env).stdout


# ------------------------------------------------------------------ 10. manifest checksum


def test_edited_manifest_is_damage_not_truth(tmp_path, caplog):
    from rag.assistant import Assistant

    settings = from_env(env={}, corpus_dir=small_corpus(tmp_path / "c"), index_dir=tmp_path / "i")
    build(settings, progress=False)
    path = live_folder(settings.index_dir) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["articles"]["alpha"]["title"] = "Forged title"
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    caplog.set_level(logging.INFO, logger="rag")
    caplog.clear()
    assistant = Assistant(settings, progress=False)
    assert any("manifest" in m and "damaged" in m for m in caplog.messages), caplog.messages
    assert assistant.source("alpha")["title"] == "Alpha report"


# ------------------------------------------------------------------ 5. read-only index, corpus changed


@pytest.fixture
def read_only_index(tmp_path):
    """(corpus, env): a built index made read-only, then an article added to the corpus."""
    if not can_drop_privileges():
        pytest.skip("cannot drop the privilege to write anywhere")
    corpus = small_corpus(tmp_path / "c")
    index = tmp_path / "i"
    env = dict(os.environ, RAG_CORPUS_DIR=str(corpus), RAG_INDEX_DIR=str(index))
    build(from_env(env=env), progress=False)
    (corpus / "gamma.txt").write_text("Gamma report\n\nThe gamma team counted 64 owls.\n", encoding="utf-8")
    index.chmod(0o555)
    try:
        yield corpus, env
    finally:
        index.chmod(0o755)


def test_read_only_index_answers_from_the_older_index_with_a_warning(read_only_index):
    _, env = read_only_index
    cmd = unprivileged([sys.executable, "-m", "rag", "ask", "How many trees did the alpha team plant?"])
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert "warning: the index could not be updated" in run.stderr and "previous index" in run.stderr
    assert "412" in run.stdout


def test_app_does_not_retry_a_failed_rebuild_on_every_question(read_only_index):
    from gradio_client import Client

    from tests.conftest import free_port

    corpus, env = read_only_index
    port = free_port()
    proc = subprocess.Popen(unprivileged([sys.executable, "app.py", "--port", str(port)]), cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen = []
        while not any("Serving on" in x for x in seen):
            seen.append(proc.stdout.readline())
            assert seen[-1] or proc.poll() is None, "".join(seen)
        client = Client(f"http://127.0.0.1:{port}", verbose=False)
        for n in range(4):
            (corpus / "gamma.txt").write_text(f"Gamma report\n\nThe gamma team counted {n} owls.\n", encoding="utf-8")
            time.sleep(1.1)  # past the once-a-second corpus check
            data = client.predict("How many trees did the alpha team plant?", 8, api_name="/ask")
            assert "412" in data.get("answer", ""), data
    finally:
        proc.terminate()
        rest, _ = proc.communicate(timeout=30)
    output = "".join(seen) + rest
    assert "Traceback" not in output
    assert output.count("embedding ") == 1, output  # the failed rebuild at start, not one per question
    assert "answers come from the previous index" in output


# ------------------------------------------------------------------ 6. k checked once, same message everywhere


@pytest.mark.parametrize("k", [-100, -1, 0, 51, 10**9, "5", 1.5, True, float("nan"), [3]])
def test_k_out_of_range_or_not_a_whole_number_is_refused(assistant, k):
    from rag.answer.records import QuestionError
    from rag.assistant import K_MESSAGE

    with pytest.raises(QuestionError) as caught:
        assistant.ask("Where was the ACSH-ICSC workshop held?", k=k)
    assert str(caught.value) == K_MESSAGE


def test_k_message_is_the_same_in_the_api_and_the_cli(server, seed_settings):
    from gradio_client import Client

    from rag.assistant import K_MESSAGE

    client = Client(server, verbose=False)
    for k in (-1, 10**9, 1.5):
        assert client.predict("Where was the ACSH-ICSC workshop held?", k, api_name="/ask")["error"] == K_MESSAGE
    ok = client.predict("Where was the ACSH-ICSC workshop held?", 3, api_name="/ask")
    assert len(ok["passages"]) == 3
    env = {"RAG_INDEX_DIR": str(seed_settings.index_dir), "RAG_CORPUS_DIR": str(seed_settings.corpus_dir)}
    for k in ("-100", "1.5", "five"):
        run = rag("ask", "--k", k, "Where was the ACSH-ICSC workshop held?", env=env)
        assert run.returncode == 2 and K_MESSAGE in run.stderr and "Traceback" not in run.stderr, run.stderr


# ------------------------------------------------------------------ 7. unbounded requests


def test_huge_question_is_cut_before_it_is_cleaned(assistant):
    question = "What did the OECD propose? " + "\x07 word " * 1_400_000  # ~10 MB
    t0 = time.perf_counter()
    answer = assistant.ask(question)
    assert time.perf_counter() - t0 < 0.5
    assert answer.notice and len(answer.question) <= 2000


def test_server_bounds_bodies_refuses_uploads_and_echoes_little(server):
    import requests

    api = f"{server}/gradio_api"
    big = requests.post(f"{api}/call/ask", json={"data": ["x" * 10_000_000, 8]}, timeout=60)
    assert big.status_code == 413 and "too large" in big.json()["detail"]
    upload = requests.post(f"{api}/upload", files={"files": ("a.bin", b"0" * 30_000_000)}, timeout=60)
    assert upload.status_code == 404 and "no uploads" in upload.json()["detail"]
    event = requests.post(f"{api}/call/source", json={"data": ["y" * 200_000]}, timeout=60).json()["event_id"]
    reply = requests.get(f"{api}/call/source/{event}", timeout=60).text
    assert "unknown article" in reply and len(reply) < 2_000


# ------------------------------------------------------------------ 14. missing or malformed API arguments


def test_missing_or_malformed_api_arguments_get_a_clear_4xx(server):
    import requests

    api = f"{server}/gradio_api/call"
    cases = [("v2/ask", {}, "Missing argument: question"), ("ask", {}, "must be"),
             ("ask", {"data": []}, "Missing argument: question"), ("v2/ask", {"question": "x", "kk": 3}, "Unknown"),
             ("source", {"data": "000"}, "must be"), ("ask", {"data": ["q", 8, 9]}, "Too many")]
    for route, payload, message in cases:
        reply = requests.post(f"{api}/{route}", json=payload, timeout=60)
        assert 400 <= reply.status_code < 500 and message in reply.json()["detail"], (route, payload, reply.text)
    assert requests.post(f"{api}/ask", data=b"{not json", timeout=60).status_code == 422
    # Leaving out the optional k means the default, not {"error": null}.
    event = requests.post(f"{api}/ask", json={"data": ["Where was the ACSH-ICSC workshop held?"]}, timeout=60)
    reply = requests.get(f"{api}/ask/{event.json()['event_id']}", timeout=60).text
    assert "event: complete" in reply and "New York" in reply
    event = requests.post(f"{api}/v2/ask", json={"question": "Where was the ACSH-ICSC workshop held?"}, timeout=60)
    assert "New York" in requests.get(f"{api}/ask/{event.json()['event_id']}", timeout=60).text


# ------------------------------------------------------------------ 12. settings checked at load


@pytest.mark.parametrize("name,value", [("ABSTAIN_THRESHOLD", "nan"), ("K", "0"), ("DENSE_WEIGHT", "-1"),
                                        ("CHUNK_TOKENS", "0"), ("ANSWER_DENSE_WEIGHT", "inf"), ("MAX_QUESTION_CHARS", "-5")])
def test_bad_settings_are_refused_at_load_with_their_name(name, value):
    with pytest.raises(ValueError, match=f"RAG_{name}"):
        from_env(env={f"RAG_{name}": value})


def test_bad_settings_and_logins_stop_the_commands_with_a_message(tmp_path):
    run = rag("ask", "Where?", env={"RAG_ABSTAIN_THRESHOLD": "nan"})
    assert run.returncode == 1 and "RAG_ABSTAIN_THRESHOLD" in run.stderr and "Traceback" not in run.stderr
    for auth in ("admin:", ":pw", "admin"):
        app_run = subprocess.run([sys.executable, "app.py", "--auth", auth], cwd=ROOT, capture_output=True,
                                 text=True, timeout=120, env={k: v for k, v in os.environ.items() if k != "RAG_PASSWORD"})
        assert app_run.returncode == 2 and "non-empty" in app_run.stderr, (auth, app_run.stderr)
    bad = subprocess.run([sys.executable, "app.py"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, RAG_K="-3"))
    assert bad.returncode == 2 and "RAG_K" in bad.stderr and "Traceback" not in bad.stderr


# ------------------------------------------------------------------ 8. authentication


def test_password_sources_and_the_command_line_warning(tmp_path, capsys, monkeypatch):
    import app

    monkeypatch.delenv("RAG_AUTH", raising=False)
    monkeypatch.setenv("RAG_PASSWORD", "S3cretPW!")
    assert app.parse_args(["--auth", "alice"]).credentials == ("alice", "S3cretPW!")
    assert "warning" not in capsys.readouterr().err
    secret = tmp_path / "login"
    secret.write_text("bob:0ther PW\n", encoding="utf-8")
    assert app.parse_args(["--auth-file", str(secret)]).credentials == ("bob", "0ther PW")
    assert app.parse_args(["--auth", "alice:S3cretPW!"]).credentials == ("alice", "S3cretPW!")
    assert "visible to every local user" in capsys.readouterr().err


def test_wrong_passwords_are_slowed_down_on_the_real_server(seed_settings, assistant):
    import requests

    from tests.conftest import app_process

    with app_process(seed_settings, RAG_AUTH="alice:S3cretPW!") as (url, _):
        t0 = time.monotonic()
        for n in range(5):
            assert requests.post(f"{url}/login", data={"username": "alice", "password": f"guess{n}"},
                                 timeout=60).status_code >= 400
        assert time.monotonic() - t0 >= 0.25 + 0.5 + 1 + 2  # each failure doubles the next wait
        ok = requests.post(f"{url}/login", data={"username": "alice", "password": "S3cretPW!"}, timeout=60)
        assert ok.status_code == 200


# ------------------------------------------------------------------ 13. huge lines cut between words


@pytest.mark.parametrize("sep", ["\t", "\u00a0", " \t "])
def test_a_huge_line_without_punctuation_is_cut_between_words(sep):
    from rag.indexing.sentences import split_sentences

    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa"]
    line = sep.join(words[i % 7] + str(i % 13) for i in range(30_000))[:200_000]
    spans = split_sentences(line)
    assert len(spans) > 1
    for s in spans:
        assert s.start == 0 or line[s.start - 1].isspace(), repr(line[s.start - 10 : s.start + 10])
        assert s.end == len(line) or line[s.end].isspace(), repr(line[s.end - 10 : s.end + 10])


# ------------------------------------------------------------------ 11. messages, not tracebacks


def test_unwritable_destinations_are_messages_not_tracebacks(seed_settings, assistant, tmp_path):
    afile = tmp_path / "a file"
    afile.write_text("not a folder", encoding="utf-8")
    env = {"RAG_INDEX_DIR": str(seed_settings.index_dir), "RAG_CORPUS_DIR": str(seed_settings.corpus_dir)}
    runs = [rag("index", "--index", str(afile), env=env),
            rag("ask", "--index", str(afile), "Where was the ACSH-ICSC workshop held?", env=env),
            rag("eval", "--modes", "hybrid", "--output", str(afile), env=env, timeout=600)]
    with open("/dev/full", "w") as full:
        runs.append(rag("ask", "Where was the ACSH-ICSC workshop held?", env=env, stdout=full))
    for run in runs:
        assert run.returncode == 1, run.stderr
        assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr, run.stderr
        assert "error: " in run.stderr
    assert afile.read_text(encoding="utf-8") == "not a folder"
    assert "No space left on device" in runs[-1].stderr

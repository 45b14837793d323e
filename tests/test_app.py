"""The chat page's server, driven through gradio_client against a real server on loopback."""
import os
import subprocess
import sys

import pytest

from rag.retrieval.retriever import Passage
from rag.serve.page import answer_messages, escape, highlight
from rag.settings import ROOT
from tests.conftest import XSS, app_process


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


def test_ask_endpoint_returns_the_cited_answer(client):
    data = client.predict("Who received a special ACSH award at the New York workshop?", 8, api_name="/ask")
    assert data["abstained"] is False
    assert any("William Shields" in c["text"] and c["doc_id"] == "003_4b5c9540a69ebcf9" for c in data["citations"])
    assert "[1]" in data["answer"]


def test_bad_questions_get_messages_and_the_server_keeps_serving(client):
    assert client.predict("", 8, api_name="/ask")["error"] == "Please type a question."
    assert client.predict("   \n\t ", 8, api_name="/ask")["error"] == "Please type a question."
    long = client.predict("What did the OECD propose? " * 3000, 8, api_name="/ask")
    assert "long" in long["notice"] and len(long["question"]) <= 2000
    xss = client.predict(XSS, 8, api_name="/ask")
    assert xss["question"] == XSS and xss["abstained"] and not xss["citations"]  # markup, not a question
    again = client.predict("Who received a special ACSH award at the New York workshop?", 8, api_name="/ask")
    assert any("William Shields" in c["text"] for c in again["citations"])


def test_source_endpoint_reads_only_indexed_articles(client):
    data = client.predict("000_46a559f0544261a8", api_name="/source")
    assert data["text"].startswith("The ACSH held online webinars") and data["title"]
    for bad in ["../../../etc/passwd", "../seeds/000_46a559f0544261a8", "/etc/passwd", "questions"]:
        assert "unknown article" in client.predict(bad, api_name="/source")["error"]


def test_source_text_refuses_paths_outside_the_corpus(tmp_path):
    from rag.ingest.corpus import source_text

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.txt").write_text("T\n\nBody.", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    assert source_text(tmp_path / "c", "a.txt") == "T\n\nBody."
    for bad in ["../secret.txt", "/etc/passwd", "."]:
        with pytest.raises(ValueError, match="not an article"):
            source_text(tmp_path / "c", bad)


def test_chat_handler_escapes_and_reports_errors(assistant):
    from rag.serve.service import Service

    service = Service(assistant, assistant.settings)
    _, history = service.respond(XSS, [], 8, False)
    assert history[0]["content"] == escape(XSS) and "<img" not in history[0]["content"]
    _, history = service.respond("", history, 8, False)
    assert history[-1]["content"].startswith("⚠️") and "Please type a question" in history[-1]["content"]
    _, history = service.respond("Who received a special ACSH award at the New York workshop?", history, 8, True)
    sources = history[-1]
    assert sources["metadata"]["title"].startswith("Sources (")
    assert "<mark>At the conclusion of the workshop, Mr. William Shields" in sources["content"] and "score" in sources["content"]


def test_the_chat_reads_a_follow_up_with_the_questions_asked_before_it(assistant):
    from rag.serve.service import Service, asked_before

    service = Service(assistant, assistant.settings)
    conference = "What was the Hub's online conference on (current) civil service reforms?"  # escaped on the page
    _, history = service.respond(conference, [], 8, False)
    assert history[0]["content"] != conference  # shown escaped, read back as typed
    _, history = service.respond("How many countries did its participants come from?", history, 8, False)
    reply = next(m for m in reversed(history) if "metadata" not in m)["content"]
    assert "following on from" in reply and "**20**" in reply
    # Gradio hands the history back with each message's content as a list of parts.
    parts = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in history]
    assert asked_before(parts) == asked_before(history) == [conference, "How many countries did its participants come from?"]


def test_unloadable_index_is_a_message_not_a_crash(tmp_path):
    from rag.serve.service import Service
    from rag.settings import from_env

    empty = tmp_path / "corpus"
    empty.mkdir()
    service = Service(settings=from_env(env={}, corpus_dir=empty, index_dir=tmp_path / "index"))
    _, history = service.respond("Anything?", [], 8, False)
    assert "unavailable" in history[-1]["content"] and "no usable articles" in history[-1]["content"]
    assert "error" in service.ask_json("Anything?")


def test_rendering_escapes_and_marks_the_sentence():
    text = "Intro <b>bold</b>. The [key](http://x) sentence *here*. Tail."
    p = Passage(0, "d", "T <i>", 0, 100, 100 + len(text), text, 1.0)
    s = 100 + text.index("The [key]")
    e = 100 + text.index("Tail.") - 1
    out = highlight(p, [(s, e)])
    assert "<b>" not in out and "&#60;b&#62;" in out
    assert out.count("<mark>") == 1 and "&#91;key&#93;" in out.split("<mark>")[1]
    assert escape('a"b\'c&') == "a&#34;b&#39;c&#38;"


def test_abstention_is_offered_as_closest_passages(assistant):
    answer = assistant.ask("What is the boiling point of mercury?")
    messages = answer_messages(answer)
    assert "don&#39;t answer" in messages[0]["content"]
    assert messages[1]["metadata"]["title"].startswith("Closest passages")


def test_app_script_serves_with_auth_and_keeps_secrets_out_of_logs(seed_settings, assistant):
    bad = subprocess.run([sys.executable, "app.py", "--bogus"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unrecognized arguments: --bogus" in bad.stderr
    with app_process(seed_settings, RAG_AUTH="tester:s3cr3t-pw") as (url, output):
        from gradio_client import Client

        with pytest.raises(Exception):
            Client(url, verbose=False).predict("Where?", 8, api_name="/ask")
        client = Client(url, auth=("tester", "s3cr3t-pw"), verbose=False)
        data = client.predict("Where was the ACSH-ICSC workshop held?", 8, api_name="/ask")
        assert any("New York" in c["text"] for c in data["citations"])
    assert "s3cr3t-pw" not in "".join(output)


def test_binding_all_interfaces_without_auth_warns(seed_settings, assistant):
    import app

    assert app.is_loopback("127.0.0.1") and app.is_loopback("localhost") and app.is_loopback("::1")
    assert not app.is_loopback("0.0.0.0")
    with pytest.raises(SystemExit):
        app.parse_args(["--auth", "no-colon"])
    assert app.parse_args(["--auth", "u:p"]).auth == "u:p"
    # A documentation-only address (TEST-NET-1): not this machine's, so nothing is exposed; the
    # warning comes before the bind, which then fails.
    env = dict(os.environ, RAG_INDEX_DIR=str(seed_settings.index_dir), RAG_CORPUS_DIR=str(seed_settings.corpus_dir))
    env.pop("RAG_AUTH", None)
    args = [sys.executable, "app.py", "--host", "192.0.2.1", "--port", "7999"]
    bare = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "warning: serving on 192.0.2.1 without --auth" in bare.stderr and "(uploads and deletes are off)" in bare.stderr
    with_login = subprocess.run(args, cwd=ROOT, env=dict(env, RAG_AUTH="user:secret"), capture_output=True, text=True,
                                timeout=300)
    assert "without --auth" not in with_login.stderr and "secret" not in with_login.stdout + with_login.stderr

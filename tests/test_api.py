"""The JSON HTTP API (rag/serve/api.py), over plain HTTP against app.py's real server on loopback:
the page and the API on one port, the real model, index and answer layer."""
import base64
import http.client
import time
from urllib.parse import urlsplit

import requests

from rag.ingest.library import list_articles
from tests.conftest import in_process_server

WORKSHOP = "Where was the ACSH-ICSC workshop held?"
AWARD = "Who received a special ACSH award at the New York workshop?"


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET `path` exactly as written (clients like requests resolve `..` before sending)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def test_ask_returns_the_rag_ask_json_object_with_citations_into_the_sources(server, assistant):
    reply = requests.post(f"{server}/api/ask", json={"question": AWARD, "k": 8}, timeout=60)
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    data = reply.json()
    expected = assistant.ask(AWARD, k=8).to_dict()  # what `rag ask --json` prints
    assert data.keys() == expected.keys()
    assert {k: v for k, v in data.items() if k != "timings_ms"} == {k: v for k, v in expected.items() if k != "timings_ms"}
    assert not data["abstained"] and any("William Shields" in c["text"] for c in data["citations"])
    for c in data["citations"] + ([data["short_answer"]] if data["short_answer"] else []):
        source = requests.get(f"{server}/api/articles/{c['doc_id']}", timeout=60).json()
        assert source["text"][c["start"]:c["end"]] == c["text"]
    # k is optional: the server's setting.
    default = requests.post(f"{server}/api/ask", json={"question": WORKSHOP}, timeout=60).json()
    assert any("New York" in c["text"] for c in default["citations"])
    assert len(requests.post(f"{server}/api/ask", json={"question": WORKSHOP, "k": 3}, timeout=60).json()["passages"]) == 3


def test_a_follow_up_carries_the_questions_before_it(server, assistant):
    earlier = ["What was the online conference on current civil service reforms?"]
    body = {"question": "How many countries did its participants come from?", "earlier": earlier}
    data = requests.post(f"{server}/api/ask", json=body, timeout=60).json()
    expected = assistant.ask(body["question"], earlier=earlier).to_dict()
    assert {k: v for k, v in data.items() if k != "timings_ms"} == {k: v for k, v in expected.items() if k != "timings_ms"}
    assert data["searched"].startswith(earlier[0]) and data["short_answer"]["text"] == "20"


def test_small_talk_and_a_question_about_the_collection_are_answered_over_http(server, assistant):
    from rag.answer.small_talk import MESSAGE

    thanks = requests.post(f"{server}/api/ask", json={"question": "thanks!"}, timeout=60)
    assert thanks.status_code == 200
    assert thanks.json() | {"timings_ms": None} == assistant.ask("thanks!").to_dict() | {"timings_ms": None}
    assert thanks.json()["answer"] == MESSAGE and thanks.json()["abstained"] and thanks.json()["passages"] == []
    titles = requests.post(f"{server}/api/ask", json={"question": "What are these articles about?"}, timeout=60).json()
    assert not titles["abstained"] and len(titles["citations"]) == len(assistant.index.titles)
    assert {c["text"] for c in titles["citations"]} == set(assistant.index.titles.values())


def test_bad_questions_are_400_with_the_messages_of_the_page_and_cli(server):
    from rag.assistant import K_MESSAGE

    cases = [({"question": ""}, "Please type a question."), ({"question": " \n\t "}, "Please type a question."),
             ({"question": WORKSHOP, "k": 0}, K_MESSAGE), ({"question": WORKSHOP, "k": 51}, K_MESSAGE),
             ({"question": WORKSHOP, "k": -1}, K_MESSAGE)]
    for body, message in cases:
        reply = requests.post(f"{server}/api/ask", json=body, timeout=60)
        assert (reply.status_code, reply.json()) == (400, {"detail": message}), body


def test_malformed_bodies_are_422_without_echoing_them(server):
    bodies = [{}, {"question": 3}, {"question": ["x" * 100_000]}, {"question": "x", "k": "5"},
              {"question": "x", "k": 1.5}, {"question": "x", "kk": 3}, [WORKSHOP],
              {"question": "x", "earlier": "Who spoke?"}, {"question": "x", "earlier": [3]},
              {"question": "x", "earlier": ["Who spoke?"] * 21}]
    for body in bodies:
        reply = requests.post(f"{server}/api/ask", json=body, timeout=60)
        assert reply.status_code == 422 and len(reply.content) < 2_000, (body, reply.text[:300])
        assert reply.json()["detail"][0]["loc"][0] == "body"
    reply = requests.post(f"{server}/api/ask", data=b"{not json", headers={"content-type": "application/json"}, timeout=60)
    assert reply.status_code == 422


def test_oversized_bodies_are_413_whether_announced_or_chunked(server):
    from rag.serve.guard import MAX_BODY_BYTES

    big = {"question": "x" * (MAX_BODY_BYTES + 1)}
    reply = requests.post(f"{server}/api/ask", json=big, timeout=60)
    assert reply.status_code == 413 and "too large" in reply.json()["detail"]
    chunked = requests.post(f"{server}/api/ask", data=iter([b'{"question": "', b"y" * MAX_BODY_BYTES, b'"}']),
                            headers={"content-type": "application/json"}, timeout=60)
    assert chunked.status_code == 413
    # Just under the limit is a question, cut with a notice.
    long = requests.post(f"{server}/api/ask", json={"question": "What did the OECD propose? " * 3000}, timeout=60)
    assert long.status_code == 200 and "long" in long.json()["notice"]


def test_articles_lists_the_index_and_serves_only_its_articles(server, assistant):
    listing = requests.get(f"{server}/api/articles", timeout=60).json()
    index = assistant.index
    assert listing["count"] == len(index.manifest.articles) == len(listing["articles"])
    assert sum(a["chunks"] for a in listing["articles"]) == len(index.chunks)
    listed = list_articles(index, assistant.settings.corpus_dir)  # what `rag list` shows
    assert [(a["id"], a["format"], a["pages"]) for a in listing["articles"]] == [(r.doc_id, r.format, r.pages)
                                                                                for r in listed]
    assert {a["format"] for a in listing["articles"]} == {"txt"}  # the seeds; PDFs: tests/test_panel.py
    first = listing["articles"][0]
    article = requests.get(f"{server}/api/articles/{first['id']}", timeout=60).json()
    assert article["title"] == first["title"] and len(article["text"]) == first["characters"]
    assert article["text"].startswith("The ACSH held online webinars")
    for bad in ["questions", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "..%2Fseeds%2F000_46a559f0544261a8"]:
        reply = requests.get(f"{server}/api/articles/{bad}", timeout=60)
        assert reply.status_code == 404 and "unknown article" in reply.json()["detail"], bad
    for path in ["/api/articles/../etc/passwd", "/api/articles/../../../etc/passwd", "/api/articles/" + "z" * 5000]:
        status, body = raw_get(server, path)
        assert status == 404 and b"root:" not in body and len(body) < 1_000, path


def test_health_and_the_schema(server, assistant):
    health = requests.get(f"{server}/api/health", timeout=60)
    assert health.status_code == 200
    assert health.json() | {"articles": 0} == {"status": "ok", "articles": 0, "chunks": len(assistant.index.chunks),
                                               "rebuilding": False, "warning": None, "error": None}
    assert health.json()["articles"] == len(assistant.index.manifest.articles)
    schema = requests.get(f"{server}/api/openapi.json", timeout=60).json()
    assert {"/api/ask", "/api/articles", "/api/articles/{doc_id}", "/api/health"} <= set(schema["paths"])
    ask = schema["paths"]["/api/ask"]["post"]
    assert {"200", "400", "413", "422", "503"} <= set(ask["responses"])
    request = schema["components"]["schemas"]["AskRequest"]
    assert request["required"] == ["question"] and set(request["properties"]) == {"question", "k", "earlier"}
    assert "citations" in schema["components"]["schemas"]["AskResponse"]["properties"]
    assert requests.get(f"{server}/api/docs", timeout=60).status_code == 404  # its page would load a CDN's scripts
    assert requests.get(server, timeout=60).status_code == 200  # the page, on the same port


def test_login_is_http_basic_with_the_pages_credentials(assistant):
    from rag.serve.guard import slow_login
    from rag.serve.service import Service

    service = Service(assistant, assistant.settings)
    with in_process_server(service, login=slow_login("api-user", "S3cret pw:x")) as url:
        for headers in [{}, {"Authorization": "Bearer abc"}, {"Authorization": "Basic !!!"},
                        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}]:
            reply = requests.post(f"{url}/api/ask", json={"question": WORKSHOP}, headers=headers, timeout=60)
            assert reply.status_code == 401 and reply.headers["www-authenticate"].startswith("Basic"), headers
        for path in ["/api/articles", "/api/articles/000_46a559f0544261a8", "/api/health"]:
            assert requests.get(f"{url}{path}", timeout=60).status_code == 401
        t0 = time.monotonic()
        for n in range(2):  # wrong passwords slow the next attempt, as on the login form
            assert requests.get(f"{url}/api/health", auth=("api-user", f"guess{n}"), timeout=60).status_code == 401
        ok = requests.post(f"{url}/api/ask", json={"question": WORKSHOP}, auth=("api-user", "S3cret pw:x"), timeout=60)
        assert time.monotonic() - t0 >= 0.25 + 0.5
        assert ok.status_code == 200 and any("New York" in c["text"] for c in ok.json()["citations"])
        assert requests.get(f"{url}/api/health", auth=("api-user", "S3cret pw:x"), timeout=60).json()["status"] == "ok"
        # The page's API needs its login too.
        assert requests.post(f"{url}/gradio_api/call/ask", json={"data": [WORKSHOP, 8]}, timeout=60).status_code == 401


def test_503_until_the_index_is_loaded_then_answers(tmp_path):
    """Served with no usable articles (the page shows why), then an article appears."""
    from rag.serve.service import Service
    from rag.settings import from_env

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    service = Service(settings=from_env(env={}, corpus_dir=corpus, index_dir=tmp_path / "index"))
    service.RETRY_SECONDS = 0.5
    with in_process_server(service) as url:
        deadline = time.monotonic() + 60
        while (health := requests.get(f"{url}/api/health", timeout=60)).json()["status"] != "unavailable":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert health.status_code == 503 and "no usable articles" in health.json()["error"]
        reply = requests.post(f"{url}/api/ask", json={"question": "Anything?"}, timeout=60)
        assert reply.status_code == 503 and "could not be loaded" in reply.json()["detail"]
        assert reply.headers["retry-after"] and requests.get(f"{url}/api/articles", timeout=60).status_code == 503

        (corpus / "owls.txt").write_text("Owl census\n\nThe gamma team counted 31 owls in the northern forest in May.\n",
                                         encoding="utf-8")
        with service._lock:  # a load under way (the page's, say): the API answers at once, with 503
            assert requests.get(f"{url}/api/health", timeout=60).json()["status"] == "loading"
            reply = requests.post(f"{url}/api/ask", json={"question": "Anything?"}, timeout=60)
            assert reply.status_code == 503 and "loading" in reply.json()["detail"]
        while requests.get(f"{url}/api/health", timeout=60).status_code == 503:
            assert time.monotonic() < deadline + 120, "the index never loaded"
            time.sleep(0.2)
        answer = requests.post(f"{url}/api/ask", json={"question": "How many owls did the gamma team count?"}, timeout=60)
        assert answer.status_code == 200 and "31 owls" in answer.json()["answer"]

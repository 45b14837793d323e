"""The page in a real browser: Debian's Chromium driven by Playwright."""
import os
import shutil

import pytest

from tests.conftest import XSS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/setup --browser installs it")
        pytest.skip("chromium is not installed (bash .ci/setup --browser installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_question_answer_sources_and_escaping(browser, server, tmp_path):
    page = browser.new_page(viewport={"width": 1100, "height": 1200})
    dialogs, external = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: external.append(r.url) if r.url.startswith("http") and "127.0.0.1" not in r.url else None)
    page.goto(server)
    box = page.locator("#question textarea")
    box.fill("Who received a special ACSH award at the New York workshop?")
    box.press("Enter")
    page.wait_for_selector("#chat sup", timeout=60_000)
    assert "[1]" in page.locator("#chat").inner_text()
    page.get_by_text("Sources (").first.click()
    mark = page.locator("#chat mark").first
    mark.wait_for(timeout=10_000)
    assert "At the conclusion of the workshop, Mr. William Shields" in mark.text_content()
    assert "003_4b5c9540a69ebcf9" in page.locator("#chat").inner_text()
    page.wait_for_timeout(1000)  # the section opens with an animation; it must stay open after it
    assert mark.is_visible() and page.locator("#chat mark").count() == page.locator("#chat sup").count()
    page.screenshot(path=str(tmp_path / "sources.png"), full_page=True)  # the open sources, sentence marked

    # A follow-up: the page sends the chat's earlier questions with it, and the answer says so.
    box.fill("Which organisation is he the executive director of?")
    box.press("Enter")
    page.locator("#chat").get_by_text("Read as following on from “Who received a special ACSH award").wait_for(timeout=60_000)

    box.fill(XSS)
    box.press("Enter")
    page.get_by_text("Closest passages").first.wait_for(timeout=60_000)
    assert page.locator("#chat").get_by_text(XSS, exact=True).count() == 1
    assert page.locator("#chat img[src='x']").count() == 0
    assert dialogs == []
    assert external == []

    shot = tmp_path / "chat.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
    page.close()


def test_upload_ask_and_delete_an_article(browser, library_server, tmp_path):
    """Upload a PDF through the file chooser (with an XSS-titled text file beside it), see it
    indexed, get an answer quoted from it with its page, then delete it with the confirm step."""
    from test_documents import PDF_PAGES, make_pdf

    url, service = library_server
    make_pdf(tmp_path / "water.pdf", PDF_PAGES)
    (tmp_path / "notes.txt").write_text(f"{XSS}\n\nThe ferry to Nesodden leaves every forty minutes.\n", encoding="utf-8")
    page = browser.new_page(viewport={"width": 1100, "height": 1400})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.get_by_text("Articles", exact=True).click()
    table = page.locator("#articles-table")
    table.get_by_text("5 articles").wait_for(timeout=30_000)

    with page.expect_file_chooser() as chooser:
        page.locator("#upload").get_by_text("Click to Upload", exact=False).first.click()
    chooser.value.set_files([str(tmp_path / "water.pdf"), str(tmp_path / "notes.txt")])
    status = page.locator("#articles-status")
    status.get_by_text("Indexed: the new articles are searchable now.").wait_for(timeout=120_000)
    assert "Added water.pdf as water.pdf" in status.inner_text() and "Added notes.txt" in status.inner_text()
    assert "Annual report of the Lakeside Water Board" in table.inner_text() and "7 articles" in table.inner_text()
    assert table.get_by_text(XSS, exact=True).count() == 1 and page.locator("img[src='x']").count() == 0

    box = page.locator("#question textarea")
    box.fill("How many new engineers did the water board hire?")
    box.press("Enter")
    page.wait_for_selector("#chat sup", timeout=60_000)
    page.get_by_text("Sources (").first.click()
    page.locator("#chat mark").first.wait_for(timeout=10_000)
    assert "37 new engineers" in page.locator("#chat mark").first.text_content()
    assert "water · p. 2 · chars" in page.locator("#chat .rag-source").first.inner_text()
    page.screenshot(path=str(tmp_path / "uploaded.png"), full_page=True)

    choice = page.locator("#delete-choice input")
    choice.click()
    choice.fill("Lakeside")
    page.get_by_role("option", name="Annual report of the Lakeside Water Board (water)").click()
    page.locator("#delete").click()
    question = page.locator("#delete-question")
    question.get_by_text("Delete 1 article").wait_for(timeout=10_000)
    assert (service.settings.corpus_dir / "water.pdf").exists()  # not before the confirmation
    page.locator("#confirm-delete").click()
    status.get_by_text("Removed: they are no longer in answers.").wait_for(timeout=120_000)
    assert not (service.settings.corpus_dir / "water.pdf").exists()
    assert "Lakeside" not in table.inner_text() and "6 articles" in table.inner_text()
    assert page.request.get(f"{url}/api/articles/water").status == 404

    box.fill("How many new engineers did the water board hire?")
    box.press("Enter")  # the same question: the article is gone, so the articles no longer answer it
    page.locator("#chat").get_by_text("The articles don't answer this.").wait_for(timeout=60_000)
    page.screenshot(path=str(tmp_path / "deleted.png"), full_page=True)
    assert dialogs == []
    page.close()

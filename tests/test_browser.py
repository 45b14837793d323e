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

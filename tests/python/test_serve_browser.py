"""`bengal serve` as a writer uses it: a page open in headless Chromium follows edits made on
disk -- new text appears without a manual reload, a stylesheet change applies without any
reload, a front matter error shows an overlay that the fix takes away.

Needs the Debian packages chromium and chromium-driver (scripts/bootstrap.sh --browser, which
the test command runs, installs them) and selenium (the test extra)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bengal.serve import DevServer
from test_incremental import write_site
from test_serve import SITE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(
        "no Chromium here: install the Debian packages chromium and chromium-driver "
        "(scripts/bootstrap.sh --browser does)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

WAIT = 30  # seconds; generous for a loaded CI machine, the usual wait is well under one


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    assert CHROMIUM is not None
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--disable-extensions"):  # fmt: skip
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DevServer]:
    site = tmp_path / "site"
    write_site(site, SITE)
    srv = DevServer(site, port=0, out=lambda _: None)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def wait_for(driver: Any, script: str, what: str) -> Any:
    return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(
        lambda d: d.execute_script(script), message=f"timed out waiting for {what}"
    )


def test_live_reload_in_a_browser(browser: Any, server: DevServer) -> None:
    browser.get(server.url + "about/")
    assert "About this site." in browser.find_element("tag name", "body").text
    wait_for(browser, "return window.__bengalLive && window.__bengalLive.generation !== null",
             "the live reload connection")  # fmt: skip

    # 1. Markdown edited on disk -> the open page shows the new text by itself.
    about = server.root / "content" / "about.md"
    about.write_text("---\ntitle: About\n---\nFreshly *edited* words.\n", encoding="utf-8")
    wait_for(browser, "return document.body.innerText.includes('Freshly edited words.')",
             "the edited text")  # fmt: skip

    # 2. A stylesheet edited -> the computed style changes, and the page was not reloaded.
    wait_for(browser, "return window.__bengalLive && window.__bengalLive.generation !== null",
             "the live reload connection after the reload")  # fmt: skip
    browser.execute_script("window.__notReloaded = 'still here'")
    before = browser.execute_script("return getComputedStyle(document.body).color")
    assert before == "rgb(1, 2, 3)"
    css = server.root / "assets" / "css" / "bengal.css"
    css.write_text("body { color: rgb(200, 10, 20) }\n", encoding="utf-8")
    wait_for(browser, "return getComputedStyle(document.body).color === 'rgb(200, 10, 20)'",
             "the new stylesheet")  # fmt: skip
    assert browser.execute_script("return window.__notReloaded") == "still here"
    assert browser.execute_script("return window.__bengalLive.cssSwaps") >= 1

    # 3. A front matter error -> an overlay naming the file and line; the fix removes it.
    about.write_text("---\ntitle: [About\n---\nBroken.\n", encoding="utf-8")
    text = wait_for(
        browser,
        "const o = document.getElementById('bengal-error-overlay'); return o && o.innerText",
        "the error overlay",
    )
    assert "about.md:2" in text
    assert "Freshly edited words." in browser.find_element("tag name", "body").text
    about.write_text("---\ntitle: About\n---\nFixed again.\n", encoding="utf-8")
    wait_for(browser, "return !document.getElementById('bengal-error-overlay') && "
             "document.body.innerText.includes('Fixed again.')", "the overlay to go")  # fmt: skip

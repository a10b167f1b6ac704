"""Reports in a real browser (headless Chromium driven by selenium): every image decodes, the console has no
errors (a Content-Security-Policy violation would be one), nothing is wider than a 1280-pixel window, and a
screenshot is saved in the test's temporary folder.

Needs Debian's `chromium` and `chromium-driver` (CI installs them with apt-get) and selenium (the test extra);
skipped with that reason where they are missing."""

import importlib.util
import json
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER and importlib.util.find_spec("selenium")),
    reason="needs headless Chromium: apt-get install chromium chromium-driver, and pip install selenium",
)
WIDTH = 1280


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={WIDTH},1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def check_page(browser, page, shot, *, images=True):
    """Open `page`; assert images decode, no console error, nothing overflows the window; save a screenshot."""
    browser.get_log("browser")  # drop what an earlier page left
    browser.get(page.as_uri())
    decoded = browser.execute_script("return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
    if images:
        assert decoded, f"{page}: no images"
    bad = [alt for complete, width, alt in decoded if not (complete and width > 0)]
    assert not bad, f"{page}: images that do not decode: {bad}"
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, f"{page}: console errors: {errors}"
    scroll, inner = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner <= WIDTH, f"{page}: {scroll} pixels wide in a {inner}-pixel window"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 0


@pytest.mark.parametrize("lesson", ["mnist", "churn", "imbalance", "cnn"])
def test_a_report_in_a_real_browser(browser, quick_run, tmp_path, lesson):
    folder, _ = quick_run(lesson)
    check_page(browser, folder / "report.html", tmp_path / f"{lesson}.png")


def test_a_compare_page_and_an_index_in_a_real_browser(browser, quick_run, tmp_path):
    from keraslab.run_folders.browse import read_run
    from keraslab.run_folders.compare import compare, render_compare_html

    runs = [read_run(quick_run("churn")[0]), read_run(quick_run("churn", threshold=0.4)[0])]
    page = tmp_path / "compare.html"
    page.write_text(render_compare_html(compare(runs)))
    check_page(browser, page, tmp_path / "compare.png")


def test_a_page_that_breaks_its_policy_is_caught(browser, tmp_path):
    """The negative control: a script the policy forbids is a console error, so the checks above can fail."""
    from keraslab.run_folders.pages import CSP

    page = tmp_path / "bad.html"
    page.write_text(
        f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="{CSP}"></head>'
        f"<body><script>document.title = {json.dumps('ran')}</script></body></html>"
    )
    browser.get_log("browser")
    browser.get(page.as_uri())
    assert browser.title != "ran"
    assert any("Content Security Policy" in e["message"] for e in browser.get_log("browser"))

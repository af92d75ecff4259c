"""The H5 demo page in headless Chromium (Debian's package, driven by Playwright) against the `make run` stack:
upload a recording, pick a preset, synthesize, and the audio element gets a playable source."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "artifacts"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, installed by the test setup when missing (Playwright's own download cannot work here)."""
    if not Path(CHROMIUM).exists():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip("Chromium is not installed and cannot be installed here (needs root and apt-get)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True, env=env, capture_output=True,
                       timeout=600)
    has_cjk = shutil.which("fc-list") and subprocess.run(["fc-list", ":lang=zh"], capture_output=True,
                                                         text=True).stdout.strip()
    if not has_cjk and os.geteuid() == 0 and shutil.which("apt-get"):
        # only for a readable screenshot: the page works without Chinese fonts
        subprocess.run(["apt-get", "install", "-y", "-q", "fonts-wqy-zenhei"], env=dict(
            os.environ, DEBIAN_FRONTEND="noninteractive"), capture_output=True, timeout=600)
    return CHROMIUM


ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]
PLAYABLE = """() => new Promise((resolve, reject) => {
    const a = document.getElementById('result');
    const done = () => resolve(a.duration);
    if (a.readyState >= 1) return done();
    a.addEventListener('loadedmetadata', done, { once: true });
    a.addEventListener('error', () => reject(new Error('audio error ' + (a.error && a.error.code))));
    a.load();
})"""


@pytest.fixture
def browser(chromium):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, dev_stack, viewport):
    page = browser.new_page(viewport=viewport)
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(f"{dev_stack}/")  # the dev server leads / to the page
    page.wait_for_function("document.querySelectorAll('#preset option').length > 10")
    return page, problems


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_enroll_reuse_synthesize_download_and_errors(dev_stack, browser, viewport):
    page, problems = open_page(browser, dev_stack, viewport)
    name = "desktop" if viewport["width"] > 400 else "phone"
    assert "（方言）" in page.inner_text("#preset") and "dialect" not in page.inner_text("#preset")
    # a recording with its transcript, saved as the caller's voice, then reused
    page.set_input_files("#file", str(REPO / "examples" / "prompt_zh.wav"))
    page.fill("#transcript", "希望你以后能够做的比我还好呦。")
    page.click("#enroll")  # refused until the caller says whose voice it is
    page.wait_for_function("document.getElementById('status').className === 'error'")
    assert "同意" in page.inner_text("#status")
    page.check("#consent-self")
    page.click("#enroll")
    page.wait_for_function("document.getElementById('voices').options.length > 0", timeout=60000)
    assert page.is_visible("#saved-box") and "有文字" in page.inner_text("#voices")
    page.fill("#text", f"浏览器里的演示页面（{name}）。")
    page.select_option("#preset", "温柔")
    page.select_option("#format", "wav")
    page.fill("#speed", "1.2")
    page.click("#go")
    page.wait_for_function("document.getElementById('result').src.includes('/media/')", timeout=60000)
    assert page.evaluate(PLAYABLE) > 0.5
    assert "完成" in page.inner_text("#status") and page.is_visible("#download")
    assert page.is_visible("#aigc-notice") and "AI生成" in page.inner_text("#aigc-notice")
    assert page.get_attribute("#download", "href").endswith(".wav")
    ok_colour = page.eval_on_selector("#status", "e => getComputedStyle(e).color")
    # nothing fits beyond the viewport (no sideways scrolling on a phone)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= viewport["width"]
    page.screenshot(path=str(ARTIFACTS / f"h5_demo_{name}.png"), full_page=True)
    # an error: shown in the error colour, the previous result cleared
    page.fill("#text", "")
    page.click("#go")
    page.wait_for_function("document.getElementById('status').className === 'error'", timeout=30000)
    error_colour = page.eval_on_selector("#status", "e => getComputedStyle(e).color")
    assert error_colour == "rgb(192, 57, 43)" and error_colour != ok_colour
    assert not page.is_visible("#result") and not page.is_visible("#download") and not page.is_visible("#aigc-notice")
    page.screenshot(path=str(ARTIFACTS / f"h5_demo_{name}_error.png"), full_page=True)
    assert not [p for p in problems if "400" not in p]  # the refused request itself is the only console line


def test_the_page_plays_the_stream_as_it_arrives_without_gaps(dev_stack, browser):
    page, problems = open_page(browser, dev_stack, {"width": 1280, "height": 900})
    # a long text: it streams segment by segment, so playback starts long before the last segment exists
    page.fill("#text", "".join(f"这是第{i}句话，浏览器边收边播放。" for i in range(20)))
    assert page.is_checked("#stream")
    page.check("input[name=source][value=default]")
    page.click("#go")
    from playwright.sync_api import TimeoutError as PageTimeout

    try:
        page.wait_for_function("window.streamStats && window.streamStats.doneMs !== null", timeout=60000)
    except PageTimeout:
        raise AssertionError(f"{page.inner_text('#status')} {page.evaluate('window.streamStats')} {problems}") from None
    stats = page.evaluate("window.streamStats")
    assert stats["firstAudioMs"] < stats["doneMs"] / 2  # playing before the response completed
    assert stats["chunks"] > 3 and stats["underruns"] == 0 and stats["seams"] == stats["chunks"] - 1
    page.wait_for_function("document.getElementById('subtitle').textContent.includes('这是第')", timeout=10000)
    page.wait_for_function("document.getElementById('result').src.includes('/media/')", timeout=10000)
    assert "完成" in page.inner_text("#status") and page.is_visible("#aigc-notice")
    page.screenshot(path=str(ARTIFACTS / "h5_demo_stream.png"), full_page=True)
    print(f"\nbrowser: first audio {stats['firstAudioMs']:.0f} ms, done {stats['doneMs']:.0f} ms, "
          f"{stats['chunks']} chunks")
    assert not problems

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


def test_upload_synthesize_and_play(dev_stack, chromium):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"])
        try:
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{dev_stack}/demo")
            page.wait_for_function("document.querySelectorAll('#preset option').length > 10")
            page.set_input_files("#file", str(REPO / "examples" / "prompt_zh.wav"))
            page.fill("#text", "浏览器里的演示页面。")
            page.select_option("#preset", "温柔")
            page.click("#go")
            page.wait_for_function("document.getElementById('result').src.includes('/media/')", timeout=60000)
            # playable: the browser loads the source and knows its duration
            duration = page.evaluate("""() => new Promise((resolve, reject) => {
                const a = document.getElementById('result');
                const done = () => resolve(a.duration);
                if (a.readyState >= 1) return done();
                a.addEventListener('loadedmetadata', done, { once: true });
                a.addEventListener('error', () => reject(new Error('audio error ' + (a.error && a.error.code))));
                a.load();
            })""")
            assert duration > 0.5
            assert "完成" in page.inner_text("#status")
            page.screenshot(path=str(ARTIFACTS / "h5_demo.png"), full_page=True)
            assert not errors
        finally:
            browser.close()

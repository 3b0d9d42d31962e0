"""Debian's Chromium through Playwright for the browser tests; skips with the reason where either is missing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def chromium_browser(*args: str) -> Iterator:
    """A headless Chromium (``args`` added to ``--no-sandbox``), closed on exit.

    Raises:
        pytest.skip.Exception: Playwright or Chromium is not installed.
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", *args])
        try:
            yield browser
        finally:
            browser.close()

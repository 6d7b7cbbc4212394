"""Headless Chromium for page tests: Debian's chromium and chromedriver, driven by Selenium.

Where either is missing, tests that need a browser are skipped, except under CI
(``CI`` set), where a missing browser is a failure: ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("FUNDIFF_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FUNDIFF_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1200,900",
)  # fmt: skip


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() or shutil.which(path)):
            return f"{path} not found (apt-get install chromium chromium-driver)"
    return None


@contextmanager
def chromium(scratch: Path) -> Iterator[object]:
    """A headless Chromium WebDriver that records the console; quits at the end."""
    missing = _missing()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"no browser under CI: {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={scratch / 'chromium-profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver: object, url: str, timeout: float = 30.0) -> None:
    """Load ``url`` and wait until the page and all its images have finished loading."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)  # type: ignore[attr-defined]
    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete' && Array.from(document.images).every(i => i.complete)"
        )
    )


def broken_images(driver: object) -> list[str]:
    """The src of every image on the page that did not load."""
    return driver.execute_script(  # type: ignore[attr-defined]
        "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )


def console_errors(driver: object) -> list[str]:
    """Console messages of level SEVERE since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]  # type: ignore[attr-defined]

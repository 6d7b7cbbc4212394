"""Does a student notebook open in JupyterLab, as students meet it, and run its first code cell?

The test starts ``jupyter lab`` on loopback (the package installed as it is
here), opens the released Part B notebook in headless Chromium, waits for the
notebook to render, runs its first code cell with Shift+Enter and waits for the
kernel's output.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser import chromium

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "fundiff-test"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path: Path, mnist_dir: Path):
    """A JupyterLab server on loopback serving a copy of the course notebooks: its base URL."""
    root = tmp_path / "student"
    shutil.copytree(ROOT / "course", root)
    port = _free_port()
    # every cell rendered, not only those in view (the tests look cells up by their text)
    tracker = (
        tmp_path / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    )
    tracker.parent.mkdir(parents=True)
    tracker.write_text('{"windowingMode": "none"}')
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"), "FUNDIFF_DATA": str(mnist_dir), "FUNDIFF_FAST": "1", "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(
                        "jupyter lab did not start:\n" + (tmp_path / "lab.log").read_text()[-3000:]
                    )
                time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _open_notebook(driver, url: str, timeout: float) -> list:
    """Load a notebook in JupyterLab and wait until it renders: its code cells."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    code = ".jp-NotebookPanel .jp-CodeCell"
    WebDriverWait(driver, timeout).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, code)) > 20)
    return driver.find_elements(By.CSS_SELECTOR, code)


def _run_cell(driver, cell) -> None:
    """Put the cursor in ``cell`` and press Shift+Enter, as a student does."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.execute_script("arguments[0].scrollIntoView();", cell)
    cell.find_element(By.CSS_SELECTOR, ".jp-InputArea-editor").click()
    ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()


def test_a_course_notebook_renders_and_its_kernel_runs_the_first_cell(
    lab: str, tmp_path: Path
) -> None:
    """Does JupyterLab show the Part B notebook's cells, and does Shift+Enter on its first code cell print?"""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium(tmp_path) as driver:
        cells = _open_notebook(driver, f"{lab}/lab/tree/part_b/part_b.ipynb?token={TOKEN}", 120)
        markdown = driver.find_element(By.CSS_SELECTOR, ".jp-NotebookPanel .jp-MarkdownCell")
        assert "Part B" in markdown.text
        _run_cell(driver, cells[0])
        WebDriverWait(driver, 120).until(lambda d: "FAST: True" in cells[0].text)
        assert "[1]" in cells[0].find_element(By.CSS_SELECTOR, ".jp-InputPrompt").text


def test_the_drawing_canvas_of_part_a_renders(lab: str, tmp_path: Path) -> None:
    """Run Part A's set-up cell and its 1.7.1 cell: does an ipycanvas canvas and an upload button appear?"""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium(tmp_path) as driver:
        cells = _open_notebook(driver, f"{lab}/lab/tree/part_a/part_a.ipynb?token={TOKEN}", 180)
        wait = WebDriverWait(driver, 180)
        _run_cell(driver, cells[0])
        wait.until(lambda d: "backend: mnist" in cells[0].text)
        (canvas_cell,) = [c for c in cells if "Canvas(width=280" in c.get_attribute("textContent")]
        _run_cell(driver, canvas_cell)
        wait.until(
            lambda d: canvas_cell.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output canvas")
        )
        assert "upload" in canvas_cell.find_element(By.CSS_SELECTOR, ".jp-OutputArea").text

"""Does `fundiff demo` write every figure, captioned, as a page that loads in a browser, and
refuse bad input in one line without leaving anything behind?"""

from __future__ import annotations

import re
import shlex
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

from fundiff import assets, writeup
from fundiff.demo.build import check_out, run_demo
from fundiff.demo.catalogue import PART_A_FIGURES, PART_B_MODELS
from fundiff.demo.render import MARKER
from fundiff.diffusion import rules
from fundiff.parta.sections import ITERATIVE_TASKS
from tests.browser import broken_images, chromium, console_errors, open_page
from tests.conftest import run_cli
from tests.imagefiles import read_image


class _Page(HTMLParser):
    """The figures of a demo page, in order: img src, caption (first paragraph), command (code)."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.captions: list[str] = []
        self.commands: list[str] = []
        self._caption: str | None = None  # text of the figcaption being read
        self._paragraphs = 0
        self._code: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")
        elif tag == "figcaption":
            self._caption, self._paragraphs = "", 0
        elif tag == "p" and self._caption is not None:
            self._paragraphs += 1
        elif tag == "code" and self._caption is not None:
            self._code = ""

    def handle_data(self, data: str) -> None:
        if self._code is not None:
            self._code += data
        elif self._caption is not None and self._paragraphs == 1:
            self._caption += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "code" and self._code is not None:
            self.commands.append(self._code)
            self._code = None
        elif tag == "figcaption" and self._caption is not None:
            self.captions.append(self._caption)
            self._caption = None


def _page(out: Path) -> _Page:
    page = _Page()
    page.feed((out / "index.html").read_text())
    return page


@pytest.mark.slow
def test_every_figure_exists_with_a_caption_and_a_command(demo: Path) -> None:
    """Does each image on the page exist, as a relative path, with a caption and a command?"""
    page = _page(demo)
    assert page.images and len(page.captions) == len(page.images)
    assert len(page.commands) == len(page.images)
    for src in page.images:
        assert not src.startswith(("/", "file:", "http")), src
        assert (demo / src).is_file(), src
        assert read_image(demo / src).shape[-1] > 0
    for caption in page.captions:
        assert caption.strip()


@pytest.mark.slow
def test_every_part_a_section_is_on_the_page_in_order(demo: Path) -> None:
    """Is every figure that Part A writes on the MNIST backend shown, in the write-up's order?"""
    images = _page(demo).images
    part_a = [s.removeprefix("part_a/") for s in images if s.startswith("part_a/")]
    assert set(part_a) == set(PART_A_FIGURES)
    sections = [PART_A_FIGURES[k][0].split()[0] for k in part_a]
    key = [tuple(int(n) for n in s.split(".")) for s in sections]
    assert key == sorted(key)
    assert all(i.startswith("part_a/") for i in images[: len(part_a)])


# the task behind each Part A figure of the MNIST page
TASK_OF = {
    "1.1_forward.png": "forward", "1.2_blur.png": "blur", "1.3_one_step.png": "one-step",
    "1.4_iterative_steps.png": "iterative", "1.4_iterative_compare.png": "iterative", "1.5_sample.png": "sample",
    "1.6_cfg.png": "cfg", "1.7_sdedit.png": "sdedit", "drawing/1.7_sdedit.png": "sdedit",
    "1.7.2_inpaint.png": "inpaint", "1.7.3_img2img.png": "img2img", "1.8_anagram.png": "anagram",
    "1.9_hybrid_frequency.png": "hybrid",
}  # fmt: skip


@pytest.mark.slow
def test_part_a_captions_name_the_rule_that_drew_each_loop_figure(demo: Path) -> None:
    """Does the caption of every figure the strided loop drew describe the rule in force, and no other?"""
    page = _page(demo)
    for src, caption in zip(page.images, page.captions, strict=True):
        key = src.removeprefix("part_a/")
        if src.startswith("part_a/"):
            named = rules.describe(rules.current_rule()) in caption
            assert named == (TASK_OF[key] in ITERATIVE_TASKS), (key, caption)


@pytest.mark.slow
def test_part_a_captions_use_the_writeups_values(demo: Path) -> None:
    """Do the 1.4 and SDEdit captions name the write-up's timesteps and i_start columns, original first?"""
    captions = dict(zip(_page(demo).images, _page(demo).captions, strict=True))
    a = writeup.PART_A
    assert ", ".join(map(str, a.shown_timesteps)) in captions["part_a/1.4_iterative_steps.png"]
    columns = ", ".join(["original", *(writeup.i_start_label(i) for i in a.i_starts)])
    for key in ("1.7_sdedit.png", "1.7.3_img2img.png", "drawing/1.7_sdedit.png"):
        assert columns in captions[f"part_a/{key}"], key


@pytest.mark.slow
def test_part_b_shows_each_shipped_model_drawn_now_and_recorded(demo: Path) -> None:
    """Does Part B hold, for each shipped model, a figure drawn now and one recorded in training?"""
    images = _page(demo).images
    for kind, _ in PART_B_MODELS:
        mine = [i for i in images if i.startswith(f"part_b/{kind}/")]
        assert any("/training/" not in i for i in mine), kind
        assert any("/training/" in i for i in mine), kind


@pytest.mark.slow
def test_a_part_a_command_on_the_page_regenerates_its_figure(
    demo: Path, tmp_path: Path, capsys
) -> None:
    """Run the command printed under 1.1: does it draw the same pixels?"""
    page = _page(demo)
    i = page.images.index("part_a/1.1_forward.png")
    words = shlex.split(page.commands[i])
    assert words[:2] == ["fundiff", "part-a"]
    out = words.index("--out") + 1
    words[out] = str(tmp_path)
    status, _, err = run_cli([*words[1:], "--device", "cpu", "--no-progress"], capsys)
    assert status == 0, err
    torch.testing.assert_close(
        read_image(tmp_path / "1.1_forward.png"), read_image(demo / page.images[i])
    )


@pytest.mark.slow
def test_the_page_loads_in_headless_chromium(demo: Path, tmp_path: Path) -> None:
    """Opened from disk in a real browser, does every image load, with no console errors?"""
    with chromium(tmp_path) as driver:
        open_page(driver, (demo / "index.html").as_uri())
        count = driver.execute_script("return document.images.length")
        assert count == len(_page(demo).images)
        assert broken_images(driver) == []
        assert console_errors(driver) == []


@pytest.mark.slow
def test_a_second_demo_replaces_the_first(demo: Path, tmp_path: Path) -> None:
    """Is an earlier demo's folder accepted and fully replaced, with no temporary folder left?"""
    out = tmp_path / "site"
    shutil.copytree(demo, out)
    stale = out / "part_a" / "stale.png"
    stale.write_bytes(b"old")
    keep = out / "notes.txt"  # not the demo's: left alone
    keep.write_text("mine")
    run_demo(out, device="cpu", progress=False)
    assert not stale.exists() and keep.read_text() == "mine"
    assert MARKER in (out / "index.html").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_a_folder_of_other_files_is_refused(tmp_path: Path) -> None:
    """Is a non-empty folder without an earlier demo refused, so nothing of the user's is replaced?"""
    (tmp_path / "thesis.tex").write_text("x")
    with pytest.raises(ValueError, match="not empty and holds no earlier demo"):
        check_out(tmp_path)


@pytest.mark.parametrize("case", ["under a file", "a file", "other files"])
def test_bad_out_exits_2_with_one_line_and_writes_nothing(
    case: str, tmp_path: Path, capsys
) -> None:
    """Is a --out that cannot hold the demo refused in one line, exit 2, before any work?"""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    out = {"under a file": blocker / "site", "a file": blocker, "other files": tmp_path}[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    status, _, err = run_cli(["demo", "--out", out, "--no-progress"], capsys)
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and "--out" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("damage", ["missing", "corrupted"])
def test_a_damaged_asset_exits_2_naming_it(
    damage: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    """With a shipped model missing or changed, does the demo stop at once, naming the file?"""
    copy = tmp_path / "assets"
    shutil.copytree(assets.assets_dir(), copy)
    victim = copy / "mnist_flow_class.safetensors"
    if damage == "missing":
        victim.unlink()
    else:
        victim.write_bytes(victim.read_bytes()[:-10])
    monkeypatch.setattr(assets, "assets_dir", lambda: copy)
    assets._checked.cache_clear()
    try:
        status, _, err = run_cli(["demo", "--out", tmp_path / "site", "--no-progress"], capsys)
    finally:
        assets._checked.cache_clear()
    assert status == 2
    assert len(err.strip().splitlines()) == 1
    assert re.search(r"mnist_flow_class\.safetensors.*(missing|corrupted)", err)
    assert not (tmp_path / "site").exists()


@pytest.mark.gpu
def test_the_demo_runs_on_cuda(tmp_path: Path) -> None:
    """On a GPU, does the demo draw the same page, every image present?"""
    out = tmp_path / "site"
    run_demo(out, device="cuda", progress=False)
    page = _page(out)
    assert page.images and all((out / src).is_file() for src in page.images)

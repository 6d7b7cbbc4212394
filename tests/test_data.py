"""Tests for fundiff.data: real MNIST (when available) and small generated IDX files."""

from __future__ import annotations

import gzip
import os
import re
import socket
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.error import URLError

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fundiff import data
from fundiff.data import (
    FILES,
    DataError,
    clear_cache,
    find_raw_dir,
    load_mnist,
    pin_data_env,
    resolve_data_dir,
)

ALL_NAMES = [name for pair in FILES.values() for name in pair]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# --------------------------------------------------------------------------- helpers


def idx_bytes(magic: int, dims: tuple[int, ...], body: bytes) -> bytes:
    """IDX file bytes: big-endian int32 magic, big-endian uint32 dims, then the body."""
    return struct.pack(">i", magic) + struct.pack(f">{len(dims)}I", *dims) + body


def images_bytes(images: torch.Tensor) -> bytes:
    """IDX bytes of a uint8 (N, H, W) tensor."""
    return idx_bytes(2051, tuple(images.shape), bytes(images.flatten().tolist()))


def labels_bytes(labels: torch.Tensor) -> bytes:
    """IDX bytes of an integer (N,) tensor with values 0..255."""
    return idx_bytes(2049, tuple(labels.shape), bytes(labels.tolist()))


def write_file(folder: Path, name: str, content: bytes, *, gz: bool = False) -> Path:
    """Write `content` to folder/name (or gzip-compressed to folder/name.gz)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (f"{name}.gz" if gz else name)
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


def random_split(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n random uint8 28x28 images and int64 labels in 0..9."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 28, 28), generator=gen, dtype=torch.uint8)
    labels = torch.randint(0, 10, (n,), generator=gen, dtype=torch.int64)
    return images, labels


def write_mnist(
    folder: Path, n_train: int = 3, n_test: int = 2, *, gz: bool = False, seed: int = 0
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Write a valid four-file MNIST set into `folder`; return what was written per split."""
    written = {}
    for i, (split, n) in enumerate((("train", n_train), ("test", n_test))):
        images, labels = random_split(n, seed + i)
        images_name, labels_name = FILES[split]
        write_file(folder, images_name, images_bytes(images), gz=gz)
        write_file(folder, labels_name, labels_bytes(labels), gz=gz)
        written[split] = (images, labels)
    return written


def snapshot(folder: Path) -> dict[str, int]:
    """Every path under `folder` (relative) with its size, to prove nothing was written."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size if p.is_file() else -1)
        for p in folder.rglob("*")
    }


@pytest.fixture
def small_dir(tmp_path: Path) -> Path:
    """A fresh folder with a valid plain-file MNIST set (3 train, 2 test samples)."""
    folder = tmp_path / "mnist"
    write_mnist(folder)
    return folder


# --------------------------------------------------------------------------- real data


@pytest.mark.parametrize(
    ("split", "n", "counts"), [("train", 60000, TRAIN_COUNTS), ("test", 10000, TEST_COUNTS)]
)
def test_real_shapes_dtypes_and_label_counts(
    mnist_dir: Path, split: str, n: int, counts: list[int]
) -> None:
    images, labels = load_mnist(split, mnist_dir, download=False)
    assert images.shape == (n, 28, 28)
    assert images.dtype == torch.uint8
    assert labels.shape == (n,)
    assert labels.dtype == torch.int64
    assert int(labels.min()) == 0 and int(labels.max()) == 9
    assert torch.bincount(labels, minlength=10).tolist() == counts
    assert int(images.max()) == 255  # raw pixel values, not rescaled


def test_real_second_call_returns_cached_objects(mnist_dir: Path) -> None:
    first = load_mnist("train", mnist_dir)
    second = load_mnist("train", mnist_dir)
    assert second[0] is first[0] and second[1] is first[1]


def test_cache_keyed_on_absolute_folder(mnist_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absolute = load_mnist("test", mnist_dir)
    monkeypatch.chdir(mnist_dir.parent)
    relative = load_mnist("test", mnist_dir.name)
    assert relative[0] is absolute[0]


def test_real_both_layouts(mnist_dir: Path) -> None:
    raw = find_raw_dir(mnist_dir)
    assert raw is not None
    via_root = load_mnist("test", mnist_dir)
    via_raw = load_mnist("test", raw)
    assert find_raw_dir(raw) == raw
    assert torch.equal(via_root[0], via_raw[0]) and torch.equal(via_root[1], via_raw[1])


def test_real_files_in_both_layouts_via_symlinks(mnist_dir: Path, tmp_path: Path) -> None:
    raw = find_raw_dir(mnist_dir)
    assert raw is not None
    flat = tmp_path / "flat"
    nested = tmp_path / "tv" / "MNIST" / "raw"
    for folder in (flat, nested):
        folder.mkdir(parents=True)
        for src in raw.iterdir():
            if src.name.split(".")[0] in ALL_NAMES:
                (folder / src.name).symlink_to(src)
    expected = load_mnist("test", mnist_dir)
    for root in (flat, tmp_path / "tv"):
        images, labels = load_mnist("test", root, download=False)
        assert torch.equal(images, expected[0]) and torch.equal(labels, expected[1])


def test_fundiff_data_env_var_is_honoured(mnist_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNDIFF_DATA", str(mnist_dir))
    assert resolve_data_dir() == mnist_dir
    clear_cache()
    images, labels = load_mnist("test", download=False)
    assert images.shape == (10000, 28, 28)
    assert torch.bincount(labels, minlength=10).tolist() == TEST_COUNTS
    assert load_mnist("test", mnist_dir)[0] is images  # same cache entry as the explicit folder


# --------------------------------------------------------------------------- folder lookup


def test_resolve_data_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FUNDIFF_DATA", raising=False)
    assert resolve_data_dir() == tmp_path / "home" / ".cache" / "fundiff" / "data"
    monkeypatch.setenv("FUNDIFF_DATA", "")
    assert resolve_data_dir() == tmp_path / "home" / ".cache" / "fundiff" / "data"
    monkeypatch.setenv("FUNDIFF_DATA", str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir(str(tmp_path / "arg")) == tmp_path / "arg"
    assert resolve_data_dir("~/x") == tmp_path / "home" / "x"


def test_a_relative_fundiff_data_means_the_folder_it_was_typed_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Does a relative $FUNDIFF_DATA name the shell's folder ($PWD), also from a process that runs
    elsewhere (a notebook kernel), and does pin_data_env write it back absolute, once?"""
    typed_in, kernel = tmp_path / "repo", tmp_path / "repo" / "course" / "part_b"
    kernel.mkdir(parents=True)
    monkeypatch.chdir(kernel)
    monkeypatch.setenv("PWD", str(typed_in))
    monkeypatch.setenv("FUNDIFF_DATA", "../shared/data")
    assert resolve_data_dir() == typed_in / "../shared/data"
    pin_data_env()
    assert os.environ["FUNDIFF_DATA"] == str(typed_in / "../shared/data")
    monkeypatch.setenv("PWD", "not/absolute")  # no shell folder to go by: the process's own
    monkeypatch.setenv("FUNDIFF_DATA", "data")
    assert resolve_data_dir() == kernel / "data"
    assert resolve_data_dir("data") == Path("data")  # a folder passed in is the caller's to resolve


def test_find_raw_dir_layouts(tmp_path: Path) -> None:
    assert find_raw_dir(tmp_path / "missing") is None
    flat = tmp_path / "flat"
    write_mnist(flat)
    assert find_raw_dir(flat) == flat
    nested_root = tmp_path / "nested"
    write_mnist(nested_root / "MNIST" / "raw", gz=True)
    assert find_raw_dir(nested_root) == nested_root / "MNIST" / "raw"
    partial = tmp_path / "partial"
    write_mnist(partial)
    (partial / FILES["test"][1]).unlink()
    assert find_raw_dir(partial) is None


def test_bad_split_is_value_error(small_dir: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation", small_dir)  # type: ignore[arg-type]


def test_importing_module_does_not_import_torch_or_torchvision() -> None:
    code = "import sys, fundiff.data; print('torch' in sys.modules, 'torchvision' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == ["False", "False"]


# --------------------------------------------------------------------------- generated files


@settings(max_examples=25, deadline=None)
@given(
    n_train=st.integers(1, 12),
    n_test=st.integers(1, 12),
    gz=st.booleans(),
    torchvision_layout=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_generated_files_round_trip(
    tmp_path_factory: pytest.TempPathFactory,
    n_train: int,
    n_test: int,
    gz: bool,
    torchvision_layout: bool,
    seed: int,
) -> None:
    root = tmp_path_factory.mktemp("roundtrip")
    folder = root / "MNIST" / "raw" if torchvision_layout else root
    written = write_mnist(folder, n_train, n_test, gz=gz, seed=seed)
    before = snapshot(root)
    for split, (images_w, labels_w) in written.items():
        images, labels = load_mnist(split, root, download=False)
        assert images.dtype == torch.uint8 and labels.dtype == torch.int64
        assert torch.equal(images, images_w)
        assert torch.equal(labels, labels_w)
    assert snapshot(root) == before  # nothing written into the data folder


def test_mixed_plain_and_gz_and_plain_preferred(tmp_path: Path) -> None:
    written = write_mnist(tmp_path, gz=False, seed=1)
    # Train images also as .gz with different content: the plain file must win.
    other, _ = random_split(3, seed=99)
    write_file(tmp_path, FILES["train"][0], images_bytes(other), gz=True)
    # Test labels only as .gz.
    labels_path = tmp_path / FILES["test"][1]
    write_file(tmp_path, labels_path.name, labels_path.read_bytes(), gz=True)
    labels_path.unlink()
    assert torch.equal(load_mnist("train", tmp_path)[0], written["train"][0])
    assert torch.equal(load_mnist("test", tmp_path)[1], written["test"][1])


def test_clear_cache(small_dir: Path) -> None:
    first = load_mnist("train", small_dir)
    assert load_mnist("train", small_dir)[0] is first[0]
    clear_cache()
    again = load_mnist("train", small_dir)
    assert again[0] is not first[0] and torch.equal(again[0], first[0])
    load_mnist.cache_clear()  # the lru_cache-style spelling works too
    assert load_mnist("train", small_dir)[0] is not again[0]


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(("kind", "wrong_magic"), [("images", 2049), ("labels", 2051)])
def test_wrong_magic_names_file(small_dir: Path, gz: bool, kind: str, wrong_magic: int) -> None:
    images, labels = random_split(3, 0)
    if kind == "images":
        name, content = FILES["train"][0], images_bytes(images)
    else:
        name, content = FILES["train"][1], labels_bytes(labels)
    (small_dir / name).unlink()
    path = write_file(small_dir, name, struct.pack(">i", wrong_magic) + content[4:], gz=gz)
    with pytest.raises(DataError, match="magic") as info:
        load_mnist("train", small_dir)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("content", [b"", b"\x00\x00", idx_bytes(2051, (), b"")[:4] + b"\x00"])
def test_file_shorter_than_header_names_file(small_dir: Path, content: bytes) -> None:
    path = write_file(small_dir, FILES["test"][0], content)
    with pytest.raises(DataError, match="too short") as info:
        load_mnist("test", small_dir)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_images_names_file(small_dir: Path, gz: bool) -> None:
    images, _ = random_split(3, 0)
    name = FILES["train"][0]
    (small_dir / name).unlink()
    path = write_file(small_dir, name, images_bytes(images)[:-5], gz=gz)
    expected = f"{path}: truncated: header promises 3x28x28 = 2352 bytes of data, file has 2347"
    with pytest.raises(DataError, match=re.escape(expected)):
        load_mnist("train", small_dir)


def test_truncated_labels_names_file(small_dir: Path) -> None:
    path = small_dir / FILES["test"][1]
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DataError, match=re.escape(f"{path}: truncated")):
        load_mnist("test", small_dir)


def test_trailing_bytes_are_an_error(small_dir: Path) -> None:
    path = small_dir / FILES["test"][0]
    path.write_bytes(path.read_bytes() + b"\x00" * 7)
    with pytest.raises(DataError, match=re.escape(f"{path}: too long")):
        load_mnist("test", small_dir)


def test_wrong_image_size_is_an_error(small_dir: Path) -> None:
    path = write_file(small_dir, FILES["test"][0], idx_bytes(2051, (2, 27, 28), bytes(2 * 27 * 28)))
    with pytest.raises(DataError, match=re.escape(f"{path}: images are 27x28")):
        load_mnist("test", small_dir)


def test_zero_items_is_an_error(small_dir: Path) -> None:
    path = write_file(small_dir, FILES["test"][1], idx_bytes(2049, (0,), b""))
    with pytest.raises(DataError, match=re.escape(str(path))):
        load_mnist("test", small_dir)


def _not_gzip(good: bytes) -> bytes:
    return b"definitely not a gzip stream" + good


def _cut_stream(good: bytes) -> bytes:
    return good[: len(good) // 2]


def _bad_crc(good: bytes) -> bytes:
    return good[:-8] + bytes(b ^ 0xFF for b in good[-8:-4]) + good[-4:]


def _garbled_deflate(good: bytes) -> bytes:
    return good[:10] + b"\xff" * 40 + good[50:]


@pytest.mark.parametrize("corrupt", [_not_gzip, _cut_stream, _bad_crc, _garbled_deflate])
def test_corrupt_gzip_names_file(tmp_path: Path, corrupt: Callable[[bytes], bytes]) -> None:
    write_mnist(tmp_path, gz=True)
    path = tmp_path / f"{FILES['train'][0]}.gz"
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(DataError) as info:
        load_mnist("train", tmp_path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_count_mismatch_names_both_files(small_dir: Path) -> None:
    _, labels = random_split(2, 0)
    labels_path = write_file(small_dir, FILES["train"][1], labels_bytes(labels))
    with pytest.raises(DataError, match="3 images") as info:
        load_mnist("train", small_dir)
    assert str(small_dir / FILES["train"][0]) in str(info.value)
    assert str(labels_path) in str(info.value)


def test_label_out_of_range_is_an_error(small_dir: Path) -> None:
    path = write_file(small_dir, FILES["test"][1], labels_bytes(torch.tensor([3, 10])))
    with pytest.raises(DataError, match=re.escape(f"{path}: holds label 10")):
        load_mnist("test", small_dir)


def assert_missing_message(message: str, folder: Path) -> None:
    assert "\n" not in message
    assert str(folder) in message
    assert str(folder / "MNIST" / "raw") in message
    for name in ALL_NAMES:
        assert name in message
    assert "--data-dir" in message and "FUNDIFF_DATA" in message


def test_missing_folder_without_download(tmp_path: Path) -> None:
    folder = tmp_path / "nowhere"
    with pytest.raises(DataError) as info:
        load_mnist("train", folder, download=False)
    assert_missing_message(str(info.value), folder)
    assert "download=False" in str(info.value)
    assert not folder.exists()  # nothing created


def test_partial_folder_without_download(small_dir: Path) -> None:
    (small_dir / FILES["train"][1]).unlink()
    before = snapshot(small_dir)
    with pytest.raises(DataError) as info:
        load_mnist("test", small_dir, download=False)  # the test split is complete, yet...
    assert_missing_message(str(info.value), small_dir)
    assert snapshot(small_dir) == before


def test_errors_are_not_cached(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        load_mnist("test", tmp_path, download=False)
    written = write_mnist(tmp_path)
    assert torch.equal(load_mnist("test", tmp_path, download=False)[1], written["test"][1])


# --------------------------------------------------------------------------- download path


def test_download_offline_with_torchvision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real torchvision download code against a refused local port: offline, fails fast."""
    from torchvision.datasets import mnist as tv_mnist

    monkeypatch.setattr(tv_mnist.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    folder = tmp_path / "empty"
    timeout_before = socket.getdefaulttimeout()
    with pytest.raises(DataError) as info:
        load_mnist("test", folder, download=True)
    assert_missing_message(str(info.value), folder)
    assert "downloading them failed" in str(info.value)
    assert socket.getdefaulttimeout() == timeout_before  # restored


@pytest.mark.parametrize(
    "error", [URLError("no network"), OSError("unreachable"), RuntimeError("bad md5")]
)
def test_download_failure_is_data_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def failing_mnist(**kwargs: object) -> None:
        raise error

    monkeypatch.setattr("torchvision.datasets.mnist.MNIST", failing_mnist)
    with pytest.raises(DataError) as info:
        load_mnist("train", tmp_path)
    assert_missing_message(str(info.value), tmp_path)
    assert type(error).__name__ in str(info.value)


def test_download_success_reads_torchvision_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, object]] = []

    def fake_mnist(*, root: str, train: bool, download: bool) -> None:
        calls.append({"root": root, "train": train, "download": download})
        write_mnist(Path(root) / "MNIST" / "raw", n_train=4, n_test=5, gz=True, seed=7)

    monkeypatch.setattr("torchvision.datasets.mnist.MNIST", fake_mnist)
    images, labels = load_mnist("test", tmp_path)
    assert calls == [{"root": str(tmp_path.resolve()), "train": False, "download": True}]
    expected_images, expected_labels = random_split(5, 8)
    assert torch.equal(images, expected_images) and torch.equal(labels, expected_labels)
    assert load_mnist("train", tmp_path)[0].shape == (4, 28, 28)  # no second download
    assert len(calls) == 1


def test_download_that_produces_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("torchvision.datasets.mnist.MNIST", lambda **kwargs: None)
    with pytest.raises(DataError, match="did not produce") as info:
        load_mnist("test", tmp_path)
    assert_missing_message(str(info.value), tmp_path)


def test_module_constants() -> None:
    assert FILES == {
        "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    assert issubclass(data.DataError, Exception)

"""MNIST handwritten digits, loaded once per process as uint8 tensors.

The data set is MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges,
distributed under the Creative Commons Attribution-Share Alike 3.0 licence
(CC BY-SA 3.0). This module never ships the data: it reads the four standard IDX
files from a folder the user names, and asks torchvision to download them only
when they are missing and ``download=True``.

Folder lookup (:func:`resolve_data_dir`): the ``data_dir`` argument if given, else
the ``FUNDIFF_DATA`` environment variable, else ``~/.cache/fundiff/data``. A relative
``FUNDIFF_DATA`` means the folder it was typed in (the shell's ``$PWD``), also inside
a notebook kernel or a subprocess started elsewhere; :func:`pin_data_env` writes it
back absolute before the commands and the docs build start one. Inside
that folder the files may sit directly, or under ``MNIST/raw`` (the layout
``torchvision.datasets.MNIST`` writes); each may be plain or gzip-compressed.

Every file's IDX header is checked before parsing, so a wrong, truncated or corrupt
file raises :class:`DataError` with a one-line message naming the file, instead of
an ``AssertionError`` from deep inside torchvision. No per-sample PIL transforms
are involved: :func:`load_mnist` returns whole-split tensors.

Longer than 300 lines because it is one concept, getting MNIST's four files into
tensors, with one entry point (:func:`load_mnist`); finding the folder, checking each
IDX header, reading, downloading and caching are its stages, and each stage's error
messages name what the earlier stages found (the folder, the file shown), so splitting
them would spread one message across modules.

Example:
    >>> images, labels = load_mnist("train", "../shared/data")  # doctest: +SKIP
    >>> images.shape, images.dtype, labels.shape, labels.dtype  # doctest: +SKIP
    (torch.Size([60000, 28, 28]), torch.uint8, torch.Size([60000]), torch.int64)
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import os
import shutil
import socket
import struct
import tempfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # torch and torchvision are imported lazily to keep `import` fast.
    from collections.abc import Callable

    import torch

__all__ = [
    "FILES",
    "DEFAULT_DATA_DIR",
    "ENV_VAR",
    "DataError",
    "clear_cache",
    "find_raw_dir",
    "load_mnist",
    "resolve_data_dir",
]

FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""Split name -> (images basename, labels basename), without any ``.gz`` suffix."""

ENV_VAR = "FUNDIFF_DATA"
"""Environment variable naming the data folder when no ``data_dir`` is passed."""

DEFAULT_DATA_DIR = "~/.cache/fundiff/data"
"""Data folder used when neither ``data_dir`` nor ``$FUNDIFF_DATA`` is given."""

_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
_SIDE = 28
_CACHE_SIZE = 8  # (split, folder) pairs kept; the full train split is ~47 MB of uint8

# Seconds a single socket operation may block during a download. On the machine
# this was written on (no network), torchvision's download fails in ~25 ms (DNS
# lookup error), but a network that silently drops packets would otherwise let
# urllib block with no timeout at all. Applied only when no process-wide default
# timeout is set, and restored afterwards.
_DOWNLOAD_SOCKET_TIMEOUT_S = 30.0


class DataError(Exception):
    """Raised for missing, truncated or malformed MNIST files.

    Its ``str()`` is one line that says what was wrong (naming the file or folder)
    and what to do about it.
    """


class _MissingFilesError(DataError):
    """The folder holds no complete set of the four IDX files (internal)."""


def _all_names() -> list[str]:
    return [name for pair in FILES.values() for name in pair]


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder to look for MNIST in.

    Args:
        data_dir: Folder named by the caller. ``None`` means: use ``$FUNDIFF_DATA``
            if set and non-empty, else ``~/.cache/fundiff/data``.

    Returns:
        The folder with ``~`` expanded (``data_dir`` as given, not necessarily absolute; not
        checked to exist).
    """
    if data_dir is None:
        env = os.environ.get(ENV_VAR)
        return _from_env(env) if env else Path(DEFAULT_DATA_DIR).expanduser()
    return Path(data_dir).expanduser()


def _from_env(value: str) -> Path:
    """``$FUNDIFF_DATA``'s folder: a relative one against the folder the user typed it in."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    typed_in = os.environ.get("PWD", "")  # the shell's folder, kept when Jupyter starts a kernel
    base = Path(typed_in) if os.path.isabs(typed_in) and os.path.isdir(typed_in) else Path.cwd()
    return base / path


def pin_data_env() -> None:
    """Write a relative ``$FUNDIFF_DATA`` back as an absolute path (see :func:`resolve_data_dir`).

    Called once by the commands and the docs build before they start a kernel or a
    subprocess in another folder, which then reads the folder the user meant.
    """
    value = os.environ.get(ENV_VAR)
    if value:
        os.environ[ENV_VAR] = str(_from_env(value))


def _locate(folder: Path, name: str) -> Path | None:
    """``folder/name`` if it is a file, else ``folder/name.gz`` if that is, else None."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def find_raw_dir(root: Path) -> Path | None:
    """Find the folder that holds the four MNIST IDX files.

    Args:
        root: Folder to search. Checked first itself, then ``root/MNIST/raw``
            (torchvision's layout). Each file may be plain or ``.gz``.

    Returns:
        ``root`` or ``root/"MNIST"/"raw"``, whichever holds all four files, or
        ``None`` if neither does.
    """
    root = Path(root)
    for folder in (root, root / "MNIST" / "raw"):
        if all(_locate(folder, name) is not None for name in _all_names()):
            return folder
    return None


def _missing_message(folder: Path, why: str) -> str:
    names = ", ".join(_all_names())
    return (
        f"MNIST not found in {folder} (nor in {folder / 'MNIST' / 'raw'}): expected the four "
        f"IDX files {names} (each plain or .gz){'; ' + why if why else ''}; copy the four "
        "IDX files there, "
        f"or pass --data-dir DIR / set {ENV_VAR}=DIR"
    )


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_idx(path: Path, shown: Path, *, images: bool) -> int:
    """Validate the IDX header and body length of an uncompressed file.

    Args:
        path: The uncompressed file to check.
        shown: The path to name in error messages (the ``.gz`` file for compressed input).
        images: True for an images file (magic 2051, N x 28 x 28), False for labels
            (magic 2049, N).

    Returns:
        The item count N from the header.

    Raises:
        DataError: Wrong magic number, short header, wrong image size, zero items,
            or a body whose length differs from what the header promises.
    """
    magic_want = _IMAGES_MAGIC if images else _LABELS_MAGIC
    what = "images" if images else "labels"
    header_len = 16 if images else 8
    size = path.stat().st_size
    with path.open("rb") as f:
        header = f.read(header_len)
    if len(header) < 4:
        raise DataError(
            f"{shown}: only {size} bytes, too short for an IDX header; re-copy or re-download it"
        )
    (magic,) = struct.unpack(">i", header[:4])
    if magic != magic_want:
        raise DataError(
            f"{shown}: not an MNIST {what} file: magic number is {magic}, expected "
            f"{magic_want}; check the file name or re-download it"
        )
    if len(header) < header_len:
        raise DataError(
            f"{shown}: only {size} bytes, too short for the {header_len}-byte IDX {what} "
            "header; re-copy or re-download it"
        )
    dims = struct.unpack(">III", header[4:]) if images else struct.unpack(">I", header[4:])
    count = dims[0]
    if images and dims[1:] != (_SIDE, _SIDE):
        raise DataError(
            f"{shown}: images are {dims[1]}x{dims[2]}, MNIST images are {_SIDE}x{_SIDE}; "
            "use the original MNIST files"
        )
    if count == 0:
        raise DataError(f"{shown}: header says the file holds 0 {what}; re-copy or re-download it")
    shape = "x".join(str(d) for d in dims)
    want = count * _SIDE * _SIDE if images else count
    have = size - header_len
    if have < want:
        raise DataError(
            f"{shown}: truncated: header promises {shape} = {want} bytes of data, file has "
            f"{have} after the {header_len}-byte header; re-copy or re-download it"
        )
    if have > want:
        raise DataError(
            f"{shown}: too long: header promises {shape} = {want} bytes of data, file has "
            f"{have} after the {header_len}-byte header; re-copy or re-download it"
        )
    return count


def _read_idx(path: Path, *, images: bool) -> torch.Tensor:
    """Validate and read one IDX file (plain or ``.gz``) with torchvision's reader.

    Args:
        path: The file, plain or ending in ``.gz``.
        images: True for an images file, False for a labels file.

    Returns:
        Images uint8 (N, 28, 28) if ``images`` else labels int64 (N,).

    Raises:
        DataError: The file is unreadable, corrupt or malformed (message names it).
    """
    from torchvision.datasets import mnist as tv_mnist

    reader = tv_mnist.read_image_file if images else tv_mnist.read_label_file
    try:
        if path.suffix != ".gz":
            _check_idx(path, path, images=images)
            return _call_reader(reader, path, path)
        # torchvision's readers want an uncompressed path: decompress outside the data
        # folder (which is never written to) and read from there.
        with tempfile.TemporaryDirectory(prefix="fundiff-mnist-") as tmp:
            plain = Path(tmp) / path.stem
            try:
                with gzip.open(path, "rb") as src, plain.open("wb") as dst:
                    shutil.copyfileobj(src, dst, length=1 << 20)
            except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
                reason = _one_line(str(exc) or type(exc).__name__)
                raise DataError(
                    f"{path}: corrupt gzip stream ({reason}); re-copy or re-download it"
                ) from exc
            _check_idx(plain, path, images=images)
            return _call_reader(reader, plain, path)
    except DataError:
        raise
    except OSError as exc:  # unreadable file, no space for the temporary copy, ...
        reason = f"{type(exc).__name__}: {_one_line(str(exc))}"
        raise DataError(f"{path}: cannot read it ({reason}); check the file") from exc


def _call_reader(reader: Callable[[str], torch.Tensor], path: Path, shown: Path) -> torch.Tensor:
    try:
        return reader(str(path))
    except (AssertionError, ValueError, TypeError, RuntimeError) as exc:  # header checked already
        raise DataError(
            f"{shown}: torchvision could not parse it "
            f"({_one_line(str(exc) or type(exc).__name__)}); re-copy or re-download it"
        ) from exc


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _load_cached(split: str, folder: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Read one split from an absolute folder; cached on (split, folder)."""
    raw = find_raw_dir(Path(folder))
    if raw is None:
        raise _MissingFilesError(_missing_message(Path(folder), ""))
    images_name, labels_name = FILES[split]
    images_path = _locate(raw, images_name)
    labels_path = _locate(raw, labels_name)
    assert images_path is not None and labels_path is not None  # find_raw_dir checked
    images = _read_idx(images_path, images=True)
    labels = _read_idx(labels_path, images=False)
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels; both must come from the same MNIST split, re-copy them"
        )
    if labels.numel() and int(labels.max()) > 9:
        raise DataError(
            f"{labels_path}: holds label {int(labels.max())}, MNIST labels are 0..9; "
            "re-copy or re-download it"
        )
    return images, labels


def _download(folder: Path, split: str) -> None:
    """Let torchvision download MNIST into ``folder/MNIST/raw``; DataError on any failure."""
    from torchvision.datasets import mnist as tv_mnist

    previous = socket.getdefaulttimeout()
    if previous is None:
        socket.setdefaulttimeout(_DOWNLOAD_SOCKET_TIMEOUT_S)
    # torchvision makes folder/MNIST/raw before it downloads; a failed download
    # removes the (empty) folders it made, so a mistyped --data-dir leaves no trace.
    raw = folder.absolute() / "MNIST" / "raw"
    made = [p for p in (raw, *raw.parents) if not p.exists()][::-1]  # outermost first
    try:
        tv_mnist.MNIST(root=str(folder), train=split == "train", download=True)
    except Exception as exc:  # offline: URLError, OSError, RuntimeError, bad MD5, ...
        for p in reversed(made):
            with contextlib.suppress(OSError):
                p.rmdir()  # only if still empty
        why = f"downloading them failed ({type(exc).__name__}: {_one_line(str(exc), 160)})"
        raise DataError(_missing_message(folder, why)) from exc
    finally:
        socket.setdefaulttimeout(previous)


def load_mnist(
    split: Literal["train", "test"],
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load one MNIST split as whole tensors, reading the files once per process.

    The result is cached in-process on ``(split, absolute folder)`` with
    :func:`functools.lru_cache` (the 8 most recent pairs), so a second call with the
    same split and folder returns the very same tensor objects at no cost. Callers
    must therefore not modify them in place (``images.float() / 255`` and similar make
    new tensors and are fine; ``images[0] = 0`` or ``labels.add_(1)`` would corrupt
    every later caller's data). Call :func:`clear_cache` (also reachable as
    ``load_mnist.cache_clear()``) to drop the cached tensors. Errors are not cached.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        data_dir: Folder holding the IDX files directly or under ``MNIST/raw``;
            ``None`` means ``$FUNDIFF_DATA`` or ``~/.cache/fundiff/data``
            (see :func:`resolve_data_dir`).
        download: If the files are missing, let ``torchvision.datasets.MNIST``
            download them into ``data_dir/MNIST/raw``. Nothing else is ever written.

    Returns:
        ``(images, labels)``: images uint8 of shape (N, 28, 28) with values 0..255,
        labels int64 of shape (N,) with values 0..9.

    Raises:
        ValueError: ``split`` is neither ``"train"`` nor ``"test"``.
        DataError: Files missing (and not downloadable), truncated, corrupt, or
            inconsistent; the message names the file or folder and what to do.
    """
    if split not in FILES:
        raise ValueError(f"split must be one of {sorted(FILES)}, got {split!r}")
    folder = resolve_data_dir(data_dir).resolve()
    try:
        return _load_cached(split, str(folder))
    except _MissingFilesError:
        if not download:
            raise DataError(
                _missing_message(folder, "not downloading them (download=False)")
            ) from None
    _download(folder, split)
    try:
        return _load_cached(split, str(folder))
    except _MissingFilesError:
        raise DataError(
            _missing_message(folder, "torchvision's download did not produce them")
        ) from None


def clear_cache() -> None:
    """Drop every split cached by :func:`load_mnist` (e.g. after replacing files)."""
    _load_cached.cache_clear()


load_mnist.cache_clear = clear_cache  # type: ignore[attr-defined]

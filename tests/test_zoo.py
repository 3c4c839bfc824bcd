"""Zoo: specs hash what matters, the first load trains and caches, the second reads the cache."""

from __future__ import annotations

import json
import multiprocessing as mp
import os

import pytest
import torch

from nngeom.core import zoo

TINY = dict(epochs=1, train_limit=600, batch_size=100)


def test_spec_key_depends_on_recipe_not_description():
    base = zoo.spec("mnist-mlp-200-200")
    assert zoo.spec("mnist-mlp-200-200").key() == base.key()
    assert zoo.spec("mnist-mlp-200-200", epochs=base.epochs + 1).key() != base.key()
    assert zoo.spec("mnist-mlp-200-200", seed=1).key() != base.key()


def test_profile_overrides_apply():
    smoke = zoo.spec("mnist-mlp-200-200", profile="smoke")
    assert smoke.epochs == 1 and smoke.train_limit == 5000
    assert smoke.key() != zoo.spec("mnist-mlp-200-200").key()


def test_further_training_runs_are_the_recipe_with_another_seed():
    base = zoo.spec("mnist-mlp-200-200", profile="smoke")
    assert zoo.run_names("mnist-mlp-200-200", 3) == [
        "mnist-mlp-200-200",
        "mnist-mlp-200-200@run1",
        "mnist-mlp-200-200@run2",
    ]
    run2 = zoo.spec("mnist-mlp-200-200@run2", profile="smoke")  # the profile's overrides apply to runs too
    assert run2.name == "mnist-mlp-200-200@run2" and run2.seed == base.seed + 2
    assert run2.epochs == base.epochs and run2.train_limit == base.train_limit and run2.key() != base.key()
    assert zoo.spec("mnist-mlp-200-200@run1").key() != zoo.spec("mnist-mlp-200-200@run2").key()
    pool = zoo.spec("mnist-fc100-100-10-advpool-l2@run1", profile="smoke")  # a profile changing trainer_kwargs
    assert pool.trainer_kwargs == zoo.spec("mnist-fc100-100-10-advpool-l2", profile="smoke").trainer_kwargs
    for bad in ("mnist-mlp-200-200@run0", "mnist-mlp-200-200@run", "nope@run1"):
        with pytest.raises(ValueError, match="unknown model"):
            zoo.spec(bad)
    with pytest.raises(ValueError, match="'runs' must be an int >= 1"):
        zoo.run_names("mnist-mlp-200-200", 0)


def test_bad_names_and_overrides_are_rejected():
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        zoo.spec("nope")
    with pytest.raises(ValueError, match="cannot override"):
        zoo.spec("mnist-mlp-200-200", arch="cnn")


def test_first_load_trains_second_load_reads_cache(tmp_model_cache, monkeypatch):
    m1 = zoo.load("mnist-mlp-200-200", device="cpu", progress=False, **TINY)
    s = zoo.spec("mnist-mlp-200-200", **TINY)
    entry = zoo.entry_dir(s)
    meta = json.loads((entry / "meta.json").read_text())
    assert (entry / "weights.pt").exists()
    assert meta["key"] == s.key() and meta["n_train"] == 600
    assert 0.5 < meta["test_accuracy"] <= 1.0  # a real MNIST model after one epoch on 600 images
    assert meta["train_seconds"] > 0

    def no_training(*args, **kwargs):
        raise AssertionError("the second load must not train")

    monkeypatch.setattr(zoo, "_train", no_training)
    m2 = zoo.load("mnist-mlp-200-200", device="cpu", progress=False, **TINY)
    for (k1, v1), (k2, v2) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    assert m2.nngeom_meta["test_accuracy"] == meta["test_accuracy"]


def test_initial_gives_the_weights_training_started_from(tmp_model_cache, monkeypatch):
    seen = {}

    def record(s, model, *args, **kwargs):  # stands in for training: keep the weights it was handed
        seen.update({k: v.clone() for k, v in model.state_dict().items()})
        raise RuntimeError("stop after recording")

    monkeypatch.setattr(zoo, "_fit", record)
    with pytest.raises(RuntimeError, match="stop after recording"):
        zoo.load("mnist-c-2", device="cpu", progress=False, **TINY)
    start = zoo.initial("mnist-c-2", device="cpu", **TINY).state_dict()
    assert seen and set(seen) == set(start)
    assert all(torch.equal(seen[k], start[k]) for k in start)
    other = zoo.initial("mnist-c-2", device="cpu", seed=1, **TINY).state_dict()
    assert not all(torch.equal(other[k], start[k]) for k in start)


def test_training_is_deterministic(tmp_path, monkeypatch):
    accs = []
    for run in range(2):
        monkeypatch.setenv("NNGEOM_CACHE", str(tmp_path / f"c{run}"))
        accs.append(zoo.load("mnist-mlp-200-200", device="cpu", progress=False, **TINY).nngeom_meta["test_accuracy"])
    assert accs[0] == accs[1]


def test_interrupted_training_leaves_nothing(tmp_model_cache, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(zoo, "train_classifier", interrupted)
    with pytest.raises(KeyboardInterrupt):
        zoo.load("mnist-mlp-200-200", device="cpu", progress=False, **TINY)
    leftovers = [p for p in tmp_model_cache.iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def _load_in_child(cache: str, queue) -> None:
    os.environ["NNGEOM_CACHE"] = cache
    trained = []
    original = zoo._train

    def counting(*args, **kwargs):
        trained.append(1)
        return original(*args, **kwargs)

    zoo._train = counting
    zoo.load("mnist-mlp-200-200", device="cpu", progress=False, **TINY)
    queue.put(len(trained))


def test_two_processes_train_once(tmp_model_cache):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_load_in_child, args=(str(tmp_model_cache), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    counts = sorted(queue.get(timeout=5) for _ in procs)
    assert counts == [0, 1]


def test_describe_says_whether_early_stopping_ended_the_training():
    spec = {"arch": "mlp", "arch_kwargs": {}, "epochs": 30, "optimizer": "adam", "lr": 1e-3, "batch_size": 128,
            "trainer_kwargs": {"validation": 5000, "patience": 3}}  # fmt: skip
    model = torch.nn.Linear(2, 2)

    def described(held_out: list[float]) -> str:
        history = [{"epoch": i + 1, "val_accuracy": a} for i, a in enumerate(held_out)]
        model.nngeom_meta = {"name": "net", "spec": spec, "history": history, "n_train": 60000, "test_accuracy": 0.9}
        return zoo.describe(model)

    stopped = described([0.5, 0.7, 0.6, 0.6, 0.6])
    assert "stopped early after 5 of at most 30 epochs" in stopped and "epoch 2 kept" in stopped
    ran = described([0.5 + i / 100 for i in range(30)])
    assert "all 30 epochs with early stopping, which did not trigger" in ran and "epoch 30 kept" in ran
    assert "stopped early" not in ran

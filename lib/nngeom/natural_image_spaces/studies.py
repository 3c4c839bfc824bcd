"""Table 1 of the paper as a study: retrain a network from scratch on unions of subgroups of the training
set, without and with the extra noise class, several runs each, and collect Table 1's columns.

:func:`table1_training_sets` names the paper's 13 training sets (the four unions ``S^p_{lc|hc} ∪ S^p_{li|hi}``
for each ``p``, and the whole set ``S^1``); :func:`retrain_on_subsets` trains and evaluates every (set,
noise, run) and keeps each result in its own small file, written atomically, so an interrupted study
resumes where it stopped; :func:`table1_summary` averages the runs into the table.

Example:
    >>> sets = table1_training_sets(rank_samples(train_probabilities, y_train), percents=(25, 50))
    >>> rows = retrain_on_subsets(lambda n_out: make_net(n_out), (x_train, y_train), (x_test, y_test),
    ...                           sets, n_classes=10, runs=5, epochs=6, batch_size=128, lr=1e-3)
    >>> table1_summary(rows)  # one row per (set, noise): A, sigma_A, P_c, P_i, P_g, N
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from nngeom.core.io import atomic_path, atomic_write_json
from nngeom.core.parallel import run_jobs
from nngeom.core.stats import Decision, interval_above, run_mean_difference
from nngeom.core.training import train_classifier
from nngeom.core.validation import check_positive_int
from nngeom.natural_image_spaces.statistics import SampleRecorder, SampleStatistics
from nngeom.natural_image_spaces.subgroups import NoiseClass, Ranking, subgroup, table1_metrics

__all__ = [
    "ALL_SET",
    "TABLE1_UNIONS",
    "table1_training_sets",
    "retrain_on_subsets",
    "table1_summary",
    "RecordedRun",
    "recorded_training",
    "with_and_without_illusive",
    "illusive_pairs",
    "overfitting_drop",
    "less_overfitting",
    "fgsm_accuracies",
    "ConfusionSlices",
    "confusion_slices",
    "ConfusionClassRun",
    "confusion_class_runs",
]

#: The four unions of each percentage, in the paper's row order: (correct part, misclassified part).
TABLE1_UNIONS = (("lc", "li"), ("lc", "hi"), ("hc", "li"), ("hc", "hi"))
#: The name of the whole training set's row.
ALL_SET = "S^1 (all)"


def table1_training_sets(ranking: Ranking, percents: Sequence[float] = (25, 50, 75)) -> dict[str, Tensor]:
    """The training sets of Table 1 in the paper's order: for each ``p`` of ``percents`` the unions
    ``S^p_a ∪ S^p_b`` of :data:`TABLE1_UNIONS` (see :func:`nngeom.natural_image_spaces.subgroups.subgroup`),
    then :data:`ALL_SET`, every ranked sample. Name -> indices into the ranked set (sorted)."""
    if not percents:
        raise ValueError("parameter 'percents' must name at least one percentage")
    sets: dict[str, Tensor] = {}
    for p in percents:
        for a, b in TABLE1_UNIONS:
            idx = torch.cat([subgroup(ranking, a, p), subgroup(ranking, b, p)])
            sets[f"S_{a}^{p:g} ∪ S_{b}^{p:g}"] = torch.sort(idx).values
    sets[ALL_SET] = torch.arange(len(ranking.correct))
    return sets


def _probabilities(model: nn.Module, x: Tensor, batch_size: int = 256) -> Tensor:
    dev = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        return torch.cat([torch.softmax(model(x[i : i + batch_size].to(dev)).float(), 1).cpu()
                          for i in range(0, len(x), batch_size)])  # fmt: skip


def _retrain_one(
    build_model: Callable[[int], nn.Module],
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    *,
    n_classes: int,
    with_noise: bool,
    seed: int,
    epochs: int,
    batch_size: int,
    lr: float,
    noise_ratio: int,
    value_range: tuple[float, float],
    device: torch.device | None,
    record: dict[str, Any],
    path: Path | None,
) -> dict[str, Any]:
    """One (set, noise, run) of :func:`retrain_on_subsets`: train, measure, keep the result (module level, so
    that worker processes can run it)."""
    torch.manual_seed(seed)
    model = build_model(n_classes + int(with_noise))
    if device is not None:
        model = model.to(device)
    transform = NoiseClass(label=n_classes, ratio=noise_ratio, value_range=value_range) if with_noise else None
    train_classifier(model, train, test, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device,
                     progress=False, batch_transform=transform)  # fmt: skip
    m = table1_metrics(_probabilities(model, test[0]), test[1], noise_label=n_classes if with_noise else None)
    rec = {**record, **m}
    if path is not None:
        atomic_write_json(path, rec)
    return rec


def retrain_on_subsets(
    build_model: Callable[[int], nn.Module],
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    sets: dict[str, Tensor],
    *,
    n_classes: int,
    runs: int,
    epochs: int,
    batch_size: int,
    lr: float,
    noise: Sequence[bool] = (False, True),
    noise_ratio: int = 5,
    value_range: tuple[float, float] = (0.0, 1.0),
    seed: int = 0,
    device: torch.device | None = None,
    cache_dir: Path | None = None,
    recipe: dict[str, Any] | None = None,
    workers: int = 1,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train a fresh network on each training set of ``sets`` (name -> indices into ``train``), for each
    ``noise`` setting and each of ``runs`` runs, and measure Table 1's columns on ``test``.

    ``build_model(n_outputs)`` returns a new untrained network (``n_classes`` outputs, or ``n_classes + 1``
    with the noise class, whose label is ``n_classes``); run ``r`` seeds it, and the batch order, with
    ``seed + r``. With noise every batch gets ``noise_ratio`` times as many uniform-noise images in
    ``value_range`` (:class:`nngeom.natural_image_spaces.subgroups.NoiseClass`). Training is
    :func:`nngeom.core.training.train_classifier` with Adam for ``epochs`` epochs.

    ``workers``: processes that train at once, one thread each (:func:`nngeom.core.parallel.run_jobs`; the
    small networks of Table 1 use a second core better this way than as a second thread of one training).
    ``build_model`` is then sent to them and must pickle: a :class:`nngeom.core.models.Builder`, not a lambda.
    Every run is seeded on its own, so the results do not depend on which worker trains it; they can differ
    from a run with another number of threads in the last digits of a float sum.

    ``cache_dir``: where each result is kept (one JSON file per set, noise and run, written atomically as
    soon as it is done), under a key of the training recipe and ``recipe`` (what else determines the result:
    the base model, the data); results already there are read instead of recomputed, so an interrupted study
    resumes.

    Returns one record per (set, noise, run), in that order: ``training_set``, ``noise``, ``run``,
    ``n_train`` and the columns of :func:`nngeom.natural_image_spaces.subgroups.table1_metrics` (shares in
    [0, 1]).
    """
    check_positive_int("runs", runs)
    check_positive_int("n_classes", n_classes)
    check_positive_int("workers", workers)
    x, y = train
    n = len(y)
    for name, idx in sets.items():
        if len(idx) == 0 or int(idx.min()) < 0 or int(idx.max()) >= n:
            raise ValueError(f"parameter 'sets': {name!r} must be non-empty indices into the {n} training samples")
    key = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "noise_ratio": noise_ratio,
           "value_range": list(value_range), "seed": seed, "n_classes": n_classes, **(recipe or {})}  # fmt: skip
    folder = None
    if cache_dir is not None:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
        folder = Path(cache_dir) / f"table1-{digest}"
    records: list[dict[str, Any] | None] = []
    todo: list[tuple[int, Tensor, dict]] = []  # (position in records, indices, kwargs) of the runs not cached
    for name in sets:
        idx = sets[name]
        slug = hashlib.sha256(f"{name}|{idx.tolist()}".encode()).hexdigest()[:12]
        for with_noise in noise:
            for r in range(runs):
                path = folder / f"{slug}-{'noise' if with_noise else 'plain'}-run{r}.json" if folder else None
                if path is not None and path.is_file():
                    records.append(json.loads(path.read_text()))
                    continue
                record = {"training_set": name, "noise": with_noise, "run": r, "n_train": len(idx)}
                kwargs = dict(n_classes=n_classes, with_noise=with_noise, seed=seed + r, epochs=epochs,
                              batch_size=batch_size, lr=lr, noise_ratio=noise_ratio, value_range=value_range,
                              device=device, record=record, path=path)  # fmt: skip
                todo.append((len(records), idx, kwargs))
                records.append(None)
    # a generator, so that a job's training images are copied out only while it is pending (run_jobs holds a
    # few at a time): at the paper's scale every job's copy at once would not fit in memory
    jobs = (((build_model, (x[idx], y[idx]), test), kwargs) for _, idx, kwargs in todo)
    done = run_jobs(_retrain_one, jobs, workers=workers, total=len(todo),
                    progress=progress, desc=f"retraining on subsets ({len(records) - len(todo)} cached)")  # fmt: skip
    for (position, _, _), rec in zip(todo, done):
        records[position] = rec
    return records  # type: ignore[return-value]


def table1_summary(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Average :func:`retrain_on_subsets` records over the runs, per (set, noise), in their first-seen order:
    ``A``, ``sigma_A`` (standard deviation over the runs), ``P_c``, ``P_i``, ``P_g`` in %, ``N`` the mean count,
    ``runs``, ``n_train``. A mean over runs skips a run's NaN (a run with no misclassified test sample has no
    ``P_i``)."""
    groups: dict[tuple[str, bool], list[dict[str, Any]]] = {}
    for rec in records:
        groups.setdefault((rec["training_set"], bool(rec["noise"])), []).append(rec)

    def mean(recs: list[dict[str, Any]], col: str) -> float:
        v = [r[col] for r in recs if not math.isnan(r[col])]
        return sum(v) / len(v) if v else math.nan

    out = []
    for (name, with_noise), recs in groups.items():
        acc = torch.tensor([r["A"] for r in recs], dtype=torch.float64)
        out.append({"training_set": name, "noise": with_noise, "runs": len(recs), "n_train": recs[0]["n_train"],
                    "A": 100 * float(acc.mean()), "sigma_A": 100 * float(acc.std(unbiased=True)) if len(acc) > 1
                    else math.nan, "P_c": 100 * mean(recs, "P_c"), "P_i": 100 * mean(recs, "P_i"),
                    "P_g": 100 * mean(recs, "P_g"), "N": mean(recs, "N")})  # fmt: skip
    return out


@dataclass
class RecordedRun:
    """Result of :func:`recorded_training`: the per-sample statistics of one training run."""

    train: SampleStatistics  # the training samples it was trained on (``keep``), in that order
    test: SampleStatistics  # the test set, evaluated after every epoch
    kept: Tensor  # [n] indices into the full training set of the samples trained on
    model: nn.Module  # the trained network, in eval mode


def recorded_training(
    build_model: Callable[[], nn.Module],
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    keep: Tensor | None = None,
    seed: int = 0,
    device: torch.device | None = None,
    cache_path: Path | None = None,
    progress: bool = True,
    desc: str = "training",
) -> RecordedRun:
    """Train ``build_model()`` (seeded with ``seed``) on the training samples ``keep`` (all if ``None``) for
    ``epochs`` epochs with Adam, recording every training sample at every epoch and the test set after
    every epoch (:class:`nngeom.natural_image_spaces.statistics.SampleRecorder`): the test-accuracy curve
    and the illusive samples of NIS-F2 come from one run.

    ``cache_path``: a file (``.pt``) holding the statistics, written atomically after the run and read
    instead of training when it exists; the caller's path must name everything that determines the run.
    """
    check_positive_int("epochs", epochs)
    x, y = train
    kept = torch.arange(len(y)) if keep is None else torch.as_tensor(keep).long()
    torch.manual_seed(seed)
    model = build_model()
    if device is not None:
        model = model.to(device)
    if cache_path is not None and Path(cache_path).is_file():
        saved = torch.load(cache_path, weights_only=False, map_location="cpu")
        model.load_state_dict(saved["state"])
        return RecordedRun(SampleStatistics(**saved["train"]), SampleStatistics(**saved["test"]), saved["kept"],
                           model.eval())  # fmt: skip
    recorder = SampleRecorder(y[kept], epochs, test=test)
    train_classifier(model, (x[kept], y[kept]), test, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                     device=device, progress=progress, desc=desc, observe=recorder.observe,
                     after_epoch=recorder.after_epoch)  # fmt: skip
    run = RecordedRun(recorder.train(), recorder.test(), kept, model.eval())
    if cache_path is not None:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        with atomic_path(cache_path) as tmp:
            torch.save({"train": vars(run.train), "test": vars(run.test), "kept": kept, "state": state}, tmp)
    return run


def _pair_paths(cache_dir: Path, threshold: float, seed: int) -> tuple[Path, Path]:
    """Where :func:`with_and_without_illusive` keeps a seed's regular run and its run without illusive samples."""
    return cache_dir / f"regular-run{seed}.pt", cache_dir / f"without-t{threshold:g}-run{seed}.pt"


def with_and_without_illusive(
    build_model: Callable[[], nn.Module],
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    *,
    threshold: float,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
    device: torch.device | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> tuple[RecordedRun, RecordedRun]:
    """One regular run (:func:`recorded_training`) and one of the same network and seed without the
    training samples the regular run misclassified in at least ``threshold`` of its epochs (the paper's
    illusive samples, section 4.3). ``cache_dir``: where both runs are kept (``regular-run<seed>.pt``,
    ``without-t<threshold>-run<seed>.pt``); it must name everything else that determines them. ``progress``:
    a bar per training run (pages that loop over runs pass ``False`` and show one bar over the runs)."""
    common = dict(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device, progress=progress)
    paths = _pair_paths(Path(cache_dir), threshold, seed) if cache_dir is not None else (None, None)
    regular = recorded_training(build_model, train, test, **common, cache_path=paths[0],
                                desc=f"regular run, seed {seed}")  # fmt: skip
    kept = torch.nonzero(~regular.train.illusive(threshold)).squeeze(1)
    cleaned = recorded_training(build_model, train, test, keep=kept, **common, cache_path=paths[1],
                                desc=f"without illusive samples, seed {seed}")  # fmt: skip
    return regular, cleaned


def _illusive_pair_to_cache(build_model: Callable[[], nn.Module], train, test, kwargs: dict[str, Any]) -> None:
    """Worker job of :func:`illusive_pairs`: run (or find) one seed's pair; it is kept in the cache."""
    with_and_without_illusive(build_model, train, test, **kwargs)


def illusive_pairs(
    build_model: Callable[[], nn.Module],
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    seeds: Sequence[int],
    *,
    threshold: float,
    epochs: int,
    batch_size: int,
    lr: float,
    cache_dir: Path,
    device: torch.device | None = None,
    workers: int = 1,
    progress: bool = True,
) -> list[tuple[RecordedRun, RecordedRun]]:
    """:func:`with_and_without_illusive` for each of ``seeds``, the seeds not yet in ``cache_dir`` trained by
    ``workers`` processes at once (one thread each; :func:`nngeom.core.parallel.run_jobs`), then every pair
    read from the cache in order. ``build_model`` must pickle when ``workers > 1`` (a
    :class:`nngeom.core.models.Builder`). A seed's runs are the same whichever worker trains them; with
    another number of threads they can differ in the last digits of a float sum. One bar over the seeds."""
    check_positive_int("workers", workers)
    if not seeds:
        raise ValueError("parameter 'seeds' must name at least one seed")
    kwargs = dict(threshold=threshold, epochs=epochs, batch_size=batch_size, lr=lr, device=device,
                  cache_dir=cache_dir, progress=False)  # fmt: skip
    cached = [all(p.is_file() for p in _pair_paths(Path(cache_dir), threshold, s)) for s in seeds]
    jobs = [((build_model, train, test, {**kwargs, "seed": s}), {}) for s, done in zip(seeds, cached) if not done]
    run_jobs(_illusive_pair_to_cache, jobs, workers=workers, total=len(jobs), progress=progress,
             desc=f"runs with and without illusive samples ({sum(cached)} cached)")  # fmt: skip
    return [with_and_without_illusive(build_model, train, test, **kwargs, seed=s) for s in seeds]


def overfitting_drop(curve: Tensor) -> float:
    """How far a test-accuracy curve ``[E]`` ends below its best epoch: ``max(curve) - curve[-1]`` (0 for a
    curve that ends at its best). The paper's over-fitting is a test accuracy that falls late in training."""
    curve = torch.as_tensor(curve, dtype=torch.float64)
    if curve.ndim != 1 or len(curve) == 0:
        raise ValueError(f"parameter 'curve' must be a non-empty 1-D tensor, got shape {tuple(curve.shape)}")
    return float(curve.max() - curve[-1])


def less_overfitting(before: Tensor, after: Tensor, alpha: float = 0.05, what: str = "") -> Decision:
    """Is over-fitting weaker ``after`` a change than ``before`` it? Both are per-run falls from the best
    epoch (:func:`overfitting_drop`). Welch's interval of ``mean(before) - mean(after)``
    (:func:`nngeom.core.stats.run_mean_difference`) at level ``alpha``: holds above 0, fails below 0. Where no
    run ``before`` fell at all there is no over-fitting to weaken, and the claim is undecided."""
    before, after = torch.as_tensor(before, dtype=torch.float64), torch.as_tensor(after, dtype=torch.float64)
    if float(before.max()) <= 0:
        return Decision(None, "no run before the change fell from its best epoch" + (f" ({what})" if what else ""),
                        criterion="undecided without over-fitting to weaken")  # fmt: skip
    d = run_mean_difference(before, after, confidence=1 - alpha)
    return interval_above(d["difference"], d["low"], d["high"], 0.0,
                          f"Welch t, {1 - alpha:.2f} interval of the fall {what}".rstrip())  # fmt: skip


def fgsm_accuracies(model: nn.Module, x: Tensor, y: Tensor, eps: Sequence[float], batch_size: int = 256) -> dict:
    """Table 2's columns for one network: the accuracy on the legitimate images ``x [N, ...]`` (labels
    ``y``) and on their FGSM adversarials at each max-norm ``eps`` (:class:`nngeom.core.attacks.FGSM`,
    untargeted, from the true labels, in the box [0, 1]), as shares: ``{"legitimate": a, 0.3: a_0.3, ...}``."""
    from nngeom.core.attacks import FGSM, succeeded

    def accuracy(images: Tensor) -> float:  # "targeted success" at the true label: classified correctly
        return float(succeeded(model, images, y, targeted=True).double().mean())

    out: dict = {"legitimate": accuracy(x)}
    for e in eps:
        out[float(e)] = accuracy(FGSM(model, eps=float(e), batch_size=batch_size)(x, y))
    return out


@dataclass
class ConfusionSlices:
    """Result of :func:`confusion_slices`: training labels with the sliced-off samples relabelled."""

    labels: Tensor  # [N] the new training labels: the original class, or C + k for a sample of slice k
    lookup: Tensor  # [C + K] the class each label stands for (the identity on the first C)
    cells: list[tuple[int, int]]  # slice k: (true class, class it is confused with), the CCM's top cells
    relabelled: Tensor  # [N] bool: the samples given a new label

    def original(self, predicted: Tensor) -> Tensor:
        """Map a network's labels (any shape, values in ``[0, C + K)``) back to the original classes."""
        return self.lookup[torch.as_tensor(predicted).long()]


def confusion_slices(stats: SampleStatistics, n_classes: int, threshold: float, top: int) -> ConfusionSlices:
    """The relabelling of the paper's last proof of concept (section 4.3): an illusive training sample
    (misclassified in at least ``threshold`` of the epochs of ``stats``) whose usual wrong class, with its
    true class, is one of the ``top`` largest off-diagonal cells of the cumulative confusion matrix gets
    the new label ``C + k`` of that cell ``k``; the look-up table maps it back to its true class. The paper
    gives neither the threshold nor the number of cells."""
    check_positive_int("top", top)
    ccm = stats.cumulative_confusion(n_classes).clone()
    ccm.fill_diagonal_(-1)
    flat = torch.argsort(ccm.flatten(), descending=True, stable=True)[:top]
    cells = [(int(i) // n_classes, int(i) % n_classes) for i in flat if ccm.flatten()[i] > 0]
    # each sample's usual wrong class: the most frequent class it was given while misclassified
    wrong = (stats.predicted >= 0) & ~stats.correct
    counts = torch.zeros(len(stats.labels), n_classes, dtype=torch.long)
    counts.scatter_add_(1, stats.predicted.clamp_min(0).T, wrong.T.long())
    usual = counts.argmax(1)
    illusive = stats.illusive(threshold)
    labels = stats.labels.clone()
    relabelled = torch.zeros(len(labels), dtype=torch.bool)
    for k, (true, confused) in enumerate(cells):
        hit = illusive & (stats.labels == true) & (usual == confused)
        labels[hit], relabelled[hit] = n_classes + k, True
    lookup = torch.cat([torch.arange(n_classes), torch.tensor([t for t, _ in cells], dtype=torch.long)])
    return ConfusionSlices(labels, lookup, cells, relabelled)


@dataclass
class ConfusionClassRun:
    """One seed and learning rate of :func:`confusion_class_runs`."""

    regular: RecordedRun  # the regular run whose CCM chose the new classes
    slices: ConfusionSlices  # its relabelling of the training set
    sliced: RecordedRun  # a network with the extra outputs, trained on the relabelled set
    separate: RecordedRun | None  # a network trained on the relabelled samples alone (their own labels), if asked

    def mapped_accuracy(self) -> Tensor:
        """``[E]`` test accuracy (%) of the sliced network after each epoch, its new classes mapped back to the
        original ones through the look-up table."""
        test = self.sliced.test
        return 100 * (self.slices.original(test.predicted) == test.labels[None, :]).double().mean(1)

    def oracle_accuracy(self, threshold: float) -> float:
        """Test accuracy (%) of the paper's test-time choice: the separate network classifies the test images the
        regular run misclassified in at least ``threshold`` of its epochs (knowing which takes their labels: an
        oracle), the regular network the rest; both at their last epoch. NaN without a separate network."""
        if self.separate is None:
            return math.nan
        regular, separate = self.regular.test, self.separate.test
        routed = torch.where(regular.illusive(threshold), separate.predicted[-1], regular.predicted[-1])
        return 100 * float((routed == regular.labels).double().mean())


#: A run of :func:`confusion_class_runs`: (outputs, or None for the builder's own; training set; its kwargs).
_Job = tuple[int | None, tuple[Tensor, Tensor], dict[str, Any]]


def _outputs(build_model: Callable[..., nn.Module], n_outputs: int | None) -> Callable[[], nn.Module]:
    """``build_model`` with ``n_outputs`` outputs (its own number for None), called without arguments."""
    return build_model if n_outputs is None else partial(build_model, n_outputs)


def _recorded_to_cache(build_model: Callable[..., nn.Module], n_outputs: int | None, train, test,
                       kwargs: dict[str, Any]) -> None:  # fmt: skip
    """Worker job of :func:`confusion_class_runs`: one recorded training, kept in its cache file."""
    recorded_training(_outputs(build_model, n_outputs), train, test, **kwargs)


def confusion_class_runs(
    build_model: Callable[..., nn.Module],
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    seeds: Sequence[int],
    *,
    n_classes: int,
    threshold: float,
    top: int,
    epochs: int,
    batch_size: int,
    lrs: Sequence[float],
    cache_dir: Callable[[float], Path],
    separate_at: Sequence[float] = (),
    device: torch.device | None = None,
    workers: int = 1,
    progress: bool = True,
) -> dict[float, list[ConfusionClassRun]]:
    """The runs of the paper's last proof of concept (section 4.3) for each learning rate of ``lrs`` and each
    of ``seeds``: a regular run (:func:`recorded_training`), its relabelling (:func:`confusion_slices` with
    ``threshold`` and ``top``), a network with ``n_classes + K`` outputs trained on the relabelled set, and, at
    the learning rates of ``separate_at``, a separate network trained on the relabelled samples alone.

    ``build_model()`` returns a fresh network with ``n_classes`` outputs and ``build_model(k)`` one with ``k``
    (a :class:`nngeom.core.models.Builder`, which pickles, when ``workers > 1``). Every run is seeded with
    its seed and kept in ``cache_dir(lr)``, a folder that must name everything else that determines it; the
    regular runs are those of :func:`with_and_without_illusive` (``regular-run<seed>.pt``), so a study that
    ran them already is reused. The runs not yet cached are trained by ``workers`` processes at once, one
    thread each (:func:`nngeom.core.parallel.run_jobs`), in two rounds: every run whose regular run exists,
    with the regular runs still missing; then the rest. Every run is then read from the cache in order.
    Returns ``{lr: [one ConfusionClassRun per seed]}``.
    """
    check_positive_int("workers", workers)
    check_positive_int("top", top)
    if not seeds:
        raise ValueError("parameter 'seeds' must name at least one seed")
    if not lrs:
        raise ValueError("parameter 'lrs' must name at least one learning rate")
    unknown = [step for step in separate_at if step not in lrs]
    if unknown:
        raise ValueError(f"parameter 'separate_at' must name learning rates of 'lrs' {list(lrs)}, got {unknown}")
    x, y = train

    def common(step: float, seed: int) -> dict[str, Any]:
        return dict(epochs=epochs, batch_size=batch_size, lr=step, seed=seed, device=device, progress=False)

    def paths(step: float, seed: int) -> tuple[Path, Path, Path]:
        """Where a seed's regular, sliced and separate runs are kept (the regular one as the pair studies keep it)."""
        folder, slug = Path(cache_dir(step)), f"t{threshold:g}-k{top}"
        return (
            _pair_paths(folder, threshold, seed)[0],
            folder / f"sliced-{slug}-run{seed}.pt",
            folder / f"separate-{slug}-run{seed}.pt",
        )

    def runs(step: float, seed: int, only_missing: bool) -> tuple[RecordedRun, ConfusionSlices, list[_Job]]:
        """A seed's regular run (read from the cache), its slices, and its sliced (and separate) runs' jobs."""
        regular_path, sliced_path, separate_path = paths(step, seed)
        regular = recorded_training(build_model, train, test, **common(step, seed), cache_path=regular_path)
        slices = confusion_slices(regular.train, n_classes, threshold, top)
        jobs: list[_Job] = [
            (n_classes + len(slices.cells), (x, slices.labels), {**common(step, seed), "cache_path": sliced_path})
        ]
        if step in separate_at and bool(slices.relabelled.any()):
            keep = torch.nonzero(slices.relabelled)[:, 0]
            jobs.append((None, (x, y), {**common(step, seed), "keep": keep, "cache_path": separate_path}))
        return regular, slices, [j for j in jobs if not (only_missing and j[2]["cache_path"].is_file())]

    def dependent_jobs(step: float, seed: int) -> list[_Job]:
        _, sliced_path, separate_path = paths(step, seed)
        if sliced_path.is_file() and (step not in separate_at or separate_path.is_file()):
            return []  # no need to read the regular run
        return runs(step, seed, only_missing=True)[2]

    def run_round(todo: list[_Job], desc: str) -> None:
        jobs = (((build_model, n_out, train_set, test, kwargs), {}) for n_out, train_set, kwargs in todo)
        run_jobs(_recorded_to_cache, jobs, workers=workers, total=len(todo), progress=progress, desc=desc)

    pairs = [(step, seed) for step in lrs for seed in seeds]
    missing = [(step, seed) for step, seed in pairs if not paths(step, seed)[0].is_file()]
    run_round([(None, train, {**common(step, seed), "cache_path": paths(step, seed)[0]}) for step, seed in missing]
              + [job for pair in pairs if pair not in missing for job in dependent_jobs(*pair)],
              f"confusion-class runs, round 1 of 2 ({len(pairs) - len(missing)} regular runs cached)")  # fmt: skip
    run_round([job for pair in missing for job in dependent_jobs(*pair)], "confusion-class runs, round 2 of 2")

    out: dict[float, list[ConfusionClassRun]] = {}
    for step, seed in pairs:  # every run is cached now: read them in order
        regular, slices, jobs = runs(step, seed, only_missing=False)
        done = [
            recorded_training(_outputs(build_model, n_out), train_set, test, **kwargs)
            for n_out, train_set, kwargs in jobs
        ]
        out.setdefault(step, []).append(ConfusionClassRun(regular, slices, done[0], done[1] if len(done) > 1 else None))
    return out

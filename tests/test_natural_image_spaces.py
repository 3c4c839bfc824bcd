"""Natural-image spaces: per-sample training statistics, subgroups, the noise class and Table 1's metrics,
on hand-made cases and one tiny training run."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nngeom.core.training import train_classifier
from nngeom.natural_image_spaces.statistics import SampleRecorder, SampleStatistics
from nngeom.natural_image_spaces.subgroups import NoiseClass, rank_samples, subgroup, table1_metrics
from nngeom.natural_image_spaces.toy import CENTER_SET, ENDS_SET, curve_gap, fit_step_curve, learned_curve, step_samples


def test_illusive_samples_and_the_cumulative_confusion_matrix_on_a_hand_case():
    labels = torch.tensor([0, 1, 2, 1])
    # four epochs: sample 0 always right, 1 wrong three times (as 2), 2 always wrong (as 0), 3 unseen once
    predicted = torch.tensor([[0, 2, 0, 1], [0, 2, 0, -1], [0, 1, 0, 1], [0, 2, 0, 0]])
    s = SampleStatistics(labels, predicted, torch.ones(4, 4), torch.ones(4, 4))
    assert s.misclassified_share().tolist() == [0.0, 0.75, 1.0, pytest.approx(1 / 3)]
    assert s.illusive(0.75).tolist() == [False, True, True, False]
    assert s.illusive(1.0).tolist() == [False, False, True, False]
    assert s.accuracy().tolist() == [0.5, pytest.approx(1 / 3), 0.75, 0.25]
    ccm = s.cumulative_confusion(3)
    assert ccm.tolist() == [[4, 0, 0], [1, 3, 3], [4, 0, 0]]
    assert int(ccm.sum()) == int((predicted >= 0).sum())
    with pytest.raises(ValueError, match="'threshold'"):
        s.illusive(0.0)


def test_rankings_and_subgroups_have_equal_sizes_and_the_named_ends():
    # 6 correct samples with confidences 0.95 .. 0.7, 4 misclassified with illusiveness 0.8 .. 0.55
    conf = torch.tensor([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.8, 0.7, 0.6, 0.55])
    labels = torch.tensor([0] * 6 + [1] * 4)
    p = torch.stack([conf, 1 - conf], 1)  # class 0 gets `conf`: right for the first 6, wrong for the last 4
    r = rank_samples(p, labels)
    assert r.by_confidence.tolist() == [0, 1, 2, 3, 4, 5] and r.by_illusiveness.tolist() == [6, 7, 8, 9]
    groups = {c: subgroup(r, c, 50) for c in ("hc", "lc", "hi", "li")}
    assert {c: g.tolist() for c, g in groups.items()} == {"hc": [0, 1], "lc": [4, 5], "hi": [6, 7], "li": [8, 9]}
    assert all(len(g) == 2 for g in groups.values())  # k = 50 % of the 4 misclassified, for every criterion
    assert set(subgroup(r, "hc", 50).tolist()).isdisjoint(subgroup(r, "lc", 50).tolist())
    assert sorted(subgroup(r, "hi", 100).tolist()) == sorted(subgroup(r, "li", 100).tolist()) == [6, 7, 8, 9]
    with pytest.raises(ValueError, match="'criterion'"):
        subgroup(r, "mc", 50)
    with pytest.raises(ValueError, match="'percent'"):
        subgroup(r, "hc", 0)


def test_table1_metrics_on_a_known_confusion():
    # 4 test samples of 3 classes + noise (label 3): right, right, wrong (true prob 0.3), given noise
    p = torch.tensor([[0.8, 0.1, 0.1, 0.0], [0.2, 0.6, 0.1, 0.1], [0.5, 0.3, 0.2, 0.0], [0.1, 0.1, 0.1, 0.7]])
    m = table1_metrics(p, torch.tensor([0, 1, 1, 2]), noise_label=3)
    assert m["A"] == 0.5 and m["N"] == 1.0
    assert m["P_c"] == pytest.approx(0.7) and m["P_i"] == pytest.approx(0.6) and m["P_g"] == pytest.approx(0.2)
    no_errors = table1_metrics(p[:2], torch.tensor([0, 1]))
    assert no_errors["A"] == 1.0 and math.isnan(no_errors["P_i"]) and math.isnan(no_errors["P_g"])


def test_noise_class_appends_uniform_noise_with_its_label():
    x, y = torch.zeros(4, 1, 2, 2), torch.tensor([0, 1, 0, 1])
    g = torch.Generator().manual_seed(0)
    xb, yb = NoiseClass(label=2, ratio=5, value_range=(-1.0, 1.0))(x, y, g)
    assert xb.shape == (24, 1, 2, 2) and torch.equal(xb[:4], x) and torch.equal(yb[:4], y)
    assert torch.all(yb[4:] == 2) and float(xb[4:].min()) >= -1 and float(xb[4:].max()) <= 1
    assert float(xb[4:].std()) > 0.3  # uniform on [-1, 1]: sd 0.58
    fixed = NoiseClass(label=2, ratio=2, fixed=True, n_samples=3)
    a, _ = fixed(x, y, torch.Generator().manual_seed(1))
    b, _ = fixed(x, y, torch.Generator().manual_seed(2))
    bank = {tuple(v.flatten().tolist()) for v in fixed._bank}
    assert len(bank) == 6 and all(tuple(v.flatten().tolist()) in bank for v in torch.cat([a[4:], b[4:]]))


def test_recorder_reads_every_training_sample_from_its_batch_and_the_test_set_per_epoch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, generator=g)
    y = (x[:, 0] > 0).long()
    xt = torch.randn(50, 2, generator=g)
    yt = (xt[:, 0] > 0).long()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    rec = SampleRecorder(y, epochs=4, test=(xt, yt))
    res = train_classifier(net, (x, y), (xt, yt), epochs=4, batch_size=32, lr=0.05, progress=False,
                           observe=rec.observe, after_epoch=rec.after_epoch)  # fmt: skip
    tr, te = rec.train(), rec.test()
    assert tr.epochs == te.epochs == 4 and bool((tr.predicted >= 0).all())  # every sample seen every epoch
    # the last test row is the trained model's own evaluation
    assert float(te.accuracy()[-1]) == pytest.approx(res.test_accuracy)
    assert float(tr.accuracy()[-1]) > 0.8 and 0.5 <= float(tr.confidence.min()) <= float(tr.confidence.max()) <= 1
    assert torch.all((tr.true_probability >= 0) & (tr.true_probability <= 1))
    # with a noise class the recorder still reads the legitimate rows only
    net3 = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
    rec3 = SampleRecorder(y, epochs=2)
    noise = NoiseClass(label=2, ratio=5, value_range=(-3.0, 3.0))
    train_classifier(net3, (x, y), (xt, yt), epochs=2, batch_size=32, lr=0.05, progress=False,
                     batch_transform=noise, observe=rec3.observe)  # fmt: skip
    assert rec3.train().predicted.shape == (2, 200)


def test_step_samples_follow_the_papers_intervals_and_labels():
    x, y = step_samples(ENDS_SET, seed=0, scale=0.01)
    assert x.shape == y.shape == (400, 1)  # 200 + 200: Figure 1's 20,000 + 20,000 at 1 %
    assert bool(((x < 0.1) | (x > 0.9)).all()) and bool((x >= 0).all()) and bool((x <= 1).all())
    assert torch.equal(y, torch.sign(x - 0.5))
    assert int((x < 0.5).sum()) == 200  # each interval gets its own count, shuffled together
    again, _ = step_samples(ENDS_SET, seed=0, scale=0.01)
    assert torch.equal(x, again)
    assert len(step_samples(CENTER_SET)[0]) == 40_000
    with pytest.raises(ValueError, match="'intervals'"):
        step_samples([(0.6, 0.4, 10)])
    with pytest.raises(ValueError, match="'scale'"):
        step_samples(CENTER_SET, scale=0.0)


def test_a_fitted_step_follows_its_data_and_is_free_elsewhere():
    x, y = step_samples(ENDS_SET, seed=0, scale=0.05)
    net = fit_step_curve(x, y, hidden=(32, 32), epochs=30, seed=0, progress=False)
    grid = torch.linspace(0, 1, 101)
    curve = learned_curve(net, grid)
    ends = (grid < 0.1) | (grid > 0.9)
    assert float((curve[ends] - torch.sign(grid[ends] - 0.5)).abs().max()) < 0.2  # fits its own points
    # nothing is near the step, so the network does not jump there: at x = 0.4 and 0.6 it is far from +-1
    assert float(curve[40].abs()) < 0.7 and float(curve[60].abs()) < 0.7
    assert curve_gap(curve, curve) == 0.0
    assert curve_gap(curve, torch.sign(grid - 0.5)) > 0.1
    with pytest.raises(ValueError, match="'x' and 'y'"):
        fit_step_curve(x[:, 0], y[:, 0])
    with pytest.raises(ValueError, match="same length"):
        curve_gap(curve, curve[:-1])


def test_table1_training_sets_follow_the_papers_rows():
    from nngeom.natural_image_spaces.studies import ALL_SET, table1_training_sets

    # 12 samples, 4 of them misclassified: k = p % of 4
    labels = torch.zeros(12, dtype=torch.long)
    conf = torch.linspace(0.55, 0.99, 12)
    probs = torch.stack([conf, 1 - conf], 1)  # class 0 predicted, with rising confidence ...
    wrong = [1, 4, 7, 10]
    probs[wrong] = probs[wrong].flip(1)  # ... except for four samples, given class 1
    ranking = rank_samples(probs, labels)
    n_mis = len(ranking.by_illusiveness)
    assert n_mis == 4
    sets = table1_training_sets(ranking, percents=(50, 100))
    assert list(sets) == ["S_lc^50 ∪ S_li^50", "S_lc^50 ∪ S_hi^50", "S_hc^50 ∪ S_li^50", "S_hc^50 ∪ S_hi^50",
                          "S_lc^100 ∪ S_li^100", "S_lc^100 ∪ S_hi^100", "S_hc^100 ∪ S_li^100",
                          "S_hc^100 ∪ S_hi^100", ALL_SET]  # fmt: skip
    k = round(0.5 * n_mis)
    for name, idx in sets.items():
        if name != ALL_SET:
            assert len(idx) == 2 * (k if "^50" in name else n_mis) and len(set(idx.tolist())) == len(idx)
            # one half correct, the other misclassified
            assert int(ranking.correct[idx].sum()) == len(idx) // 2
    assert sets[ALL_SET].tolist() == list(range(12))
    hc = set(sets["S_hc^50 ∪ S_li^50"].tolist()) & set(ranking.by_confidence.tolist())
    assert hc == set(ranking.by_confidence[:k].tolist())  # the most confident correct samples


def test_retraining_on_subsets_is_cached_per_run_and_resumes(tmp_path, monkeypatch):
    import nngeom.natural_image_spaces.studies as studies

    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 1, 4, 4, generator=g)
    y = (x.flatten(1).mean(1) > 0.5).long()
    test = (x[:20], y[:20])
    sets = {"first half": torch.arange(20), studies.ALL_SET: torch.arange(40)}

    def build(n_out):
        return nn.Sequential(nn.Flatten(), nn.Linear(16, n_out))

    kwargs = dict(n_classes=2, runs=2, epochs=2, batch_size=8, lr=1e-2, cache_dir=tmp_path, progress=False)

    def same(a, b):  # records equal, NaN included (a run with no correct test sample has no P_c)
        return len(a) == len(b) and all(
            ra.keys() == rb.keys() and all(ra[k] == rb[k] or (ra[k] != ra[k] and rb[k] != rb[k]) for k in ra)
            for ra, rb in zip(a, b)
        )

    rows = studies.retrain_on_subsets(build, (x, y), test, sets, **kwargs)
    assert len(rows) == 2 * 2 * 2 and {r["n_train"] for r in rows} == {20, 40}
    assert all(r["N"] == 0 for r in rows if not r["noise"])
    files = sorted(tmp_path.rglob("*.json"))
    assert len(files) == 8
    # a rerun reads every result back and trains nothing
    monkeypatch.setattr(studies, "train_classifier", lambda *a, **k: pytest.fail("retrained a cached run"))
    assert same(studies.retrain_on_subsets(build, (x, y), test, sets, **kwargs), rows)
    # an interrupted study (one result missing) trains only that one again, to the same numbers
    files[0].unlink()
    monkeypatch.undo()
    assert same(studies.retrain_on_subsets(build, (x, y), test, sets, **kwargs), rows)
    # another recipe is another cache
    other = studies.retrain_on_subsets(build, (x, y), test, sets, **{**kwargs, "epochs": 1})
    assert len(list(tmp_path.glob("table1-*"))) == 2 and len(other) == 8
    with pytest.raises(ValueError, match="'sets'"):
        studies.retrain_on_subsets(build, (x, y), test, {"bad": torch.tensor([40])}, **kwargs)


def test_retraining_in_worker_processes_gives_the_results_of_one_process():
    import nngeom.natural_image_spaces.studies as studies
    from nngeom.core.device import torch_threads
    from nngeom.core.models import Builder

    g = torch.Generator().manual_seed(1)
    x = torch.rand(40, 1, 4, 4, generator=g)
    y = (x.flatten(1).mean(1) > 0.5).long()
    sets = {"first half": torch.arange(20), studies.ALL_SET: torch.arange(40)}
    build = Builder("mlp", {"in_features": 16, "hidden": [8], "n_classes": 2})  # pickles, unlike a lambda
    kwargs = dict(n_classes=2, runs=2, epochs=2, batch_size=8, lr=1e-2, progress=False)
    with torch_threads(1):  # the workers' one thread each
        one = studies.retrain_on_subsets(build, (x, y), (x[:20], y[:20]), sets, **kwargs)
    two = studies.retrain_on_subsets(build, (x, y), (x[:20], y[:20]), sets, workers=2, **kwargs)
    assert [(r["training_set"], r["noise"], r["run"]) for r in two] == [
        (name, noise, run) for name in sets for noise in (False, True) for run in range(2)
    ]
    assert [r["A"] for r in two] == [r["A"] for r in one] and [r["P_g"] for r in two] == [r["P_g"] for r in one]
    with pytest.raises(ValueError, match="'workers'"):
        studies.retrain_on_subsets(build, (x, y), (x[:20], y[:20]), sets, workers=0, **kwargs)


def test_table1_summary_averages_the_runs():
    from nngeom.natural_image_spaces.studies import table1_summary

    recs = [{"training_set": "a", "noise": False, "run": r, "n_train": 10, "A": a, "P_c": 0.9, "P_i": pi,
             "P_g": 0.1, "N": 0.0} for r, (a, pi) in enumerate([(0.5, 0.6), (0.7, math.nan)])]  # fmt: skip
    (row,) = table1_summary(recs)
    assert row["A"] == pytest.approx(60.0) and row["sigma_A"] == pytest.approx(100 * math.sqrt(0.02))
    assert row["P_i"] == pytest.approx(60.0) and row["runs"] == 2 and row["n_train"] == 10


def test_recorded_training_keeps_its_statistics_and_reads_them_back(tmp_path, monkeypatch):
    import nngeom.natural_image_spaces.studies as studies

    g = torch.Generator().manual_seed(0)
    x = torch.rand(30, 1, 4, 4, generator=g)
    y = (x.flatten(1).mean(1) > 0.5).long()
    test = (x[:10], y[:10])
    keep = torch.arange(5, 30)

    def build():
        return nn.Sequential(nn.Flatten(), nn.Linear(16, 2))

    path = tmp_path / "run.pt"
    run = studies.recorded_training(build, (x, y), test, epochs=3, batch_size=8, lr=1e-2, keep=keep,
                                    cache_path=path, progress=False)  # fmt: skip
    assert run.train.predicted.shape == (3, 25) and run.test.predicted.shape == (3, 10)
    assert torch.equal(run.train.labels, y[keep]) and torch.equal(run.kept, keep)
    assert bool((run.train.predicted >= 0).all())  # every kept sample is seen every epoch
    assert path.is_file() and not list(tmp_path.glob(".*part*"))
    monkeypatch.setattr(studies, "train_classifier", lambda *a, **k: pytest.fail("trained a cached run"))
    again = studies.recorded_training(build, (x, y), test, epochs=3, batch_size=8, lr=1e-2, keep=keep, cache_path=path)
    assert torch.equal(again.test.predicted, run.test.predicted) and torch.equal(again.kept, keep)
    assert torch.equal(again.train.confidence, run.train.confidence)
    # the trained network comes back too, with the same weights
    assert all(torch.equal(a, b) for a, b in zip(again.model.state_dict().values(), run.model.state_dict().values()))
    monkeypatch.undo()
    # with and without the illusive samples: the second run leaves out what the first kept misclassifying
    # (two well-separated classes with four training labels flipped: those four are the illusive ones)
    labels = torch.arange(30) % 2
    separated, flipped = x + 3 * labels[:, None, None, None], labels.clone()
    flipped[:4] = 1 - flipped[:4]
    regular, cleaned = studies.with_and_without_illusive(build, (separated, flipped), (separated, labels),
                                                         threshold=0.5, epochs=10, batch_size=8, lr=1e-1,
                                                         cache_dir=tmp_path / "pair", progress=False)  # fmt: skip
    dropped = regular.train.illusive(0.5)
    assert bool(dropped[:4].all()) and int(dropped.sum()) < 10  # something, and not everything, is left out
    assert torch.equal(cleaned.kept, torch.nonzero(~dropped).squeeze(1))
    assert sorted(p.name for p in (tmp_path / "pair").iterdir()) == ["regular-run0.pt", "without-t0.5-run0.pt"]


def test_illusive_pairs_in_worker_processes_equal_one_process(tmp_path):
    import nngeom.natural_image_spaces.studies as studies
    from nngeom.core.device import torch_threads
    from nngeom.core.models import Builder

    g = torch.Generator().manual_seed(2)
    labels = torch.arange(30) % 2
    x = torch.rand(30, 1, 4, 4, generator=g) + 3 * labels[:, None, None, None]
    flipped = labels.clone()
    flipped[:4] = 1 - flipped[:4]
    build = Builder("mlp", {"in_features": 16, "hidden": [], "n_classes": 2})
    kwargs = dict(threshold=0.5, epochs=6, batch_size=8, lr=1e-1)
    pairs = studies.illusive_pairs(build, (x, flipped), (x, labels), [0, 1, 2], cache_dir=tmp_path / "two",
                                   workers=2, progress=False, **kwargs)  # fmt: skip
    with torch_threads(1):  # what each worker had
        one = [studies.with_and_without_illusive(build, (x, flipped), (x, labels), seed=s, progress=False, **kwargs)
               for s in (0, 1, 2)]  # fmt: skip
    for (regular, cleaned), (regular1, cleaned1) in zip(pairs, one, strict=True):
        assert torch.equal(regular.train.predicted, regular1.train.predicted)
        assert torch.equal(cleaned.kept, cleaned1.kept) and torch.equal(cleaned.test.correct, cleaned1.test.correct)
    assert len(list((tmp_path / "two").glob("*.pt"))) == 6  # every pair kept, read back in order
    with pytest.raises(ValueError, match="'seeds'"):
        studies.illusive_pairs(build, (x, flipped), (x, labels), [], cache_dir=tmp_path, **kwargs)


def test_overfitting_drop_is_the_fall_from_the_best_epoch():
    from nngeom.natural_image_spaces.studies import overfitting_drop

    assert overfitting_drop(torch.tensor([0.5, 0.8, 0.7])) == pytest.approx(0.1)
    assert overfitting_drop(torch.tensor([0.5, 0.6, 0.7])) == 0.0
    with pytest.raises(ValueError, match="'curve'"):
        overfitting_drop(torch.tensor([]))


def test_fgsm_accuracies_fall_with_eps_and_match_a_hand_attack():
    from nngeom.natural_image_spaces.studies import fgsm_accuracies

    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    x = torch.rand(50, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = net(x).argmax(1)  # every image classified correctly to start with
    out = fgsm_accuracies(net, x, y, eps=[0.01, 0.3])
    assert out["legitimate"] == 1.0 and out[0.3] <= out[0.01] <= 1.0 and out[0.3] < 0.5
    # the same as one signed gradient step by hand
    xr = x.clone().requires_grad_(True)
    nn.functional.cross_entropy(net(xr), y).backward()
    adv = (x + 0.3 * xr.grad.sign()).clamp(0, 1)
    with torch.no_grad():
        assert out[0.3] == float((net(adv).argmax(1) == y).double().mean())


def test_confusion_slices_relabel_the_top_confusions_and_map_back():
    from nngeom.natural_image_spaces.studies import confusion_slices

    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    # four epochs; sample 1 (class 0) always taken for 2, sample 3 (class 1) always for 0, sample 5 (class 2)
    # once for 1; the others right
    predicted = torch.tensor([[0, 2, 1, 0, 2, 2], [0, 2, 1, 0, 2, 1], [0, 2, 1, 0, 2, 2], [0, 2, 1, 0, 2, 2]])
    s = SampleStatistics(labels, predicted, torch.ones(4, 6), torch.ones(4, 6))
    out = confusion_slices(s, n_classes=3, threshold=0.75, top=2)
    assert out.cells == [(0, 2), (1, 0)]  # 4 each; (2, 1) has 1
    assert out.labels.tolist() == [0, 3, 1, 4, 2, 2] and out.relabelled.tolist() == [0, 1, 0, 1, 0, 0]
    assert out.lookup.tolist() == [0, 1, 2, 0, 1]
    assert out.original(torch.tensor([3, 4, 2])).tolist() == [0, 1, 2]
    # one cell only: the second illusive sample keeps its label
    assert confusion_slices(s, 3, 0.75, top=1).labels.tolist() == [0, 3, 1, 1, 2, 2]


def test_less_overfitting_needs_overfitting_to_weaken():
    from nngeom.natural_image_spaces.studies import less_overfitting

    assert less_overfitting(torch.tensor([2.0, 2.5, 3.0]), torch.tensor([0.1, 0.2, 0.0])).holds is True
    assert less_overfitting(torch.tensor([0.1, 0.2, 0.0]), torch.tensor([2.0, 2.5, 3.0])).holds is False
    assert less_overfitting(torch.tensor([1.0, 0.0]), torch.tensor([0.9, 0.2])).holds is None  # too close to tell
    none = less_overfitting(torch.zeros(3), torch.zeros(3), what="regular runs")
    assert none.holds is None and "regular runs" in none.test


def test_confusion_class_runs_in_worker_processes_equal_one_process_and_reuse_regular_runs(tmp_path):
    import nngeom.natural_image_spaces.studies as studies
    from nngeom.core.device import torch_threads
    from nngeom.core.models import Builder

    # three classes, each a bright row of its own; six class-0 training labels flipped to 2: the regular run
    # keeps taking them for 0, so (2, 0) is one of the CCM's top cells and they get a class of their own
    g = torch.Generator().manual_seed(3)
    labels = torch.arange(36) % 3
    x = 0.1 * torch.rand(36, 1, 4, 4, generator=g)
    x[torch.arange(36), 0, labels] += 1
    flipped = labels.clone()
    flipped[:18:3] = 2
    build = Builder("mlp", {"in_features": 16, "hidden": [], "n_classes": 3})
    common = dict(n_classes=3, threshold=0.5, top=2, epochs=6, batch_size=8, lrs=(0.1, 0.2), separate_at=(0.1,),
                  progress=False)  # fmt: skip

    def folders(root):
        return lambda step: root / f"lr{step:g}"

    # the regular runs of lr 0.1 come from an earlier study of the same folder (the Figure 2 page's)
    earlier = studies.illusive_pairs(build, (x, flipped), (x, labels), [0, 1], threshold=0.5, epochs=6, batch_size=8,
                                     lr=0.1, cache_dir=tmp_path / "two" / "lr0.1", progress=False)  # fmt: skip
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "two" / "lr0.1").glob("regular-*.pt")}
    two = studies.confusion_class_runs(build, (x, flipped), (x, labels), [0, 1], cache_dir=folders(tmp_path / "two"),
                                       workers=2, **common)  # fmt: skip
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # read, not retrained
    with torch_threads(1):  # what each worker had
        one = studies.confusion_class_runs(build, (x, flipped), (x, labels), [0, 1],
                                           cache_dir=folders(tmp_path / "one"), **common)  # fmt: skip
    assert sorted(two) == [0.1, 0.2] and all(len(v) == 2 for v in two.values())
    for step in (0.1, 0.2):
        for a, b in zip(two[step], one[step], strict=True):
            assert torch.equal(a.regular.test.predicted, b.regular.test.predicted)
            assert torch.equal(a.sliced.test.predicted, b.sliced.test.predicted)
            assert torch.equal(a.slices.labels, b.slices.labels)
    for run, (regular, _) in zip(two[0.1], earlier, strict=True):
        assert torch.equal(run.regular.train.predicted, regular.train.predicted)
    run = two[0.1][0]
    assert (2, 0) in run.slices.cells and int(run.slices.relabelled[:18:3].sum()) >= 4
    assert run.sliced.model[-1].out_features == 3 + len(run.slices.cells)  # the extra outputs
    # the look-up table maps the new classes back; the oracle routes the regular run's illusive test images
    mapped = run.slices.original(run.sliced.test.predicted)
    assert torch.equal(run.mapped_accuracy(), 100 * (mapped == labels).double().mean(1))
    regular, separate = run.regular.test, run.separate.test
    routed = torch.where(regular.illusive(0.5), separate.predicted[-1], regular.predicted[-1])
    assert run.oracle_accuracy(0.5) == pytest.approx(100 * float((routed == labels).double().mean()))
    assert torch.equal(run.separate.kept, torch.nonzero(run.slices.relabelled)[:, 0])
    assert two[0.2][0].separate is None and math.isnan(two[0.2][0].oracle_accuracy(0.5))
    with pytest.raises(ValueError, match="'separate_at'"):
        studies.confusion_class_runs(build, (x, flipped), (x, labels), [0], cache_dir=folders(tmp_path),
                                     **{**common, "separate_at": (0.3,)})  # fmt: skip
    with pytest.raises(ValueError, match="'seeds'"):
        studies.confusion_class_runs(build, (x, flipped), (x, labels), [], cache_dir=folders(tmp_path), **common)

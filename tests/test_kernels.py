"""The discrete path kernel (nngeom.adversarial_neighborhoods.kernels): exact reconstruction, Lemma 14.4, the
variants and rules."""

import pytest
import torch
from torch import nn

from nngeom.adversarial_neighborhoods.kernels import kernel_matrix, path_kernel, train_full_batch, zero_last_layer


def _gaussians(m: int = 40, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.cat(
        [
            torch.randn(m // 2, 2, generator=g) + torch.tensor([1.0, 4.0]),
            torch.randn(m // 2, 2, generator=g) + torch.tensor([4.0, 1.0]),
        ]
    ).double()
    y = torch.cat([torch.zeros(m // 2), torch.ones(m // 2)]).double()
    return x, y


def _net(outputs: int = 1, hidden: int = 12, seed: int = 0, zero: bool = True) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, outputs)).double()
    return zero_last_layer(net) if zero else net


def _queries(n: int = 15, seed: int = 1):
    return (torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)) * 3 + 2).double()


@pytest.mark.parametrize("loss,outputs", [("bce", 1), ("cross_entropy", 3), ("mse", 2)])
def test_exact_rule_reconstructs_the_trained_model(loss, outputs):
    x, y = _gaussians()
    if loss == "cross_entropy":
        y = torch.randint(0, 3, (len(x),), generator=torch.Generator().manual_seed(2))
    elif loss == "mse":
        y = torch.stack([y, 1 - y], 1)
    traj = train_full_batch(_net(outputs), x, y, loss=loss, lr=5e-3, steps=60, progress=False)
    assert traj.losses[-1] < traj.losses[0]
    rep = path_kernel(traj, _queries(), rule="exact", progress=False)
    scale = float(rep.final.abs().max())
    assert scale > 0.5  # the model moved: the test is not comparing zeros
    assert rep.initial_spread == 0.0
    assert rep.error < 1e-12 * max(1.0, scale)
    assert rep.step_mismatch < 1e-12
    assert rep.nodes_per_step > 2  # some steps did cross a kink, so the pieces mattered


def test_approximate_rules_converge_and_are_not_exact():
    x, y = _gaussians()
    traj = train_full_batch(_net(), x, y, loss="bce", lr=1e-2, steps=40, progress=False)
    q = _queries()
    coarse = path_kernel(traj, q, rule="gauss", nodes=1, progress=False).error
    fine = path_kernel(traj, q, rule="gauss", nodes=16, progress=False).error
    thesis = path_kernel(traj, q, rule="uniform", nodes=100, progress=False).error
    assert coarse > 1e-4 and fine < coarse and thesis > 1e-9


def test_symmetric_variant_errs_at_training_inputs_by_the_step_size():
    """Remark 1 / 3: the symmetric kernel maps a training input through the gradient at w_s, which is exact
    only for the gradient flow; at a fixed training time lr * steps, its error falls about linearly with lr."""
    x, y = _gaussians()
    errors = []
    for lr, steps in [(1e-2, 40), (2.5e-3, 160)]:
        traj = train_full_batch(_net(), x, y, loss="bce", lr=lr, steps=steps, progress=False)
        sym = path_kernel(traj, x[:8], rule="exact", variant="symmetric", progress=False)
        asym = path_kernel(traj, x[:8], rule="exact", variant="asymmetric", progress=False)
        assert asym.error < 1e-12 * max(1.0, float(asym.final.abs().max()))
        errors.append(sym.error)
    assert errors[1] > 0 and 2.5 < errors[0] / errors[1] < 6.5


def test_kernel_values_times_weights_give_the_contributions():
    x, y = _gaussians()
    traj = train_full_batch(_net(), x, y, loss="bce", lr=1e-2, steps=1, progress=False)
    # one step: contribution = K(x, x_i) * a_i with a_i = -lr * dL/dy_i, and for BCE dL/dy = sigmoid(y) - label
    rep = path_kernel(traj, _queries(), rule="exact", kernel=True, progress=False)
    a = -1e-2 * (torch.sigmoid(traj.outputs(0, x)[:, 0]) - y)
    assert torch.allclose(rep.contributions[..., 0], rep.kernel * a[None], rtol=1e-10, atol=1e-14)


def test_non_constant_initial_output_breaks_the_kernel_machine_not_the_integral():
    x, y = _gaussians()
    traj = train_full_batch(_net(zero=False), x, y, loss="bce", lr=5e-3, steps=30, progress=False)
    rep = path_kernel(traj, _queries(), rule="exact", progress=False)
    assert rep.initial_spread > 1e-2
    assert rep.quadrature_error < 1e-12
    assert rep.error > 0.5 * rep.initial_spread


def test_kernel_matrix_symmetric_is_a_kernel_asymmetric_is_not():
    """Lemma 14.4 on random inputs: symmetric and positive semi-definite; eq. (16) is not symmetric."""
    x, y = _gaussians()
    traj = train_full_batch(_net(), x, y, loss="bce", lr=1e-2, steps=20, progress=False)
    q = _queries(10, seed=5)
    K = kernel_matrix(traj, q, nodes=4, progress=False)
    scale = float(K.abs().max())
    assert float((K - K.T).abs().max()) < 1e-12 * scale
    assert float(torch.linalg.eigvalsh(K).min()) > -1e-10 * scale
    A = kernel_matrix(traj, q, variant="asymmetric", nodes=4, progress=False)
    assert float((A - A.T).abs().max()) > 1e-6 * scale


def test_trajectory_cache_and_errors(tmp_path):
    x, y = _gaussians()
    path = tmp_path / "traj.npy"
    first = train_full_batch(_net(), x, y, loss="bce", lr=1e-2, steps=5, path=path, progress=False)
    stamp = path.stat().st_mtime_ns
    again = train_full_batch(_net(), x, y, loss="bce", lr=1e-2, steps=5, path=path, progress=False)
    assert path.stat().st_mtime_ns == stamp and torch.equal(first.weights, again.weights)
    other = train_full_batch(_net(), x, y, loss="bce", lr=2e-2, steps=5, path=path, progress=False)
    assert not torch.equal(first.weights, other.weights)
    assert not list(tmp_path.glob("*.part*"))
    with pytest.raises(ValueError, match="loss"):
        train_full_batch(_net(), x, y, loss="hinge", lr=1e-2, steps=5, progress=False)
    with pytest.raises(ValueError, match="lr"):
        train_full_batch(_net(), x, y, loss="bce", lr=0.0, steps=5, progress=False)
    deep = zero_last_layer(
        nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
    ).double()
    traj = train_full_batch(deep, x, y, loss="bce", lr=1e-2, steps=2, progress=False)
    with pytest.raises(ValueError, match="exact"):
        path_kernel(traj, x[:2], rule="exact", progress=False)
    with pytest.raises(ValueError, match="variant"):
        path_kernel(traj, x[:2], rule="gauss", variant="both", progress=False)
    assert path_kernel(traj, x[:2], rule="gauss", nodes=4, progress=False).step_mismatch < 1e-12


def test_parameter_interpolation_slope_matches_the_loss_curve():
    from nngeom.adversarial_neighborhoods.kernels import parameter_interpolation

    x, y = _gaussians()
    start = _net(zero=False, seed=3)
    end = _net(zero=False, seed=3)
    traj = train_full_batch(end, x, y, loss="bce", lr=1e-2, steps=30, progress=False)
    with torch.no_grad():
        for p, v in zip(end.parameters(), traj.unflatten(traj.weights[-1]).values()):
            p.copy_(v)
    t = torch.linspace(0, 1, 41, dtype=torch.float64)
    path = parameter_interpolation(start, end, x, y, t, loss="bce", progress=False)
    assert path.loss[-1] < path.loss[0] and path.accuracy[-1] >= path.accuracy[0]
    assert abs(path.weight_norm[0] - float(traj.weights[0].norm())) < 1e-12
    # d loss / dt = projection * |w_1 - w_0|: compare with central differences of the loss curve
    slope = (path.loss[2:] - path.loss[:-2]) / (t[2:] - t[:-2])
    assert torch.allclose(slope, path.projection[1:-1] * path.distance, rtol=0.05, atol=1e-3)
    with pytest.raises(ValueError, match="architecture"):
        parameter_interpolation(start, _net(hidden=5), x, y, t, loss="bce", progress=False)
    each = parameter_interpolation(start, end, x, y, t[:5], loss="bce", progress=False, per_sample=True)
    assert each.per_sample_loss.shape == (5, len(x)) and each.per_sample_correct.shape == (5, len(x))
    assert torch.allclose(each.per_sample_loss.mean(1), each.loss, atol=1e-12)
    assert torch.allclose(each.per_sample_correct.double().mean(1), each.accuracy, atol=1e-12)
    assert path.per_sample_loss is None


def test_self_kernel_matches_jacobians_and_gives_a_distance():
    from nngeom.adversarial_neighborhoods.kernels import _gauss_legendre, _shared_jacobians, self_kernel

    x, y = _gaussians()
    y3 = torch.randint(0, 3, (len(x),), generator=torch.Generator().manual_seed(2))
    traj = train_full_batch(_net(3), x, y3, loss="cross_entropy", lr=5e-2, steps=15, progress=False)
    q = _queries(6)
    # training convention: sum_s ||J(x; w_s)||_F^2
    start = sum(float(0) + _shared_jacobians(traj, traj.weights[s], q).pow(2).sum((1, 2)) for s in range(traj.steps))
    assert torch.allclose(self_kernel(traj, q, at_start=True), start, rtol=1e-10)
    # queries: the integral over each step, from the Jacobians themselves on the pieces between kinks
    # (split at every hidden unit's sign change) with a 5-point Gauss rule per piece
    tg, wg = (torch.from_numpy(a) for a in _gauss_legendre(5))
    ref = torch.zeros(len(q), dtype=torch.float64)
    for s in range(traj.steps):
        w0, w1 = traj.unflatten(traj.weights[s]), traj.unflatten(traj.weights[s + 1])
        dw = traj.weights[s + 1] - traj.weights[s]
        for j in range(len(q)):
            z0, z1 = q[j] @ w0["0.weight"].T + w0["0.bias"], q[j] @ w1["0.weight"].T + w1["0.bias"]
            cross = (z0 > 0) != (z1 > 0)
            edges = torch.sort(
                torch.cat([torch.tensor([0.0, 1.0], dtype=torch.float64), (z0 / (z0 - z1))[cross]])
            ).values
            for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist()):
                for tn, wn in zip(tg.tolist(), wg.tolist()):
                    J = _shared_jacobians(traj, traj.weights[s] + (lo + tn * (hi - lo)) * dw, q[j : j + 1])
                    ref[j] += wn * (hi - lo) * J.pow(2).sum()
    got = self_kernel(traj, q)
    assert torch.allclose(got, ref, rtol=1e-10)
    # the kernel-induced distance to the training points is a sum of squares: never negative
    rep = path_kernel(traj, q, rule="exact", kernel=True, progress=False)
    d2 = got[:, None] - 2 * rep.kernel + self_kernel(traj, traj.x, at_start=True)[None]
    assert float(d2.min()) > -1e-9 * float(d2.abs().max())

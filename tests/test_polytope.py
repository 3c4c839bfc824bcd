"""Row-generation LPs (nngeom.solvers.polytope) against the whole LP solved in one go by scipy's HiGHS and cvxpy."""

import numpy as np
import pytest
from scipy.optimize import linprog

from nngeom.core.parallel import run_jobs
from nngeom.solvers.polytope import chebyshev_ball, redundant_rows


def _polytope(seed: int, m: int = 300, d: int = 20):
    g = np.random.default_rng(seed)
    A = g.normal(size=(m, d)) * g.uniform(0.1, 3.0, size=(m, 1))  # rows of unequal norms
    x = g.uniform(-0.6, 0.6, size=d)
    b = -A @ x + np.abs(g.normal(size=m)) * np.linalg.norm(A, axis=1) * 0.3  # x strictly inside
    return A, b, x


def _ball_full_lp(A, b, lo, hi):
    m, d = A.shape
    n = np.linalg.norm(A, axis=1)
    a_ub = np.vstack(
        [np.hstack([-A, n[:, None]]), np.hstack([np.eye(d), np.ones((d, 1))]), np.hstack([-np.eye(d), np.ones((d, 1))])]
    )
    b_ub = np.concatenate([b, np.full(d, hi), np.full(d, -lo)])
    res = linprog(np.r_[np.zeros(d), -1.0], A_ub=a_ub, b_ub=b_ub, bounds=[(None, None)] * (d + 1), method="highs")
    assert res.status == 0
    return res.x[-1]


@pytest.mark.parametrize("seed", range(6))
def test_chebyshev_ball_equals_the_whole_lp(seed):
    A, b, x = _polytope(seed)
    lo, hi = -1.0, 1.0
    # a tiny first working set forces several rounds of row generation
    ball = chebyshev_ball(A, b, (lo, hi), hint=x, first=5, batch=7)
    c, r = ball.centre, ball.radius
    assert ball.solves > 2 and ball.rows < len(b)
    assert r == pytest.approx(_ball_full_lp(A, b, lo, hi), abs=1e-9)
    n = np.linalg.norm(A, axis=1)
    assert np.all(A @ c + b >= r * n - 1e-9)
    assert np.all(c - r >= lo - 1e-9) and np.all(c + r <= hi + 1e-9)


def test_chebyshev_ball_matches_cvxpy_where_the_box_binds():
    cp = pytest.importorskip("cvxpy")
    A, b, x = _polytope(11, m=40, d=6)
    b = b + 5.0  # loose rows: the box decides much of the ball
    ball = chebyshev_ball(A, b, (-1.0, 0.5), hint=x, first=3, batch=3)
    r = ball.radius
    cc, rr = cp.Variable(6), cp.Variable()
    n = np.linalg.norm(A, axis=1)
    cp.Problem(cp.Maximize(rr), [A @ cc + b >= rr * n, cc - rr >= -1.0, cc + rr <= 0.5]).solve()
    assert r == pytest.approx(rr.value, abs=1e-7)
    assert ball.newton > 2  # the first Newton step overshoots to the clamp (half the box width)


def test_chebyshev_ball_box_only_and_errors():
    ball = chebyshev_ball(np.zeros((3, 4)), np.ones(3), (-1.0, 3.0))
    c, r = ball.centre, ball.radius
    assert r == 2.0 and np.allclose(c, 1.0)
    # a far row: the box alone decides, and Newton stops at half the box width
    ball = chebyshev_ball(np.array([[1.0, 0.0]]), np.array([10.0]), (-1.0, 3.0))
    c, r = ball.centre, ball.radius
    assert r == pytest.approx(2.0, abs=1e-12) and np.allclose(c, 1.0)
    with pytest.raises(ValueError, match="zero row with a negative offset"):
        chebyshev_ball(np.zeros((1, 2)), -np.ones(1), (-1.0, 1.0))
    with pytest.raises(ValueError, match="does not meet the box"):
        chebyshev_ball(np.array([[1.0, 0.0]]), np.array([-5.0]), (-1.0, 1.0))  # z_0 >= 5
    with pytest.raises(ValueError, match="value_range.*lo < hi"):
        chebyshev_ball(np.ones((1, 2)), np.ones(1), (1.0, 1.0))
    with pytest.raises(ValueError, match="value_range.*pair"):
        chebyshev_ball(np.ones((1, 2)), np.ones(1), 1.0)
    with pytest.raises(ValueError, match="'A'"):
        chebyshev_ball(np.ones((2, 2)), np.ones(3), (-1.0, 1.0))


def test_solve_many_in_worker_processes_gives_the_same_answers():
    jobs = []
    for seed in range(3):
        A, b, x = _polytope(seed, m=60, d=8)
        jobs.append(((A, b, (-1.0, 1.0)), {"hint": x}))
    serial = run_jobs(chebyshev_ball, jobs, workers=1, progress=False)
    parallel = run_jobs(chebyshev_ball, jobs, workers=2, progress=False)
    assert [ball.radius for ball in serial] == [ball.radius for ball in parallel]
    with pytest.raises(ValueError, match="'workers'"):
        run_jobs(chebyshev_ball, jobs, workers=0)


def _redundant_by_eq18(A, b, lo, hi):
    """The paper's Appendix C literally: one LP over all remaining rows per row, removing as it goes."""
    m, d = A.shape
    keep = np.ones(m, dtype=bool)
    for k in range(m):
        others = keep.copy()
        others[k] = False
        a_ub = np.vstack([-A[others], -A[k : k + 1]])
        b_ub = np.r_[b[others], b[k] + 1.0]
        res = linprog(A[k], A_ub=a_ub, b_ub=b_ub, bounds=[(lo, hi)] * d, method="highs")
        assert res.status == 0
        if res.fun + b[k] >= -1e-9:
            keep[k] = False
    return ~keep


@pytest.mark.parametrize("seed,n_rays", [(0, 0), (1, 0), (2, 50), (3, 1000)])
def test_redundant_rows_equals_the_papers_sequential_lps(seed, n_rays):
    A, b, x = _polytope(seed, m=120, d=6)
    A = np.vstack([A, A[:3] * 2.5])  # scaled duplicates: exactly one of each pair may stay
    b = np.r_[b, b[:3] * 2.5]
    lo, hi = -1.0, 1.0
    expected = _redundant_by_eq18(A, b, lo, hi)
    info = redundant_rows(A, b, (lo, hi), interior=x, n_rays=n_rays)
    got = info.redundant
    assert 0 < expected.sum() < len(b) - 6  # the case is not trivial either way
    np.testing.assert_array_equal(got, expected)
    assert info.facets == (~got).sum()
    # without a usable interior point (x on a facet) it falls back to the Chebyshev centre
    got2 = redundant_rows(A, b, (lo, hi), interior=np.full(6, hi), n_rays=n_rays).redundant
    np.testing.assert_array_equal(got2, expected)


def test_redundant_rows_box_and_errors():
    A = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = np.array([5.0, 0.5, 0.2])  # x >= -5 holds on the whole box
    info = redundant_rows(A, b, (-1.0, 1.0))
    red = info.redundant
    assert red.tolist() == [True, False, False] and info.by_box == 1
    with pytest.raises(ValueError, match="n_rays"):
        redundant_rows(A, b, (-1.0, 1.0), n_rays=-1)
    with pytest.raises(ValueError, match="interior"):
        redundant_rows(A, b, (-1.0, 1.0), interior=np.zeros(3))



def test_smaller_and_ks_distance():
    import numpy as np

    from nngeom.stats import ks_distance, smaller

    g = np.random.default_rng(0)
    a, b = g.normal(0, 1, 200), g.normal(1, 1, 200)
    out = smaller(a, b)
    assert out["p"] < 1e-6 and out["median_a"] < out["median_b"]
    assert smaller(b, a)["p"] > 0.99
    assert ks_distance(a, a) == 0.0 and 0.3 < ks_distance(a, b) < 0.55  # N(0,1) vs N(1,1): 0.38
    assert np.isnan(smaller([], b)["p"])
    # two against two, every a below every b: the best p the sizes allow, 1 / C(4, 2), and no better
    tiny = smaller([1.0, 2.0], [3.0, 4.0])
    assert tiny["p_min"] == 1 / 6 and abs(tiny["p"] - tiny["p_min"]) < 1e-12
    assert smaller(a, b)["p_min"] < 1e-100
    from nngeom.stats import verdict

    assert verdict(out) is True and verdict(smaller(b, a)) is False
    assert verdict(tiny) is None  # two against two can never reach p < 0.05
    assert verdict(tiny, smaller(b, a)) is False and verdict(tiny, out) is None

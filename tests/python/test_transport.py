"""pushpull.transport / sinkhorn / two_sample against closed forms and independent NumPy computations."""
import numpy as np
import pytest


def pairwise(x, y):
    return np.sqrt(np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=2))


def test_exact_transport_in_one_dimension(pp):
    """Uniform weights on n points each, in 1-D: the optimal plan matches the sorted points."""
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((30, 1)), 1.5 + 0.5 * rng.standard_normal((30, 1))
    sx, sy = np.sort(x[:, 0]), np.sort(y[:, 0])
    r = pp.transport(x, y)
    assert r.ok and r.status_name == "success" and r.cost_name == "W2^2"
    assert abs(r.cost - np.mean((sx - sy) ** 2)) < 1e-12 * max(1.0, r.cost)
    assert sorted(r.rows) == list(range(30)) and sorted(r.cols) == list(range(30))
    assert np.allclose(r.masses, 1 / 30)
    assert r.certificate["duality_gap"] <= 1e-9 * r.certificate["cost_scale"]
    w1 = pp.transport(x, y, ot_cost="euclidean")
    assert w1.cost_name == "W1" and abs(w1.cost - np.mean(np.abs(sx - sy))) < 1e-12


def test_transport_weights_and_errors(pp):
    x = np.array([[0.0], [1.0]])
    y = np.array([[0.0], [1.0], [3.0]])
    r = pp.transport(x, y, a=[0.5, 0.5], b=[0.25, 0.25, 0.5])
    # mass 1/4 stays at 0, 1/4 moves 0 -> 1... the monotone plan: 0->0 (1/4), 0->1 (1/4), 1->3 (1/2)
    assert abs(r.cost - (0.25 * 0 + 0.25 * 1 + 0.5 * 4)) < 1e-12
    with pytest.raises(ValueError, match=r"b: expected shape \(3,\)"):
        pp.transport(x, y, b=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"y: expected shape \(\*, 1\)"):
        pp.transport(x, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="unknown option 'ot_cots'.*did you mean 'ot_cost'"):
        pp.transport(x, y, ot_cots="euclidean")
    with pytest.raises(ValueError):
        pp.transport(x, y, a=[0.9, 0.9])


def test_sinkhorn_divergence(pp):
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((40, 2)), rng.standard_normal((50, 2)) + [1.0, 0.0]
    same = pp.sinkhorn(x, x, sinkhorn_epsilon=1e-3, sinkhorn_threads=1)
    assert same.ok and abs(same.divergence) < 1e-8
    s = pp.sinkhorn(x, y, sinkhorn_epsilon=1e-2, sinkhorn_tol=1e-5, sinkhorn_threads=1)
    exact = pp.transport(x, y).cost
    assert s.ok and s.cost_name == "W2^2" and s.epsilon == 1e-2
    assert abs(s.divergence - exact) < 0.01 * exact  # the debiased divergence tends to W2^2 as epsilon -> 0
    capped = pp.sinkhorn(x, y, sinkhorn_epsilon=1e-2, sinkhorn_max_iterations=10, sinkhorn_threads=1)
    assert not capped.ok and capped.status_name == "iteration_limit" and "sinkhorn_max_iterations" in capped.message


def test_two_sample_statistics_match_numpy(pp):
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((25, 3)), 0.3 + rng.standard_normal((30, 3))
    n, m = len(x), len(y)
    h = 1.3
    r = pp.two_sample(x, y, mmd_bandwidth=h, mmd_bandwidth_levels=0, mmd_permutations=0)
    assert r.ok and len(r.mmd) == 1 and r.mmd[0]["bandwidth"] == h

    def u_statistic(k):
        kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
        return ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                - 2 * kxy.mean())

    mmd2 = u_statistic(lambda a, b: np.exp(-pairwise(a, b) ** 2 / (2 * h * h)))
    energy = u_statistic(lambda a, b: -pairwise(a, b))
    assert abs(r.mmd[0]["value"] - mmd2) < 1e-12
    assert abs(r.energy["value"] - energy) < 1e-12
    assert np.isnan(r.energy["p_value"])
    p = pp.two_sample(x, y, mmd_permutations=20, mmd_energy=False)
    assert p.energy is None and len(p.mmd) == 5 and all(0 < s["p_value"] <= 1 for s in p.mmd)


def test_transport_help(pp):
    assert "ot_cost" in pp.help("transport") and "sinkhorn_epsilon" in pp.help("sinkhorn")
    assert "mmd_bandwidth" in pp.help("two_sample")

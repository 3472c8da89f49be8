"""pushpull.geodesic / exp_map / distances: closed forms and bitwise the CLI's results."""
import h5py
import numpy as np
import pytest

from conftest import run_cli


def sphere_point(z):
    """Inverse stereographic projection (either pole convention gives the same inner products)."""
    n2 = np.sum(z * z, axis=-1, keepdims=True)
    return np.concatenate([2 * z, n2 - 1], axis=-1) / (n2 + 1)


PAIRS = np.array([[[0.3, -0.2], [-0.5, 0.7]], [[1.2, 0.4], [-0.3, -0.9]], [[0.0, 0.0], [0.8, 0.1]]])


def test_sphere_geodesics_closed_form(pp):
    g = pp.geodesic("sphere", PAIRS, curve_samples=5)
    x0, x1 = sphere_point(PAIRS[:, 0]), sphere_point(PAIRS[:, 1])
    expected = np.arccos(np.sum(x0 * x1, axis=1))
    assert g.ok.all() and list(g.status_name) == ["success"] * 3
    assert np.max(np.abs(g.length - expected)) < 1e-6
    assert g.curve.shape == (3, 5, 2) and g.decoded_curve.shape == (3, 5, 3)
    assert np.allclose(g.curve[:, 0], PAIRS[:, 0]) and np.allclose(g.curve[:, -1], PAIRS[:, 1], atol=1e-6)
    assert g.summary["task"] == "geodesic" and g.summary["iterations"] > 0


def test_geodesic_bitwise_equal_to_cli(pp, vae_file, tmp_path):
    pairs_file = tmp_path / "pairs.h5"
    pairs = h5py.File(vae_file)["pairs"][:3]
    with h5py.File(pairs_file, "w") as f:
        f["pairs"] = pairs
        f["sphere"] = PAIRS
    for source, flags in ((str(vae_file), ["-model", vae_file]), ("sphere", ["-metric_type", "sphere"])):
        out = tmp_path / "geodesic.h5"
        data = pairs if source != "sphere" else PAIRS
        p = run_cli("geodesic", *flags, "-pairs", f"{pairs_file}:/{'pairs' if source != 'sphere' else 'sphere'}",
                    "-output", out, "-curve_samples", 4, "-bvp_tol", 1e-7)
        assert p.returncode == 0, p.stderr
        model = pp.load_model(source) if source != "sphere" else "sphere"
        g = pp.geodesic(model, data, curve_samples=4, bvp_tol=1e-7, threads=1)
        with h5py.File(out) as f:
            for name in ("length", "energy", "initial_velocity", "endpoint_error", "iterations", "status", "curve"):
                assert np.array_equal(getattr(g, name), f[name][:]), name
            if source != "sphere":
                assert np.array_equal(g.decoded_curve, f["decoded_curve"][:])


def test_exp_map_poincare_closed_form_and_cli(pp, tmp_path):
    """Half plane, from (0, 1) with velocity (v, 0): g(t) = (tanh(v t), sech(v t))."""
    z = np.array([[0.0, 1.0], [0.0, 1.0]])
    u = np.array([[0.7, 0.0], [-1.3, 0.0]])
    e = pp.exp_map("poincare", z, u, curve_samples=3)
    v = u[:, 0]
    assert np.max(np.abs(e.end_point - np.stack([np.tanh(v), 1 / np.cosh(v)], axis=1))) < 1e-7
    assert np.max(np.abs(e.length - np.abs(v))) < 1e-7
    assert e.curve.shape == (2, 3, 2) and e.decoded_curve is None
    files = tmp_path / "exp.h5"
    with h5py.File(files, "w") as f:
        f["z"] = z
        f["u"] = u
    out = tmp_path / "exp_out.h5"
    p = run_cli("exp", "-metric_type", "poincare", "-points", f"{files}:/z", "-velocities", f"{files}:/u",
                "-output", out, "-curve_samples", 3)
    assert p.returncode == 0, p.stderr
    with h5py.File(out) as f:
        assert np.array_equal(e.end_point, f["endpoints"][:])
        assert np.array_equal(e.end_velocity, f["end_velocities"][:])
        assert np.array_equal(e.length, f["length"][:])
        assert np.array_equal(e.curve, f["curve"][:])
        assert np.array_equal(e.status, f["status"][:])
        cli_messages = [m.decode() if isinstance(m, bytes) else m for m in f["status_message"][:]]
    # Both run SolveExpMaps: the same status messages ("success" for a successful exponential map).
    assert list(e.message) == cli_messages == ["success", "success"]


def test_distances_sphere_closed_form_and_cli(pp, tmp_path):
    points = np.array([[0.3, -0.2], [-0.5, 0.7], [1.2, 0.4], [0.0, 0.1]])
    d = pp.distances("sphere", points)
    x = sphere_point(points)
    expected = np.arccos(np.clip(x @ x.T, -1, 1))
    assert np.max(np.abs(d.distances - expected)) < 1e-6
    assert d.status.shape == (4, 4) and d.ok.all() and d.failed_pairs == 0
    f_in = tmp_path / "points.h5"
    with h5py.File(f_in, "w") as f:
        f["points"] = points
    out = tmp_path / "distances.h5"
    p = run_cli("distances", "-metric_type", "sphere", "-points", f"{f_in}:/points", "-output", out)
    assert p.returncode == 0, p.stderr
    with h5py.File(out) as f:
        assert np.array_equal(d.distances, f["distances"][:])


def test_closed_form_parameters_and_errors(pp):
    # linear: f(z) = W z, distance |W (z1 - z0)|
    W = np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 3.0]])
    g = pp.geodesic("linear", PAIRS, linear_weights=W.ravel())
    assert np.max(np.abs(g.length - np.linalg.norm((PAIRS[:, 1] - PAIRS[:, 0]) @ W.T, axis=1))) < 1e-8
    assert set(pp.metric_types()) == {"linear", "sphere", "torus", "height_field", "fisher_rao", "poincare"}
    with pytest.raises(ValueError, match="unknown closed-form metric 'spheer'"):
        pp.geodesic("spheer", PAIRS)
    with pytest.raises(ValueError, match="torus_R 0.5 must exceed torus_r 0.7"):
        pp.geodesic("torus", PAIRS, torus_R=0.5)
    with pytest.raises(ValueError, match="outside the metric's domain"):
        pp.geodesic("poincare", np.array([[[0.0, 1.0], [0.0, -1.0]]]))
    with pytest.raises(ValueError, match=r"expected shape \(\*, 2, \*\)"):
        pp.geodesic("sphere", np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match="unknown option 'bvp_tool'.*did you mean 'bvp_tol'"):
        pp.geodesic("sphere", PAIRS, bvp_tool=1e-6)
    with pytest.raises(TypeError, match="expected a pushpull.Model or the name"):
        pp.geodesic(3, PAIRS)


def test_stochastic_metric_of_a_model(pp, vae_file):
    m = pp.load_model(str(vae_file))
    pairs = h5py.File(vae_file)["pairs"][:1]
    mean = pp.geodesic(m, pairs)
    stochastic = pp.geodesic(m, pairs, metric="stochastic")
    assert mean.ok.all() and stochastic.ok.all()
    # the expected metric adds J_sigma^T J_sigma >= 0: never shorter than the mean's geodesic
    assert stochastic.length[0] >= mean.length[0] * (1 - 1e-6)
    with pytest.raises(ValueError, match="metric='foo'"):
        pp.geodesic(m, pairs, metric="foo")


def test_graph_initial_guess_bitwise_equal_to_cli(pp, vae_file, tmp_path):
    codes = h5py.File(vae_file)["latent_codes"][:200]
    pairs = h5py.File(vae_file)["pairs"][:2]
    data = tmp_path / "graph.h5"
    with h5py.File(data, "w") as f:
        f["codes"] = codes
        f["pairs"] = pairs
    out = tmp_path / "geodesic.h5"
    p = run_cli("geodesic", "-model", vae_file, "-pairs", f"{data}:/pairs", "-output", out, "-bvp_init", "graph",
                "-graph_points", f"{data}:/codes", "-graph_neighbors", 6)
    assert p.returncode == 0, p.stderr
    g = pp.geodesic(pp.load_model(str(vae_file)), pairs, graph_points=codes, bvp_init="graph", graph_neighbors=6)
    with h5py.File(out) as f:
        for name in ("length", "initial_velocity", "iterations", "status"):
            assert np.array_equal(getattr(g, name), f[name][:]), name
    with pytest.raises(ValueError, match="bvp_init='graph' needs graph_points"):
        pp.geodesic("sphere", PAIRS, bvp_init="graph")
    with pytest.raises(ValueError, match="graph_points is only used with bvp_init='graph'"):
        pp.distances("sphere", PAIRS[:, 0], graph_points=PAIRS[:, 1])
    with pytest.raises(ValueError, match=r"graph_points: expected shape \(\*, 2\)"):
        pp.geodesic("sphere", PAIRS, graph_points=np.zeros((4, 3)), bvp_init="graph")

"""pushpull.density / pushpull.sample: bitwise the CLI's results, closed forms, options, dtypes and shapes."""
import h5py
import numpy as np
import pytest

from conftest import run_cli, write_mlp

OPTIONS = dict(ode_type="dopri5", ode_rtol=1e-7, ode_atol=1e-9, batch_size=8)


def cli_flags(options):
    return [t for k, v in options.items() for t in (f"-{k}", v)]


def test_density_bitwise_equal_to_cli(pp, flow_file, tmp_path):
    out = tmp_path / "density.h5"
    p = run_cli("density", "-model", flow_file, "-input", f"{flow_file}:/points", "-output", out, "-threads", 2,
                *cli_flags(OPTIONS))
    assert p.returncode == 0, p.stderr
    points = h5py.File(flow_file)["points"][:]
    m = pp.load_model(str(flow_file))
    for threads in (1, 2):  # results do not depend on the thread count
        r = pp.density(m, points, threads=threads, **OPTIONS)
        with h5py.File(out) as f:
            assert np.array_equal(r.log_density, f["log_density"][:])
            assert np.array_equal(r.latent, f["latent"][:])
            assert np.array_equal(r.divergence_integral, f["divergence_integral"][:])
            assert np.array_equal(r.nfe, f["nfe"][:])
            assert np.array_equal(r.steps, f["steps"][:])
            assert np.array_equal(r.status, f["status"][:])
    assert r.summary["items"] == 40 and r.summary["failed"] == 0 and r.summary["statuses"] == {"success": 40}
    assert list(r.status_name) == ["success"] * 40 and list(r.message) == [""] * 40
    assert r.ok.all() and len(r) == 40


def test_sample_bitwise_equal_to_cli(pp, flow_file, tmp_path):
    out = tmp_path / "sample.h5"
    p = run_cli("sample", "-model", flow_file, "-n", 30, "-seed", 7, "-output", out, "-save_times", "0.5,1",
                *cli_flags(OPTIONS))
    assert p.returncode == 0, p.stderr
    r = pp.sample(pp.load_model(str(flow_file)), 30, seed=7, save_times=[0.5, 1.0], **OPTIONS)
    with h5py.File(out) as f:
        assert np.array_equal(r.samples, f["samples"][:])
        assert np.array_equal(r.base_samples, f["base_samples"][:])
        assert np.array_equal(r.log_density, f["log_density"][:])
        assert np.array_equal(r.trajectories, f["trajectories"][:])
    assert r.trajectories.shape == (30, 2, 2) and r.save_times == [0.5, 1.0]
    assert r.latent is None and r.points is None


def test_density_of_a_linear_flow_closed_form(pp, tmp_path):
    """v(x) = A x (A symmetric, base at t = 0): z = expm(-A) x and log p(x) = log N(z; 0, I) - tr(A)."""
    rng = np.random.default_rng(3)
    B = rng.standard_normal((3, 3))
    A = 0.3 * (B + B.T)
    path = tmp_path / "linear.h5"
    write_mlp(path, "/velocity", [(A, np.zeros(3))], "tanh", "none", base_time=0, mode="w")
    x = rng.standard_normal((10, 3))
    r = pp.density(pp.load_model(str(path)), x, ode_type="dopri5", ode_rtol=1e-11, ode_atol=1e-12)
    w, V = np.linalg.eigh(A)
    z = x @ (V @ np.diag(np.exp(-w)) @ V.T).T
    expected = -0.5 * np.sum(z * z, axis=1) - 1.5 * np.log(2 * np.pi) - np.trace(A)
    assert np.max(np.abs(r.log_density - expected)) < 1e-8
    assert np.max(np.abs(r.latent - z)) < 1e-8


def test_results_view_their_memory(pp, flow_file):
    r = pp.density(pp.load_model(str(flow_file)), h5py.File(flow_file)["points"][:5])
    a, b = r.latent, r.latent
    assert np.shares_memory(a, b) and a.base is not None  # a view of the result, not a copy
    del r
    assert np.isfinite(a).all()  # the view keeps the result alive


def test_option_errors(pp, flow_file):
    m = pp.load_model(str(flow_file))
    x = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"unknown option 'ode_rtoll'.*did you mean 'ode_rtol'"):
        pp.density(m, x, ode_rtoll=1e-6)
    with pytest.raises(ValueError, match=r"unknown option 'frobnicate'"):
        pp.sample(m, 3, frobnicate=1)
    with pytest.raises(ValueError, match=r"-ode_rtol: value -1 violates the constraint > 0"):
        pp.density(m, x, ode_rtol=-1)
    with pytest.raises(ValueError, match=r"-ode_type: unknown value 'bdff'"):
        pp.density(m, x, ode_type="bdff")
    with pytest.raises(ValueError, match=r"-batch_size"):
        pp.density(m, x, batch_size=0)
    with pytest.raises(TypeError, match=r"ode_rtol"):
        pp.density(m, x, ode_rtol={"a": 1})
    with pytest.raises(ValueError, match=r"at least 1"):
        pp.sample(m, 0)
    # None keeps the default; numpy scalars are numbers
    r = pp.density(m, x, ode_rtol=None, ode_atol=np.float64(1e-9), batch_size=np.int64(4))
    assert r.ok.all()


def test_help(pp):
    text = pp.help("density")
    assert text.startswith("pushpull.density(model, points, **options)")
    assert "  ode_rtol <real> = 1e-06  (default 1e-06; > 0)" in text
    assert "seed" in pp.help("sample") and "bvp_type" in pp.help("geodesic")
    assert "geo_ode_rtol" in pp.help("exp_map") and "distances_triangle_rtol" in pp.help("distances")
    with pytest.raises(ValueError, match="unknown command 'foo'"):
        pp.help("foo")


def test_dtypes_and_shapes(pp, flow_file):
    m = pp.load_model(str(flow_file))
    x = h5py.File(flow_file)["points"][:6]
    ref = pp.density(m, x).log_density
    x32 = x.astype(np.float32)
    assert np.array_equal(pp.density(m, x32).log_density, pp.density(m, x32.astype(np.float64)).log_density)
    assert np.array_equal(pp.density(m, np.asfortranarray(x)).log_density, ref)  # converted to C order
    wide = np.zeros((6, 4))
    wide[:, ::2] = x
    assert np.array_equal(pp.density(m, wide[:, ::2]).log_density, ref)  # a strided view
    assert np.array_equal(pp.density(m, x.tolist()).log_density, ref)  # nested lists
    ints = np.array([[1, 2], [0, -1]])
    assert np.array_equal(pp.density(m, ints).log_density, pp.density(m, ints.astype(float)).log_density)
    with pytest.raises(TypeError, match="dtype complex128 is not supported"):
        pp.density(m, x.astype(complex))
    with pytest.raises(TypeError, match="dtype bool"):
        pp.density(m, x > 0)
    with pytest.raises(TypeError, match="dtype <U"):
        pp.density(m, np.array([["a", "b"]]))
    with pytest.raises(ValueError, match=r"expected 2 dimensions, got shape \(2,\)"):
        pp.density(m, np.zeros(2))
    with pytest.raises(ValueError, match="points have 3 columns, but the model .* has dimension 2"):
        pp.density(m, np.zeros((4, 3)))
    bad = x.copy()
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match=r"entry \[2, 1\] is not finite"):
        pp.density(m, bad)


def test_torch_tensor_input(pp, flow_file):
    torch = pytest.importorskip("torch")
    m = pp.load_model(str(flow_file))
    x = h5py.File(flow_file)["points"][:4]
    assert np.array_equal(pp.density(m, torch.from_numpy(x)).log_density, pp.density(m, x).log_density)


def test_model_errors(pp, flow_file, vae_file, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        pp.load_model(str(tmp_path / "missing.h5"))
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(ValueError, match="junk.h5"):
        pp.load_model(str(junk))
    vae = pp.load_model(str(vae_file))
    assert vae.has_decoder and not vae.has_velocity and vae.latent_dim == 2 and vae.data_dim == 64
    with pytest.raises(ValueError, match="no usable velocity field"):
        pp.density(vae, np.zeros((1, 2)))
    flow = pp.load_model(str(flow_file))
    assert flow.has_velocity and not flow.has_decoder and flow.dim == 2 and flow.base_time == 0
    with pytest.raises(ValueError, match="no usable decoder"):
        pp.geodesic(flow, np.zeros((1, 2, 2)))
    bad = tmp_path / "bad.h5"
    write_mlp(bad, "/velocity", [(np.zeros((2, 3)), np.zeros(2))], "relu", "concat", base_time=0, mode="w")
    with pytest.raises(ValueError, match="unknown activation 'relu'"):
        pp.load_model(str(bad))

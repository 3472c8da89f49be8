"""pushpull.validate: the cases of `pushpull validate`, run through the same library code, with the numbers the CLI
writes into its HDF5 report; options and errors."""
import h5py
import numpy as np
import pytest

from conftest import run_cli

# A subset of the quick level (all of it takes about 25 s per run): flow cases with a tolerance sweep (G1, G3),
# geodesic cases (closed-form linear decoder, Poincare half-plane, stochastic decoder), transport and two-sample
# statistics, and a flow-versus-OT case; about 5 s per run.
CASES = ["G1", "G3", "GEO-linear", "GEO-poincare", "GEO-stochastic", "OT-exact", "OT-sinkhorn", "MMD-gaussian",
         "FLOW-OT-G3"]


def strings(dataset):
    return [s.decode() if isinstance(s, bytes) else s for s in dataset[:]]


def assert_same_numbers(a, b, what):
    """Equal as the report stores them: bitwise, NaN where a row lacks the metric on both sides."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, what
    assert np.array_equal(a, b, equal_nan=True), f"{what}: {a} != {b}"


def test_validate_equals_the_cli_report(pp, tmp_path):
    out = tmp_path / "report.h5"
    p = run_cli("validate", "-validate_level", "quick", "-validate_cases", ",".join(CASES), "-output", out)
    assert p.returncode == 0, p.stdout + p.stderr
    r = pp.validate(level="quick", validate_cases=CASES)
    assert [c.name for c in r.cases] == CASES and len(r) == len(CASES)
    with h5py.File(out) as f:
        assert f.attrs["cases_run"] == len(CASES)
        assert r.passed == (f.attrs["verdict"] in ("pass", b"pass"))
        for c in r.cases:
            g = f[c.name]
            assert c.passed == bool(g.attrs["passed"])
            assert c.description == (g.attrs["description"].decode() if isinstance(g.attrs["description"], bytes)
                                     else g.attrs["description"])
            assert c.method == strings(g["method"]) and c.kind == strings(g["kind"])
            assert c.error_metric == strings(g["error_metric"])
            assert_same_numbers(c.dimension, g["dimension"][:], f"{c.name}/dimension")
            assert_same_numbers(c.tolerance, g["tolerance"][:], f"{c.name}/tolerance")
            assert_same_numbers(c.failed, g["failed"][:], f"{c.name}/failed")
            assert len(c.seconds) == len(g["seconds"]) and (c.seconds >= 0).all()  # timings differ between runs
            # Every metric dataset of the group, and no other: the same names in the same order.
            sweep = [k for k in g.keys() if k not in ("checks", "method", "kind", "error_metric", "dimension",
                                                      "tolerance", "seconds", "failed")]
            assert sorted(c.metrics) == sorted(sweep), c.name
            assert list(c.metrics) == [m for m in pp.validation_metrics() if m in c.metrics]
            for name, values in c.metrics.items():
                assert_same_numbers(values, g[name][:], f"{c.name}/{name}")
                assert g[name].attrs["description"] in (pp.validation_metrics()[name],
                                                        pp.validation_metrics()[name].encode())
            checks = g["checks"]
            for key in ("name", "method", "relation", "detail"):
                assert c.checks[key] == strings(checks[key]), f"{c.name}/checks/{key}"
            for key in ("tolerance", "value", "threshold"):
                assert_same_numbers(c.checks[key], checks[key][:], f"{c.name}/checks/{key}")
            assert_same_numbers(c.checks["passed"].astype(np.int64), checks["passed"][:], f"{c.name}/checks/passed")
            assert c.message == "" if c.passed else c.message.count("\n") + 1 == int((~c.checks["passed"]).sum())
    assert r.passed and r.seconds > 0


def test_validate_options_reach_the_cases(pp):
    """validate_methods and validate_tols restrict the sweep as they do for the CLI."""
    r = pp.validate(validate_cases="G1", validate_methods=["dopri5"], validate_tols=[1e-5])
    c = r["G1"]
    assert set(c.method) == {"dopri5"}
    swept = [t for t, e in zip(c.tolerance, c.error_metric) if e]
    assert swept and set(swept) == {1e-5}
    with pytest.raises(KeyError, match="no validation case 'G2'"):
        r["G2"]


def test_validate_option_errors(pp):
    with pytest.raises(ValueError, match="unknown option 'validate_cses'.*did you mean 'validate_cases'"):
        pp.validate(validate_cses="G1")
    with pytest.raises(ValueError, match="unknown option 'output'"):
        pp.validate(validate_cases="G1", output="report.h5")  # the report files are the CLI's
    with pytest.raises(ValueError, match="unknown -validate_cases 'G9'; valid values: G1"):
        pp.validate(validate_cases="G9")
    with pytest.raises(ValueError, match="unknown -validate_methods 'rk4'; valid values: bdf"):
        pp.validate(validate_cases="G1", validate_methods="rk4")
    with pytest.raises(ValueError, match="unknown value 'slow'; valid values: quick, full"):
        pp.validate(level="slow")
    with pytest.raises(ValueError, match="level="):
        pp.validate(validate_level="full")
    with pytest.raises(ValueError, match="validate_tols"):
        pp.validate(validate_cases="G1", validate_tols=[-1.0])
    assert "validate_cases" in pp.help("validate") and "ode_type" in pp.help("validate")

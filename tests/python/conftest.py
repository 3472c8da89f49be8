"""Fixtures of the Python tests (run by ctest as test_python; see tests/CMakeLists.txt).

PYTHONPATH must hold the build's python/ folder (the pushpull package); PUSHPULL_CLI names the pushpull executable
the results are compared with, PUSHPULL_SOURCE_DIR the source tree (tests/data).
"""
import os
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

SOURCE_DIR = Path(os.environ.get("PUSHPULL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
CLI = os.environ.get("PUSHPULL_CLI", str(SOURCE_DIR / "build" / "pushpull"))


def write_mlp(path, group, layers, activation, time_input, base_time=None, output_activation="identity", mode="a"):
    """Writes a network (list of (W, b), W out x in) in the pushpull-mlp schema with h5py (independent of the
    module's exporter)."""
    with h5py.File(path, mode) as f:
        if group in f:
            del f[group]
        g = f.create_group(group)
        g.attrs["format"] = "pushpull-mlp"
        g.attrs["version"] = 1
        g.attrs["input_dim"] = layers[0][0].shape[1] - (1 if time_input == "concat" else 0)
        g.attrs["output_dim"] = layers[-1][0].shape[0]
        g.attrs["num_layers"] = len(layers)
        g.attrs["time_input"] = time_input
        g.attrs["activation"] = activation
        g.attrs["output_activation"] = output_activation
        if base_time is not None:
            g.attrs["base_time"] = base_time
        for k, (W, b) in enumerate(layers):
            g[f"W{k}"] = W
            g[f"b{k}"] = b


def random_layers(rng, sizes, scale=0.7):
    return [(scale * rng.standard_normal((o, i)) / np.sqrt(i), 0.1 * rng.standard_normal(o))
            for i, o in zip(sizes[:-1], sizes[1:])]


@pytest.fixture(scope="session")
def pp():
    import pushpull
    return pushpull


@pytest.fixture(scope="session")
def flow_file(tmp_path_factory):
    """A 2-D concat tanh velocity field 3 -> 16 -> 16 -> 2 (base at t = 0) and 40 data points /points."""
    path = tmp_path_factory.mktemp("models") / "flow.h5"
    rng = np.random.default_rng(1)
    write_mlp(path, "/velocity", random_layers(rng, [3, 16, 16, 2]), "tanh", "concat", base_time=0, mode="w")
    with h5py.File(path, "a") as f:
        f["points"] = rng.standard_normal((40, 2))
    return path


@pytest.fixture(scope="session")
def vae_file():
    return SOURCE_DIR / "tests" / "data" / "vae_digits_wide.h5"


def run_cli(*args):
    """Runs the pushpull executable; returns the completed process (exit code checked by the caller)."""
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=300)

"""The installed package: `cmake --install` into a scratch prefix, then import it from there (its RPATH finds the
installed libpushpull, not the build tree's)."""
import math
import os
import subprocess
import sys

import pytest

SCRIPT = """
import pushpull
length = pushpull.geodesic("sphere", [[[0.0, 0.0], [1.0, 0.0]]]).length[0]
libs = {line.split()[-1] for line in open("/proc/self/maps") if "libpushpull.so" in line}
print(pushpull._pushpull.__file__)
print(*libs)
print(length)
"""


def test_installed_module_imports_from_the_prefix(tmp_path):
    build, cmake = os.environ.get("PUSHPULL_BUILD_DIR"), os.environ.get("PUSHPULL_CMAKE")
    if not build or not cmake:
        pytest.skip("PUSHPULL_BUILD_DIR and PUSHPULL_CMAKE are set by ctest")
    prefix = tmp_path / "prefix"
    p = subprocess.run([cmake, "--install", build, "--prefix", str(prefix)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    packages = [str(d) for d in prefix.rglob("dist-packages")]
    assert len(packages) == 1
    env = dict(os.environ, PYTHONPATH=packages[0])
    p = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    module, lib, length = p.stdout.splitlines()
    assert module.startswith(str(prefix)) and lib.startswith(str(prefix)), p.stdout
    assert abs(float(length) - math.pi / 2) < 1e-6  # (0, 0) and (1, 0) map to (0, 0, -1) and (1, 0, 0)

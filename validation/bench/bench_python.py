#!/usr/bin/env python3
"""What a Python user pays over the C++ call: pushpull.density for 1000 points and pushpull.geodesic for one pair.

The C++ time is the library's own timer of the call (PushforwardResult::seconds of ComputeDensity,
GeodesicBatchResult::seconds of SolveGeodesics, both reported in result.summary["seconds"]); the Python time is the
wall time of the pushpull.* call around it: argument conversion (options onto the options database, the NumPy input
into the library's matrix), the helper thread that runs the solve with the GIL released and is polled for Ctrl-C,
and the wrapping of the result into NumPy arrays. The overhead is the difference; target: under 5% of the solve.

Networks (random weights, numpy seeds below; the architectures of bench_pushforward and bench_geodesic, not their
weights): a concat MLP velocity field 3 -> 64 -> 64 -> 64 -> 2 (tanh, base at t = 0) and a decoder 2 -> 64 -> 64 ->
64 (tanh, sigmoid output).

    cmake --build build --target pushpull_python
    PYTHONPATH=build/python /usr/bin/python3 validation/bench/bench_python.py [--repeats 20] [--threads 2]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import h5py
import numpy as np

import pushpull


def write_mlp(path, group, sizes, activation, time_input, rng, base_time=None, output_activation="identity"):
    with h5py.File(path, "a") as f:
        g = f.create_group(group)
        g.attrs.update({"format": "pushpull-mlp", "version": 1, "num_layers": len(sizes) - 1,
                        "input_dim": sizes[0] - (1 if time_input == "concat" else 0), "output_dim": sizes[-1],
                        "time_input": time_input, "activation": activation, "output_activation": output_activation})
        if base_time is not None:
            g.attrs["base_time"] = base_time
        for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
            g[f"W{k}"] = rng.standard_normal((o, i)) / np.sqrt(i)
            g[f"b{k}"] = 0.1 * rng.standard_normal(o)


def timed(call, repeats):
    """Median wall time of the Python call, median of the library's own time, and the last result."""
    walls, inner = [], []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        walls.append(time.perf_counter() - start)
        inner.append(result.summary["seconds"])
    return statistics.median(walls), statistics.median(inner), result


def report(name, wall, inner):
    overhead = wall - inner
    print(f"{name:44s} python {wall * 1e3:9.3f} ms   C++ {inner * 1e3:9.3f} ms   overhead {overhead * 1e3:7.3f} ms "
          f"({100 * overhead / inner:5.2f}% of the solve)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--points", type=int, default=1000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        flow_path = os.path.join(tmp, "flow.h5")
        decoder_path = os.path.join(tmp, "decoder.h5")
        write_mlp(flow_path, "/velocity", [3, 64, 64, 64, 2], "tanh", "concat", np.random.default_rng(7), base_time=0)
        write_mlp(decoder_path, "/decoder/mean", [2, 64, 64, 64], "tanh", "none", np.random.default_rng(11),
                  output_activation="sigmoid")
        flow = pushpull.load_model(flow_path)
        decoder = pushpull.load_model(decoder_path)

    print(f"pushpull {pushpull.__version__}, Python {sys.version.split()[0]}, NumPy {np.__version__}; "
          f"median of {args.repeats} calls, {args.threads} threads")
    # The points: draws of the model at a tight tolerance (as bench_pushforward makes them).
    points = pushpull.sample(flow, args.points, seed=1, ode_type="dopri5", ode_rtol=1e-10, ode_atol=1e-10).samples.copy()
    for method, tol in (("dopri5", 1e-4), ("adams", 1e-6)):
        wall, inner, r = timed(lambda: pushpull.density(flow, points, ode_type=method, ode_rtol=tol, ode_atol=tol,
                                                        batch_size=32, threads=args.threads), args.repeats)
        assert r.ok.all()
        report(f"density, {args.points} points, {method} tol {tol:g}", wall, inner)
    wall, inner, _ = timed(lambda: pushpull.density(flow, points[:1], ode_type="dopri5", ode_rtol=1e-7,
                                                    ode_atol=1e-7, threads=1), args.repeats)
    report("density, 1 point, dopri5 tol 1e-7, 1 thread", wall, inner)

    rng = np.random.default_rng(5)
    pairs = rng.standard_normal((args.repeats, 1, 2, 2))
    walls, inner = [], []
    for p in pairs:  # a different pair per call; one warm-up call first
        pushpull.geodesic(decoder, p, threads=1)
        start = time.perf_counter()
        g = pushpull.geodesic(decoder, p, threads=1)
        walls.append(time.perf_counter() - start)
        inner.append(g.summary["seconds"])
    overhead = [w - i for w, i in zip(walls, inner)]
    print(f"{'geodesic, one pair, default options':44s} python {statistics.median(walls) * 1e3:9.3f} ms   C++ "
          f"{statistics.median(inner) * 1e3:9.3f} ms   overhead {statistics.median(overhead) * 1e3:7.3f} ms "
          f"(median {100 * statistics.median([o / i for o, i in zip(overhead, inner)]):5.2f}% of the solve)")


if __name__ == "__main__":
    main()

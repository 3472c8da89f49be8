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

With --peers DIR (or the environment variable PUSHPULL_BENCH_PEERS) naming a folder that holds work trees of
torchdiffeq and stochman (DIR/torchdiffeq/torchdiffeq/__init__.py, DIR/stochman/stochman/__init__.py; both are pure
Python over torch, and stochman imports networkx), the comparisons of bench_pushforward and bench_geodesic are
repeated from Python and printed as a table:
  (a) exact log-densities of the 1000 points on the same flow: pushpull.density against torchdiffeq's odeint
      (dopri5, the same rtol = atol) on a torch copy of the field with the exact divergence (one autograd
      vector-Jacobian product per dimension), both against a pushpull reference at tolerance 1e-10, and their
      difference;
  (b) geodesics between encoded pairs (/pairs) of the development VAE ../shared/models/vae_digits_wide.h5 (or
      --vae FILE): pushpull.geodesic (default options, one thread) against stochman's connecting_geodesic (cubic
      spline, its defaults) and its energy minimisation of a discrete curve, on a torch copy of /decoder/mean; lengths
      of stochman's curves are measured as decoded polylines of --length-samples points.
Without torch, torchdiffeq or stochman the comparison says what is missing and is skipped; the overhead part runs.
Nothing in the build or the tests uses them.

    cmake --build build --target pushpull_python
    PYTHONPATH=build/python /usr/bin/python3 validation/bench/bench_python.py [--repeats 20] [--threads 2]
    PYTHONPATH=build/python /usr/bin/python3 validation/bench/bench_python.py --peers /tmp/peers [--pairs 10]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

from pathlib import Path

import h5py
import numpy as np

import pushpull

SOURCE_DIR = Path(__file__).resolve().parents[2]


def write_mlp(path, group, sizes, activation, time_input, rng, base_time=None, output_activation="identity"):
    with h5py.File(path, "a") as f:
        g = f.create_group(group)
        g.attrs.update({"format": "pushpull-mlp", "version": 1, "num_layers": len(sizes) - 1,
                        "input_dim": sizes[0] - (1 if time_input == "concat" else 0), "output_dim": sizes[-1],
                        "time_input": time_input, "activation": activation, "output_activation": output_activation})
        if base_time is not None:
            g.attrs["base_time"] = base_time
        layers = []
        for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append((rng.standard_normal((o, i)) / np.sqrt(i), 0.1 * rng.standard_normal(o)))
            g[f"W{k}"], g[f"b{k}"] = layers[-1]
    return layers


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
    parser.add_argument("--peers", default=os.environ.get("PUSHPULL_BENCH_PEERS"),
                        help="folder with the torchdiffeq and stochman work trees (default: $PUSHPULL_BENCH_PEERS; "
                             "none: the comparisons are skipped)")
    parser.add_argument("--tols", default="1e-4,1e-6,1e-8", help="rtol = atol of the log-density comparison")
    parser.add_argument("--vae", default=str(SOURCE_DIR.parent / "shared" / "models" / "vae_digits_wide.h5"))
    parser.add_argument("--pairs", type=int, default=10, help="first N pairs of the VAE's /pairs")
    parser.add_argument("--length-samples", type=int, default=2001,
                        help="points of the decoded polyline that measures a stochman curve's length")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        flow_path = os.path.join(tmp, "flow.h5")
        decoder_path = os.path.join(tmp, "decoder.h5")
        flow_layers = write_mlp(flow_path, "/velocity", [3, 64, 64, 64, 2], "tanh", "concat", np.random.default_rng(7),
                                base_time=0)
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

    peers = load_peers(args.peers)
    if peers is None:
        return
    torch, torchdiffeq, stochman = peers
    rows = []
    compare_density(rows, torch, torchdiffeq, flow, flow_layers, points,
                    [float(t) for t in args.tols.split(",")], args.threads)
    compare_geodesics(rows, torch, stochman, args)
    print()
    print(f"Comparisons (torch {torch.__version__}, float64; {args.threads} threads for the densities, 1 for the "
          f"geodesics; load average {os.getloadavg()[0]:.1f} at the end)")
    print(f"{'task':44s} {'tool':34s} {'time':>10s}  result")
    for task, tool, seconds, result in rows:
        print(f"{task:44s} {tool:34s} {seconds * 1e3:8.1f} ms  {result}")



# ---- The comparisons with torchdiffeq and stochman -------------------------------------------------------------

def load_peers(folder):
    """(torch, torchdiffeq, stochman), or None after saying what is missing."""
    if not folder:
        print("\ncomparisons skipped: no --peers folder (or PUSHPULL_BENCH_PEERS) with torchdiffeq and stochman")
        return None
    for name in ("torchdiffeq", "stochman"):
        tree = Path(folder) / name
        sys.path.insert(0, str(tree if (tree / name / "__init__.py").exists() else Path(folder)))
    modules = []
    for name in ("torch", "torchdiffeq", "stochman"):
        try:
            modules.append(__import__(name))
        except ImportError as e:
            print(f"\ncomparisons skipped: cannot import {name} ({e}; peers folder {folder})")
            return None
    return tuple(modules)


def torch_mlp(torch, layers, activation, output_activation="identity"):
    """nn.Sequential of the (W, b) layers in float64: the model file's network in torch."""
    acts = {"tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid, "softplus": torch.nn.Softplus}
    modules = []
    for k, (W, b) in enumerate(layers):
        lin = torch.nn.Linear(W.shape[1], W.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.asarray(W, dtype=np.float64)))
            lin.bias.copy_(torch.from_numpy(np.asarray(b, dtype=np.float64)))
        modules.append(lin)
        last = k == len(layers) - 1
        name = output_activation if last else activation
        if name != "identity":
            modules.append(acts[name]())
    return torch.nn.Sequential(*modules)


def compare_density(rows, torch, torchdiffeq, flow, layers, points, tols, threads):
    """(a): log p(x) = log N(z; 0, I) + Delta(0), integrating [x, Delta] from t = 1 to the base at t = 0 with
    dDelta/dt = div v(x, t) (the exact trace: one vector-Jacobian product per dimension)."""
    torch.set_num_threads(threads)
    net = torch_mlp(torch, layers, "tanh")
    d = points.shape[1]
    t_probe = 0.37
    v_torch = net(torch.cat([torch.from_numpy(points[:5]), torch.full((5, 1), t_probe, dtype=torch.float64)], 1))
    assert np.allclose(v_torch.detach().numpy(), flow.velocity(points[:5], t_probe), rtol=1e-12, atol=1e-13)

    class Augmented(torch.nn.Module):
        def forward(self, t, state):
            x = state[:, :d]
            with torch.enable_grad():
                x = x.detach().requires_grad_(True)
                v = net(torch.cat([x, t.expand(x.shape[0], 1)], 1))
                div = torch.zeros(x.shape[0], dtype=x.dtype)
                for i in range(d):
                    div = div + torch.autograd.grad(v[:, i].sum(), x, retain_graph=i < d - 1)[0][:, i]
            return torch.cat([v.detach(), div.detach().unsqueeze(1)], 1)

    field = Augmented()

    def torchdiffeq_density(tol):
        state = torch.cat([torch.from_numpy(points), torch.zeros(points.shape[0], 1, dtype=torch.float64)], 1)
        with torch.no_grad():
            end = torchdiffeq.odeint(field, state, torch.tensor([1.0, 0.0], dtype=torch.float64), rtol=tol, atol=tol,
                                     method="dopri5")[-1].numpy()
        z = end[:, :d]
        return -0.5 * (z ** 2).sum(1) - 0.5 * d * np.log(2 * np.pi) + end[:, d]

    reference = pushpull.density(flow, points, ode_type="dopri5", ode_rtol=1e-10, ode_atol=1e-10, batch_size=1,
                                 threads=threads).log_density.copy()
    task = f"log-density, {points.shape[0]} points, dopri5"
    for tol in tols:
        start = time.perf_counter()
        ours = pushpull.density(flow, points, ode_type="dopri5", ode_rtol=tol, ode_atol=tol, batch_size=32,
                                threads=threads).log_density
        t_ours = time.perf_counter() - start
        start = time.perf_counter()
        theirs = torchdiffeq_density(tol)
        t_theirs = time.perf_counter() - start
        rows.append((f"{task}, tol {tol:g}", f"pushpull.density ({threads} thr, batch 32)", t_ours,
                     f"max |error| {np.abs(ours - reference).max():.1e}"))
        rows.append((f"{task}, tol {tol:g}", f"torchdiffeq.odeint ({threads} thr, batched)", t_theirs,
                     f"max |error| {np.abs(theirs - reference).max():.1e}; max |difference| "
                     f"{np.abs(theirs - ours).max():.1e}"))


def compare_geodesics(rows, torch, stochman, args):
    """(b): one geodesic at a time between the VAE's encoded pairs."""
    from stochman.curves import DiscreteCurve
    from stochman.geodesic import geodesic_minimizing_energy
    from stochman.manifold import EmbeddedManifold

    if not Path(args.vae).exists():
        print(f"geodesic comparison skipped: no VAE file {args.vae} (--vae)")
        return
    with h5py.File(args.vae) as f:
        g = f["decoder/mean"]
        layers = [(g[f"W{k}"][:], g[f"b{k}"][:]) for k in range(int(g.attrs["num_layers"]))]
        activation = g.attrs["activation"]
        output_activation = g.attrs.get("output_activation", "identity")
        pairs = f["pairs"][: args.pairs]
    as_str = lambda a: a.decode() if isinstance(a, bytes) else str(a)
    net = torch_mlp(torch, layers, as_str(activation), as_str(output_activation))
    vae = pushpull.load_model(args.vae)
    z = pairs[:3].reshape(-1, pairs.shape[-1])
    assert np.allclose(net(torch.from_numpy(z)).detach().numpy(), vae.decode(z), rtol=1e-12, atol=1e-13)

    class Decoded(EmbeddedManifold):
        def embed(self, points, jacobian=False):
            return net(points)

    manifold = Decoded()
    alpha = torch.linspace(0, 1, args.length_samples, dtype=torch.float64)

    def polyline_length(curve):
        with torch.no_grad():
            return float(manifold.curve_length(curve(alpha)).reshape(-1)[0])

    torch.set_num_threads(1)
    results = {"pushpull.geodesic (default options)": [], "stochman connecting_geodesic (spline)": [],
               "stochman discrete curve (20 nodes)": []}
    statuses = []
    for p in pairs:
        start = time.perf_counter()
        r = pushpull.geodesic(vae, p[None], threads=1)
        results["pushpull.geodesic (default options)"].append((time.perf_counter() - start, float(r.length[0])))
        statuses.append(r.status_name[0])
        p0 = torch.from_numpy(p[0]).reshape(1, -1)
        p1 = torch.from_numpy(p[1]).reshape(1, -1)
        start = time.perf_counter()
        curve, _ = manifold.connecting_geodesic(p0, p1)
        results["stochman connecting_geodesic (spline)"].append((time.perf_counter() - start, polyline_length(curve)))
        start = time.perf_counter()
        curve = DiscreteCurve(p0, p1, num_nodes=20).double()
        geodesic_minimizing_energy(curve, manifold)
        results["stochman discrete curve (20 nodes)"].append((time.perf_counter() - start, polyline_length(curve)))
    ours = np.array([length for _, length in results["pushpull.geodesic (default options)"]])
    failed = sum(s not in ("success", "extrapolated") for s in statuses)
    task = f"geodesic, {len(pairs)} pairs of {Path(args.vae).stem}"
    for tool, values in results.items():
        times = [t for t, _ in values]
        lengths = np.array([length for _, length in values])
        if tool.startswith("pushpull"):
            result = f"median length {np.median(lengths):.4f}; {failed} not success/extrapolated"
        else:
            excess = lengths / ours - 1
            result = (f"length / pushpull's - 1: median {np.median(excess):+.2%}, min {excess.min():+.2%}, "
                      f"max {excess.max():+.2%}")
        rows.append((task, tool, statistics.median(times),
                     result + f"; time max {max(times) * 1e3:.0f} ms"))


if __name__ == "__main__":
    main()

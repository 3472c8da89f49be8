// geodesic_reference: reference geodesic lengths of a decoder's pullback metric by an independent method, for
// checking the shooting and multiple-shooting solvers of the logarithm map.
//
// Method: only the decoder and the discrete energy E_N = N sum_{i<N} |f(x_{i+1}) - f(x_i)|^2 of a latent polyline
// x_0 = z0, ..., x_N = z1 (MinimizeDiscreteEnergy, include/pushpull/discrete_geodesic.hpp); no geodesic equation,
// no ODE integrator, no shooting. For each N of -ref_segments (increasing) the polyline of least E_N is found to a
// tight tolerance, the first from the straight line, each next one from the previous minimiser upsampled by cubic
// interpolation in the vertex index (continuation in N). The discrete length L_N = sqrt(E_N) (or the sum of the
// decoded chords, -ref_quantity chord) has an expansion L + a_1 / N^2 + a_2 / N^4 + ... (verify with -ref_model
// sphere: the observed orders are printed), so Richardson extrapolation in h^2 = 1/N^2 (the Neville table; with
// doubling N, (4 L_2N - L_N) / 3, then (16 R_2N - R_N) / 15) gives the reference T_KK; its error estimate is the
// difference between the last two extrapolants of the level below, |T_K,K-1 - T_K-1,K-1| (or |T_KK - T_K,K-1| if
// larger): calibrated with -ref_check COARSE.h5 -ref_compare FINE.h5, it covered the actual error of 96 of 100 pairs
// where |T_KK - T_K,K-1| alone covered 8-36.
//
// Closed forms for the verification: -ref_model sphere (inverse stereographic projection onto S^2, distance
// arccos <f(z0), f(z1)>) and -ref_model linear (f(z) = W z, distance |W (z1 - z0)|), with -ref_pairs random pairs
// from N(0, -ref_latent_scale^2 I); their exact lengths are written too and the errors of every L_N and every
// extrapolant are printed.
//
//   geodesic_reference -ref_model /work/shared/models/vae_swissroll.h5 -ref_metric stochastic
//       -ref_segments 64,128,256 -ref_threads 2 -ref_output swissroll_stochastic.h5
//   geodesic_reference -ref_model sphere -ref_pairs 20 -ref_segments 8,16,32,64,128,256
//   geodesic_reference -ref_check swissroll_stochastic.h5 -ref_compare geodesics.h5   (pushpull geodesic output)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/discrete_geodesic.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/io.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/options.hpp"
#include "pushpull/provenance.hpp"
#include "bench_support.hpp"
#include "geodesic_reference.hpp"

namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using pushpull::bench::Clock;
using pushpull::bench::Seconds;
using pushpull::RowMatrixXd;
using pushpull::reference::Extrapolation;
using pushpull::reference::PairResult;
using pushpull::reference::ReferenceSettings;

struct RefOptions {
  bool help = false;
  std::string model;
  std::string metric = "mean";
  int pairs = 0;
  int first = 0;
  std::vector<double> segments{64, 128, 256};
  std::string output;
  int threads = 1;
  double rtol = 1e-13;
  int max_iterations = 10000;
  std::string quantity = "sqrt_energy";
  std::int64_t seed = 1;
  double latent_scale = 1.0;
  bool verbose = false;
  int max_segments = 4096;
  double target_error = 0;
  std::string check;
  std::string compare;

  void SetFromOptions(pushpull::OptionsDatabase& db) {
    db.SetSection("geodesic_reference");
    db.Bool("", "help", help, "Print these options with their values and defaults, then exit", "");
    db.String("", "ref_model", model,
              "Model file (pushpull-mlp schema with /pairs), or 'sphere' / 'linear' for the closed-form checks",
              "RefOptions::model");
    db.Enum("", "ref_metric", metric,
            "mean: the pullback of /decoder/mean; stochastic: of the stacked (mean, std) decoder (expected metric)",
            "RefOptions::metric", {"mean", "stochastic"});
    db.Int("", "ref_pairs", pairs, "Pairs to compute (0 = all from -ref_first on; closed forms: 20)",
           "RefOptions::pairs", pushpull::IntBounds::AtLeast(0));
    db.Int("", "ref_first", first, "First pair (index into /pairs)", "RefOptions::first",
           pushpull::IntBounds::AtLeast(0));
    db.RealList("", "ref_segments", segments,
                "Increasing segment counts N of the discrete geodesics; Richardson extrapolation in 1/N^2 over all",
                "RefOptions::segments", pushpull::RealBounds::Closed(2, 1 << 20));
    db.String("", "ref_output", output, "Output HDF5 file (written as FILE.partial, renamed when complete)",
              "RefOptions::output");
    db.Int("", "ref_threads", threads, "Worker threads over the pairs (results do not depend on it)",
           "RefOptions::threads", {1, 1024});
    db.Real("", "ref_rtol", rtol,
            "rtol of each discrete minimisation (relative energy decrease, taken or predicted by Gauss-Newton)",
            "RefOptions::rtol", pushpull::RealBounds::Positive());
    db.Int("", "ref_max_iterations", max_iterations, "Levenberg-Marquardt iterations per discrete minimisation",
           "RefOptions::max_iterations", pushpull::IntBounds::AtLeast(1));
    db.Enum("", "ref_quantity", quantity,
            "Discrete length extrapolated for the reference: sqrt_energy = sqrt(E_N), chord = sum of the decoded "
            "chords (both are written)",
            "RefOptions::quantity", {"sqrt_energy", "chord"});
    db.Int("", "ref_seed", seed, "Seed of the random pairs of the closed forms", "RefOptions::seed",
           pushpull::IntBounds::AtLeast(0));
    db.Real("", "ref_latent_scale", latent_scale, "Standard deviation of the random pairs of the closed forms",
            "RefOptions::latent_scale", pushpull::RealBounds::Positive());
    db.Int("", "ref_max_segments", max_segments,
           "Adaptation: while the observed order of the last three L_N is off 2 by more than 0.3 (and their "
           "difference is above 1e-10 relative), double N up to this (0 = never); the extrapolation uses the last "
           "as many N as -ref_segments has",
           "RefOptions::max_segments", pushpull::IntBounds::AtLeast(0));
    db.Real("", "ref_target_error", target_error,
            "Adaptation: also double N (up to -ref_max_segments) while the estimated relative error exceeds this "
            "(0 = off)",
            "RefOptions::target_error", pushpull::RealBounds::NonNegative());
    db.String("", "ref_check", check,
              "Reading mode (no computation): a reference file written by this tool; alone, one line per pair; with "
              "-ref_compare, the comparison",
              "RefOptions::check");
    db.String("", "ref_compare", compare,
              "Compare mode: the output of `pushpull geodesic` on the same /pairs (datasets length, status), or a "
              "reference file from pair 0 (e.g. a finer one: tests -ref_check's error estimates); prints the relative "
              "length differences against -ref_check",
              "RefOptions::compare");
    db.Bool("", "ref_verbose", verbose, "Print one line per pair", "RefOptions::verbose");
  }
};

// ---- Models --------------------------------------------------------------------------------------------------

MatrixXd LinearW() { return (MatrixXd(3, 2) << 1.0, 0.5, -0.3, 2.0, 0.7, -0.4).finished(); }

bool ClosedForm(const RefOptions& o) { return o.model == "sphere" || o.model == "linear"; }

std::shared_ptr<const pushpull::Decoder> MakeDecoder(const RefOptions& o) {
  if (o.model == "sphere") return pushpull::MakeStereographicSphereDecoder(2);
  if (o.model == "linear") return pushpull::MakeLinearDecoder(LinearW(), VectorXd::Zero(3));
  return pushpull::ReadDecoder(o.model, o.metric == "stochastic");
}

struct Pairs {
  std::vector<int> index;  // into /pairs (closed forms: 0 ..)
  std::vector<VectorXd> z0, z1;
  std::vector<double> exact;  // closed forms only
};

Pairs LoadPairs(const RefOptions& o) {
  Pairs p;
  if (ClosedForm(o)) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(o.seed));
    std::normal_distribution<double> normal(0.0, o.latent_scale);
    const int count = o.pairs > 0 ? o.pairs : 20;
    for (int k = 0; k < o.first + count; ++k) {
      VectorXd a(2), b(2);
      a(0) = normal(rng);
      a(1) = normal(rng);
      b(0) = normal(rng);
      b(1) = normal(rng);
      if (k < o.first) continue;
      p.index.push_back(k);
      p.exact.push_back(o.model == "sphere" ? pushpull::SphereDistance(a, b) : pushpull::LinearDistance(LinearW(), a, b));
      p.z0.push_back(std::move(a));
      p.z1.push_back(std::move(b));
    }
    return p;
  }
  pushpull::ArraySpec spec;
  spec.ranks = {3};
  spec.shape = {-1, 2, -1};
  spec.what = "pairs";
  const pushpull::Array a = pushpull::ReadArray({o.model, "/pairs"}, spec);
  const int P = static_cast<int>(a.shape[0]);
  const int d = static_cast<int>(a.shape[2]);
  if (o.first >= P) {
    throw pushpull::InputError("option -ref_first: " + std::to_string(o.first) + " must be < " + std::to_string(P) +
                               ", the number of pairs in " + o.model + ":/pairs");
  }
  const int last = o.pairs > 0 ? std::min(P, o.first + o.pairs) : P;
  for (int k = o.first; k < last; ++k) {
    const auto point = [&](int end) {
      return VectorXd(Eigen::Map<const VectorXd>(a.data.data() + (2 * static_cast<std::size_t>(k) + end) * d, d));
    };
    p.index.push_back(k);
    p.z0.push_back(point(0));
    p.z1.push_back(point(1));
  }
  return p;
}

// ---- Summary helpers -------------------------------------------------------------------------------------------

double Quantile(std::vector<double> v, double q) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(std::lround(q * static_cast<double>(v.size() - 1)))];
}

std::string Join(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

// Median over pairs of the observed orders of column j of the Richardson table (j = 0: L_N itself), from every
// three consecutive entries (constant ratio only), one value per triple.
void PrintOrders(const char* name, const std::vector<PairResult>& results, bool by_energy, const std::vector<int>& N,
                 const Pairs& pairs) {
  const std::size_t K = N.size();
  bool constant_ratio = K >= 3;
  for (std::size_t k = 2; k < K && constant_ratio; ++k) constant_ratio = N[k] * N[k - 2] == N[k - 1] * N[k - 1];
  std::printf("  %s:\n", name);
  for (std::size_t j = 0; j < K; ++j) {
    std::printf("    level %zu", j);
    for (std::size_t k = j; k < K; ++k) {
      std::vector<double> err, ord;
      for (std::size_t p = 0; p < results.size(); ++p) {
        const auto& t = (by_energy ? results[p].by_energy : results[p].by_chord).table;
        if (!pairs.exact.empty()) err.push_back(std::abs(t[k][j] - pairs.exact[p]) / pairs.exact[p]);
        if (constant_ratio && k >= j + 2) {
          ord.push_back(pushpull::reference::Order(t[k - 2][j], t[k - 1][j], t[k][j], static_cast<double>(N[1]) / N[0]));
        }
      }
      std::printf("  | N=%d", N[k]);
      if (!err.empty()) std::printf(" err %.1e", Quantile(err, 0.5));
      if (!ord.empty()) std::printf(" ord %.2f", Quantile(ord, 0.5));
    }
    std::printf("\n");
  }
}

std::vector<double> ReadVector(const std::string& file, const std::string& path) {
  pushpull::ArraySpec spec;
  spec.ranks = {1};
  spec.require_finite = false;
  spec.what = path;
  return pushpull::ReadArray({file, path}, spec).data;
}

// -ref_check REF.h5 -ref_compare SOLVER.h5: the solver's lengths against the reference, pair by pair.
int Compare(const RefOptions& o) {
  const std::vector<double> index = ReadVector(o.check, "/pair_index"), length = ReadVector(o.check, "/length"),
                            error = ReadVector(o.check, "/length_error"), converged = ReadVector(o.check, "/converged");
  if (o.compare.empty()) {  // the reference file alone: one line per pair
    const std::vector<double> order = ReadVector(o.check, "/observed_order"), zmax = ReadVector(o.check, "/max_abs_z"),
                              secs = ReadVector(o.check, "/seconds");
    std::printf("%5s %20s %10s %7s %5s %7s %8s\n", "pair", "length", "rel.err", "order", "conv", "max|z|", "seconds");
    for (std::size_t p = 0; p < index.size(); ++p) {
      std::printf("%5.0f %20.14g %10.2e %7.2f %5.0f %7.3f %8.2f\n", index[p], length[p], error[p] / length[p], order[p],
                  converged[p], zmax[p], secs[p]);
    }
    return 0;
  }
  const std::vector<double> solver = ReadVector(o.compare, "/length");
  std::vector<double> status;
  bool against_reference = false;  // the compared file is another (finer) reference: calibrate the estimators
  try {
    status = ReadVector(o.compare, "/status");
  } catch (const pushpull::InputError&) {
    against_reference = true;  // another reference file (a finer one): status from /converged, rows
    const std::vector<double> c = ReadVector(o.compare, "/converged"), i = ReadVector(o.compare, "/pair_index");
    if (i.empty() || i.front() != 0) {
      throw pushpull::InputError(o.compare + ": neither /status nor a reference file that starts at pair 0");
    }
    for (double x : c) status.push_back(x != 0 ? 0 : 1);
  }
  std::vector<double> rel, ratio;
  int failed = 0, beyond = 0;
  std::printf("reference %s against %s\n", o.check.c_str(), o.compare.c_str());
  for (std::size_t p = 0; p < index.size(); ++p) {
    const auto i = static_cast<std::size_t>(index[p]);
    if (i >= solver.size()) throw pushpull::InputError(o.compare + ": no row " + std::to_string(i));
    if (status[i] != 0) {
      ++failed;
      std::printf("  pair %zu: solver status %g (reference %.12g)\n", i, status[i], length[p]);
      continue;
    }
    const double r = std::abs(solver[i] - length[p]) / length[p];
    rel.push_back(r);
    if (error[p] > 0) ratio.push_back(std::abs(solver[i] - length[p]) / error[p]);
    // Beyond the reference's own uncertainty (3 x its estimate, at least 1e-10 relative).
    if (std::abs(solver[i] - length[p]) > std::max(3 * error[p], 1e-10 * length[p])) {
      ++beyond;
      if (o.verbose || r > 1e-6) {
        std::printf("  pair %zu: solver %.12g reference %.12g (estimated error %.1e%s): relative difference %.2e%s\n",
                    i, solver[i], length[p], error[p] / length[p], converged[p] != 0 ? "" : ", NOT CONVERGED", r,
                    solver[i] > length[p] ? ", solver longer" : ", solver shorter");
      }
    }
  }
  std::printf("  %zu pairs, %d failed in the solver; relative difference median %.2e, max %.2e; %d pairs differ by more "
              "than 3 x the reference's estimated error (at least 1e-10 relative); listed: those above 1e-6\n",
              index.size(), failed, Quantile(rel, 0.5), Quantile(rel, 1.0), beyond);
  std::printf("  |difference| / the reference's estimated error: median %.2g, max %.2g\n", Quantile(ratio, 0.5),
              Quantile(ratio, 1.0));
  // Calibration of error estimators from -ref_check's table of L_N (the compared file taken as the truth): for each,
  // the fraction of pairs whose actual difference it covers and the median of actual / estimate.
  if (against_reference) {
    pushpull::ArraySpec spec;
    spec.ranks = {2};
    spec.require_finite = false;
    const pushpull::Array L = pushpull::ReadArray({o.check, "/sqrt_energy"}, spec);
    const pushpull::Array S = pushpull::ReadArray({o.check, "/segments_used"}, spec);
    const std::size_t K = L.shape[1];
    const char* names[] = {"|T_KK - T_K,K-1|", "|T_K,K-1 - T_K-1,K-1|", "max of the two (used)",
                           "|T_K,K-1 - T_K-1,K-1| for T_K,K-1"};
    for (int kind = 0; kind < 4 && K >= 3; ++kind) {
      std::vector<double> q;
      int covered = 0, n = 0;
      for (std::size_t p = 0; p < index.size(); ++p) {
        const auto i = static_cast<std::size_t>(index[p]);
        if (status[i] != 0) continue;
        std::vector<int> N(K);
        std::vector<double> l(K);
        for (std::size_t k = 0; k < K; ++k) {
          N[k] = static_cast<int>(S.data[p * K + k]);
          l[k] = L.data[p * K + k];
        }
        const auto t = pushpull::reference::Richardson(N, l).table;
        const double e1 = std::abs(t[K - 1][K - 1] - t[K - 1][K - 2]), e2 = std::abs(t[K - 1][K - 2] - t[K - 2][K - 2]);
        const double est = kind == 0 ? e1 : kind == 1 ? e2 : kind == 2 ? std::max(e1, e2) : e2;
        const double value = kind == 3 ? t[K - 1][K - 2] : t[K - 1][K - 1];
        const double actual = std::abs(value - solver[i]);
        ++n;
        if (actual <= est) ++covered;
        q.push_back(actual / est);
      }
      std::printf("  estimator %-36s covers %3d of %3d pairs; actual / estimate median %.2g, 90%% %.2g, max %.2g\n",
                  names[kind], covered, n, Quantile(q, 0.5), Quantile(q, 0.9), Quantile(q, 1.0));
    }
  }
  return 0;
}

int Run(const RefOptions& o, const pushpull::Provenance& provenance) {
  if (!o.check.empty()) return Compare(o);
  if (o.model.empty()) throw pushpull::InputError("option -ref_model: give a model file, 'sphere' or 'linear'");
  std::vector<int> N;
  for (double s : o.segments) {
    if (s != std::floor(s)) throw pushpull::InputError("option -ref_segments: " + std::to_string(s) + " is not an integer");
    if (!N.empty() && static_cast<int>(s) <= N.back()) {
      throw pushpull::InputError("option -ref_segments: the segment counts must increase");
    }
    N.push_back(static_cast<int>(s));
  }
  if (N.empty()) throw pushpull::InputError("option -ref_segments: give at least one segment count");
  const Pairs pairs = LoadPairs(o);
  ReferenceSettings settings;
  settings.rtol = o.rtol;
  settings.max_iterations = o.max_iterations;
  settings.sqrt_energy = o.quantity == "sqrt_energy";
  settings.max_segments = o.max_segments;
  settings.target_error = o.target_error;
  const std::size_t P = pairs.index.size();
  const std::string metric_name = ClosedForm(o) ? "pullback" : o.metric;
  std::printf("geodesic_reference: %s, metric %s, pairs %d..%d (%zu), N = %s, rtol %g, %d threads\n", o.model.c_str(),
              metric_name.c_str(), pairs.index.front(), pairs.index.back(), P, Join(N).c_str(), o.rtol, o.threads);
  std::fflush(stdout);

  std::unique_ptr<pushpull::OutputFile> out;
  if (!o.output.empty()) out = std::make_unique<pushpull::OutputFile>(o.output, provenance);

  std::vector<PairResult> results(P);
  std::atomic<std::size_t> next{0};
  std::mutex print;
  std::exception_ptr failure;
  const auto t_all = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < std::min<int>(o.threads, static_cast<int>(P)); ++t) {
    pool.emplace_back([&] {
      try {
        const auto decoder = MakeDecoder(o);  // one decoder per worker
        for (std::size_t p; (p = next++) < P;) {
          results[p] = pushpull::reference::ComputePair(*decoder, pairs.z0[p], pairs.z1[p], N, settings);
          if (o.verbose) {
            const PairResult& r = results[p];
            const std::lock_guard<std::mutex> lock(print);
            std::printf("  pair %3d  L %.15g  err %.1e  chord %.15g  %5.1f s  it %s  %s\n", pairs.index[p],
                        r.by_energy.value, r.by_energy.error / r.by_energy.value, r.by_chord.value, r.seconds,
                        [&] {
                          std::string s;
                          for (double i : r.iterations) s += (s.empty() ? "" : ",") + std::to_string(static_cast<int>(i));
                          return s;
                        }().c_str(),
                        r.message.c_str());
            for (std::size_t k = 0; k < N.size(); ++k) {
              std::printf("      N %5d  sqrt(E) %.15g  chord %.15g  level-1 %.15g\n", r.segments[k], r.sqrt_energy[k], r.chord[k],
                          k > 0 ? r.by_energy.table[k][1] : std::nan(""));
            }
            std::fflush(stdout);
          }
        }
      } catch (...) {
        const std::lock_guard<std::mutex> lock(print);
        if (!failure) failure = std::current_exception();
        next = P;
      }
    });
  }
  for (auto& th : pool) th.join();
  if (failure) std::rethrow_exception(failure);
  const double seconds = Seconds(t_all);

  const bool energy = o.quantity == "sqrt_energy";
  const std::size_t K = N.size();
  std::vector<double> length(P), error(P), other(P), other_error(P), max_abs_z(P), secs(P), rel(P), order(P);
  int off_order = 0, adapted = 0;
  std::vector<std::int64_t> converged(P), index(P);
  std::vector<std::string> messages(P);
  RowMatrixXd sqrt_energy(P, K), chord(P, K), iterations(P, K), segments_used(P, K), z0(P, pairs.z0.front().size()),
      z1(P, pairs.z0.front().size());
  int failed = 0;
  for (std::size_t p = 0; p < P; ++p) {
    const PairResult& r = results[p];
    const Extrapolation& main = energy ? r.by_energy : r.by_chord;
    const Extrapolation& alt = energy ? r.by_chord : r.by_energy;
    length[p] = main.value;
    error[p] = main.error;
    other[p] = alt.value;
    other_error[p] = alt.error;
    rel[p] = main.error / main.value;
    max_abs_z[p] = r.max_abs_z;
    order[p] = r.observed_order;
    if (!r.asymptotic) ++off_order;
    if (r.segments.back() != N.back()) ++adapted;
    secs[p] = r.seconds;
    converged[p] = r.converged ? 1 : 0;
    failed += r.converged ? 0 : 1;
    index[p] = pairs.index[p];
    messages[p] = r.message;
    for (std::size_t k = 0; k < K; ++k) {
      sqrt_energy(p, k) = r.sqrt_energy[k];
      chord(p, k) = r.chord[k];
      iterations(p, k) = r.iterations[k];
      segments_used(p, k) = r.segments[k];
    }
    z0.row(p) = pairs.z0[p].transpose();
    z1.row(p) = pairs.z1[p].transpose();
  }

  if (out) {
    out->WriteIntVector("pair_index", index);
    out->WriteMatrix("z0", z0);
    out->WriteMatrix("z1", z1);
    out->WriteVector("length", length);
    out->WriteVector("length_error", error);
    out->WriteVector(energy ? "length_chord" : "length_sqrt_energy", other);
    out->WriteVector(energy ? "length_chord_error" : "length_sqrt_energy_error", other_error);
    out->WriteMatrix("sqrt_energy", sqrt_energy);
    out->WriteMatrix("chord_length", chord);
    out->WriteMatrix("iterations", iterations);
    out->WriteMatrix("segments_used", segments_used);
    out->WriteIntVector("converged", converged);
    out->WriteStrings("message", messages);
    out->WriteVector("max_abs_z", max_abs_z);
    out->WriteVector("seconds", secs);
    out->WriteVector("observed_order", order);
    {
      const std::size_t d = static_cast<std::size_t>(pairs.z0.front().size());
      std::vector<double> curve;
      for (const PairResult& r : results) {
        for (const VectorXd& x : r.curve) curve.insert(curve.end(), x.data(), x.data() + x.size());
      }
      out->WriteArray("curve", {P, static_cast<std::size_t>(pushpull::reference::kCurvePoints) + 1, d}, curve.data());
    }
    if (!pairs.exact.empty()) out->WriteVector("exact", pairs.exact);
    out->SetAttribute("/", "model", o.model);
    out->SetAttribute("/", "metric", metric_name);
    out->SetAttribute("/", "segments", Join(N));
    out->SetAttribute("/", "quantity", o.quantity);
    out->SetAttribute("/", "rtol", o.rtol);
    out->SetAttribute("/", "max_segments", static_cast<std::int64_t>(o.max_segments));
    out->SetAttribute("/", "target_error", o.target_error);
    out->SetAttribute("/", "first_pair", static_cast<std::int64_t>(pairs.index.front()));
    out->SetAttribute("/", "pairs", static_cast<std::int64_t>(P));
    out->SetAttribute(
        "/", "method",
        "Reference geodesic lengths, independent of the shooting solvers: discrete geodesics (least decoded energy "
        "E_N = N sum |f(x_{i+1}) - f(x_i)|^2 of a latent polyline, MinimizeDiscreteEnergy, continuation in N) at "
        "each N of 'segments', L_N = sqrt(E_N) (dataset sqrt_energy; chord_length the sum of decoded chords), "
        "Richardson extrapolation in 1/N^2 over all N (Neville table T_kj); length_error = max(|T_KK - T_K,K-1|, "
        "|T_K,K-1 - T_K-1,K-1|). With max_segments > 0, N is doubled while the last three L_N are not asymptotic (or the estimate "
        "exceeds target_error > 0); segments_used gives each pair's N. converged = 1 when every minimisation met rtol. observed_order: of L_N from the last three N (2 in the "
        "asymptotic regime). curve: 65 vertices (evenly spaced in index) of the finest discrete geodesic.");
    out->Commit();
  }

  std::printf("%s %s: %zu pairs, %d not converged, quantity %s\n", o.model.c_str(), metric_name.c_str(), P, failed,
              o.quantity.c_str());
  std::printf("  estimated relative error: median %.2e, max %.2e; relative difference sqrt_energy vs chord "
              "references: max %.2e\n",
              Quantile(rel, 0.5), Quantile(rel, 1.0), [&] {
                std::vector<double> d;
                for (std::size_t p = 0; p < P; ++p) d.push_back(std::abs(length[p] - other[p]) / length[p]);
                return Quantile(d, 1.0);
              }());
  if (!pairs.exact.empty()) {
    std::vector<double> e;
    for (std::size_t p = 0; p < P; ++p) e.push_back(std::abs(length[p] - pairs.exact[p]) / pairs.exact[p]);
    std::printf("  actual relative error against the closed form: median %.2e, max %.2e\n", Quantile(e, 0.5),
                Quantile(e, 1.0));
  }
  std::printf("  observed order of L_N from the last three N: median %.2f; %d pairs refined beyond N = %d "
              "(-ref_max_segments %d); %d pairs still off 2 by more than %.1f (not asymptotic, or a minimiser that "
              "changed with N: distrust their error estimates)\n",
              Quantile(order, 0.5), adapted, N.back(), o.max_segments, off_order, settings.order_slack);
  for (std::size_t p = 0; p < P; ++p) {
    const PairResult& r = results[p];
    if (!r.asymptotic || r.segments.back() != N.back()) {
      std::printf("    pair %d: N up to %d, order %.2f, estimated relative error %.1e%s\n", pairs.index[p],
                  r.segments.back(), order[p], rel[p], r.asymptotic ? "" : "  NOT ASYMPTOTIC");
    }
  }
  std::printf("  time %.1f s (%d threads); per pair median %.2f s, max %.2f s; max |z| on the curves %.3g\n", seconds,
              o.threads, Quantile(secs, 0.5), Quantile(secs, 1.0), Quantile(max_abs_z, 1.0));
  std::printf("  convergence (median over pairs; err: relative to the closed form; ord: observed order from three "
              "consecutive N)\n");
  PrintOrders("sqrt(E_N)", results, true, N, pairs);
  PrintOrders("chord sum", results, false, N, pairs);
  for (std::size_t p = 0; p < P; ++p) {
    if (!results[p].converged) std::printf("  not converged: pair %d: %s\n", pairs.index[p], results[p].message.c_str());
  }
  if (out) std::printf("  written: %s\n", o.output.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  RefOptions o;
  pushpull::OptionsDatabase db;
  try {
    db.ParseCommandLine(argc, argv);
    o.SetFromOptions(db);
    if (o.help) {
      std::printf("usage: geodesic_reference [options]\n%s", db.Help().c_str());
      return 0;
    }
    db.CheckAllUsed();
  } catch (const pushpull::InputError& e) {
    std::fprintf(stderr, "geodesic_reference: %s\n", e.what());
    return 2;
  }
  try {
    const pushpull::Provenance provenance =
        pushpull::Provenance::Collect(std::vector<std::string>(argv, argv + argc), &db);
    return Run(o, provenance);
  } catch (const pushpull::InputError& e) {
    std::fprintf(stderr, "geodesic_reference: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "geodesic_reference: error: %s\n", e.what());
    return 3;
  }
}

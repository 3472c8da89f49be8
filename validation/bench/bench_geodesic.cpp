// bench_geodesic: speed and accuracy of the logarithm map (geodesic distances) of a VAE-like decoder.
//
// Case (issue text): the decoder 2 -> 64 -> 64 -> 64, tanh hidden layers and a sigmoid output (random weights,
// times 1/sqrt(fan-in)), and random latent pairs drawn from N(0, s^2 I). A reference solve per pair (tight shot,
// verification and bvp tolerances, multiple-shooting fallback) gives the length each solver is compared with.
// Printed per solver with the options as a user would run them (-bench_repeats passes over all pairs, each pair's
// fastest pass kept): median and worst wall time per geodesic, median
// and worst Levenberg-Marquardt iterations, failures (with the first reasons), and the median and worst relative
// length error against the reference. Then the full distance matrix of the first N points (N (N - 1) / 2 pairs) by
// ComputeDistanceMatrix (geodesic_batch.hpp), the code `pushpull distances` runs, triangle pass included.
//
// Targets (issue text, 2-core machine): median <= 5 ms per geodesic with relative length error <= 1e-6; the
// 4950-pair distance matrix of 100 points in <= 20 s on 2 cores; no failed pair without a reason. For context: the
// issue reports stochman (PyTorch) at about 90 ms per geodesic with curves about 0.7% longer than the geodesic.
//
//   bench_geodesic -help
//   bench_geodesic -bench_solvers shooting -bench_pairs 20 -bench_matrix_points 0
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "pushpull/errors.hpp"
#include "pushpull/io.hpp"
#include "pushpull/geodesic_batch.hpp"
#include "pushpull/log_map.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/mlp.hpp"
#include "pushpull/options.hpp"
#include "bench_support.hpp"

namespace {

using pushpull::bench::Clock;
using pushpull::bench::LoadAverage;
using pushpull::bench::Seconds;
using pushpull::bench::SplitList;
using Eigen::VectorXd;
using pushpull::LogMapOptions;
using pushpull::LogMapResult;

struct BenchOptions {
  bool help = false;
  int pairs = 100;
  std::int64_t model_seed = 11;
  std::int64_t data_seed = 5;
  double weight_scale = 1.0;
  double latent_scale = 1.0;
  std::vector<double> hidden{64, 64};
  int output_dim = 64;
  std::string solvers = "shooting,multiple_shooting";
  double ref_shot_tol = 1e-12;
  double ref_bvp_tol = 1e-9;
  double shot_rtol = 0;
  double verify_rtol = 0;
  int matrix_points = 100;
  int threads = 2;
  int repeats = 3;
  double target_ms = 5.0;
  double target_error = 1e-6;
  double target_matrix_seconds = 20.0;
  // Trained models (issue: geodesics on trained decoders).
  std::string models;
  std::string metrics = "mean,stochastic";
  std::string reference_dir;
  int model_matrix_points = 0;
  double target_p95_ms = 30.0;
  LogMapOptions log_map;  // the timed solves' options: the defaults, and any -bvp_* given to the bench

  void SetFromOptions(pushpull::OptionsDatabase& db) {
    db.SetSection("bench_geodesic");
    db.Bool("", "help", help, "Print these options with their values and defaults, then exit", "");
    db.Int("", "bench_pairs", pairs, "Random latent pairs timed per solver", "BenchOptions::pairs", {1, 1 << 20});
    db.Int("", "bench_model_seed", model_seed, "Seed of the random decoder weights", "BenchOptions::model_seed",
           pushpull::IntBounds::AtLeast(0));
    db.Int("", "bench_data_seed", data_seed, "Seed of the latent points", "BenchOptions::data_seed",
           pushpull::IntBounds::AtLeast(0));
    db.Real("", "bench_weight_scale", weight_scale, "Scale of the random weights (times 1/sqrt(fan-in))",
            "BenchOptions::weight_scale", pushpull::RealBounds::Positive());
    db.Real("", "bench_latent_scale", latent_scale, "Standard deviation of the latent points",
            "BenchOptions::latent_scale", pushpull::RealBounds::Positive());
    db.RealList("", "bench_hidden", hidden, "Hidden layer widths (tanh) of the decoder", "BenchOptions::hidden",
                pushpull::RealBounds::Closed(1, 1 << 16));
    db.Int("", "bench_output_dim", output_dim, "Data dimension (sigmoid output layer)", "BenchOptions::output_dim",
           {1, 1 << 20});
    db.String("", "bench_solvers", solvers, "Comma-separated -bvp_type solvers to time", "BenchOptions::solvers");
    db.Real("", "bench_ref_shot_tol", ref_shot_tol, "Shot and verification rtol of the reference solves (atol / 100)",
            "BenchOptions::ref_shot_tol", pushpull::RealBounds::Positive());
    db.Real("", "bench_ref_bvp_tol", ref_bvp_tol, "bvp_tol of the reference solves", "BenchOptions::ref_bvp_tol",
            pushpull::RealBounds::Positive());
    db.Real("", "bench_shot_rtol", shot_rtol, "Shot rtol of the timed solves (atol / 100); 0 = the -bvp_ode_rtol default",
            "BenchOptions::shot_rtol", pushpull::RealBounds::NonNegative());
    db.Real("", "bench_verify_rtol", verify_rtol,
            "Verification rtol of the timed solves (atol / 100); 0 = the -bvp_verify_ode_rtol default",
            "BenchOptions::verify_rtol", pushpull::RealBounds::NonNegative());
    db.Int("", "bench_matrix_points", matrix_points, "Points of the timed distance matrix (0 = skip it)",
           "BenchOptions::matrix_points", {0, 1 << 16});
    db.Int("", "bench_threads", threads, "Threads of the distance matrix", "BenchOptions::threads", {1, 1024});
    db.Int("", "bench_repeats", repeats,
           "Passes over the pairs (and runs of the matrix), the fastest time of each pair (and of the matrix) kept: on "
           "a shared machine the minimum is the cost of the computation, the rest is other tenants' load; a pair's "
           "timings come from different passes, seconds apart, so one slow spell of the machine does not set them all",
           "BenchOptions::repeats", {1, 100});
    db.Real("", "bench_target_ms", target_ms, "Target median time per geodesic in ms", "BenchOptions::target_ms",
            pushpull::RealBounds::Positive());
    db.Real("", "bench_target_error", target_error, "Target relative length error", "BenchOptions::target_error",
            pushpull::RealBounds::Positive());
    db.Real("", "bench_target_matrix_seconds", target_matrix_seconds, "Target time of the distance matrix",
            "BenchOptions::target_matrix_seconds", pushpull::RealBounds::Positive());
    db.String("", "bench_model", models,
              "Comma-separated model files (pushpull-mlp with /decoder/mean, /decoder/std, /pairs, /latent_codes): "
              "time their /pairs with every -bench_metrics metric instead of the random decoder; 'dev' = the three "
              "development decoders in ../shared/models (from the source tree)",
              "BenchOptions::models");
    db.String("", "bench_metrics", metrics, "With -bench_model: comma-separated metrics (mean, stochastic)",
              "BenchOptions::metrics");
    db.String("", "bench_reference_dir", reference_dir,
              "With -bench_model: folder of reference files <model stem>_<metric>.h5 written by geodesic_reference "
              "(/pair_index, /length, /length_error); pairs without one have no error column",
              "BenchOptions::reference_dir");
    db.Int("", "bench_model_matrix_points", model_matrix_points,
           "With -bench_model: the distance matrix of the first N /latent_codes of the first model (mean metric) on "
           "-bench_threads threads (0 = skip)",
           "BenchOptions::model_matrix_points", {0, 1 << 16});
    db.Real("", "bench_target_p95_ms", target_p95_ms, "With -bench_model: target 95th percentile time per geodesic",
            "BenchOptions::target_p95_ms", pushpull::RealBounds::Positive());
    log_map.SetFromOptions(db);
  }
};




double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(std::lround(q * static_cast<double>(v.size() - 1)))];
}

std::shared_ptr<const pushpull::Metric> MakeMetric(const BenchOptions& b) {
  std::vector<int> hidden;
  for (double h : b.hidden) hidden.push_back(static_cast<int>(h));
  pushpull::Mlp mlp = pushpull::RandomMlp(2, b.output_dim, hidden, pushpull::TimeInput::kNone,
                                          pushpull::Activation::kTanh, static_cast<unsigned>(b.model_seed),
                                          b.weight_scale);
  mlp.output_activation = pushpull::Activation::kSigmoid;
  return std::make_shared<pushpull::PullbackMetric>(std::make_shared<pushpull::MlpDecoder>(mlp));
}

// The options of the timed solves: the defaults, as a user runs them, unless -bench_shot_rtol / -bench_verify_rtol.
LogMapOptions Timed(const BenchOptions& b) {
  LogMapOptions o = b.log_map;
  if (b.shot_rtol > 0) {
    o.shots.ode.rtol = b.shot_rtol;
    o.shots.ode.atol = b.shot_rtol * 1e-2;
  }
  if (b.verify_rtol > 0) {
    o.verify.ode.rtol = b.verify_rtol;
    o.verify.ode.atol = b.verify_rtol * 1e-2;
  }
  return o;
}

// Microseconds per geodesic acceleration and per acceleration Jacobian (the shots' right-hand sides) at a fixed
// point, best of 5 batches: printed before and after the timings, so that a run on a shared machine can be read
// against the machine's speed at the time (the solves scale with these).
std::string MachineCheck(const pushpull::Metric& metric) {
  VectorXd z(2), u(2), a;
  z << 0.3, -0.2;
  u << 0.5, 0.4;
  Eigen::MatrixXd A;
  constexpr int kCalls = 4000;
  double acc = INFINITY, jac = INFINITY;
  for (int batch = 0; batch < 5; ++batch) {
    auto t0 = Clock::now();
    for (int i = 0; i < kCalls; ++i) metric.Acceleration(z, u, &a, nullptr);
    acc = std::min(acc, 1e6 * Seconds(t0) / kCalls);
    t0 = Clock::now();
    for (int i = 0; i < kCalls; ++i) metric.AccelerationJacobian(z, u, &a, &A, nullptr);
    jac = std::min(jac, 1e6 * Seconds(t0) / kCalls);
  }
  char line[160];
  std::snprintf(line, sizeof line, "acceleration %.2f us, acceleration Jacobian %.2f us; load average %s", acc, jac,
                LoadAverage().c_str());
  return line;
}

// ---- Trained models -------------------------------------------------------------------------------------------

std::vector<std::string> ModelFiles(const std::string& models) {
  if (models != "dev") return SplitList(models);
  const std::string dir = std::string(PUSHPULL_BENCH_SOURCE_DIR) + "/../shared/models/";
  return {dir + "vae_digits_wide.h5", dir + "vae_swissroll.h5", dir + "vae_digits784_d8.h5"};
}

std::string Stem(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::size_t dot = name.rfind(".h5");
  return dot == std::string::npos ? name : name.substr(0, dot);
}

// Reference lengths by pair index (NaN where there is none) and their estimated errors.
void ReadReference(const std::string& file, std::size_t P, std::vector<double>* length, std::vector<double>* error) {
  length->assign(P, std::nan(""));
  error->assign(P, std::nan(""));
  if (!std::filesystem::exists(file)) return;
  pushpull::ArraySpec one;
  one.ranks = {1};
  one.require_finite = false;
  const pushpull::Array index = pushpull::ReadArray(pushpull::DatasetName::Parse(file + ":/pair_index", "ref"), one);
  const pushpull::Array l = pushpull::ReadArray(pushpull::DatasetName::Parse(file + ":/length", "ref"), one);
  const pushpull::Array e = pushpull::ReadArray(pushpull::DatasetName::Parse(file + ":/length_error", "ref"), one);
  for (std::size_t k = 0; k < index.data.size(); ++k) {
    const auto p = static_cast<std::size_t>(index.data[k]);
    if (p < P) {
      (*length)[p] = l.data[k];
      (*error)[p] = e.data[k];
    }
  }
}

int RunModels(const BenchOptions& b) {
  std::printf("bench_geodesic: trained decoders, their /pairs (encoded data points), default options (the fallback "
              "chain included), one thread per geodesic through SolveGeodesics; load average %s\n",
              LoadAverage().c_str());
  std::printf("%-22s %-10s %5s %9s %9s %9s %6s %6s %6s %6s %10s %10s %6s\n", "model", "metric", "pairs", "median ms",
              "p95 ms", "worst ms", "failed", "approx", "not_min", "extrap", "err med", "err worst", "above");
  bool all_met = true;
  const std::vector<std::string> files = ModelFiles(b.models);
  for (const std::string& file : files) {
    pushpull::ArraySpec spec;
    spec.ranks = {3};
    spec.shape = {-1, 2, -1};
    spec.what = "pairs";
    const pushpull::Array pairs = pushpull::ReadArray(pushpull::DatasetName::Parse(file + ":/pairs", "pairs"), spec);
    const std::size_t P = std::min<std::size_t>(pairs.shape[0], static_cast<std::size_t>(b.pairs));
    const auto d = static_cast<Eigen::Index>(pairs.shape[2]);
    for (const std::string& metric_name : SplitList(b.metrics)) {
      const pushpull::PullbackMetric metric(pushpull::ReadDecoder(file, metric_name == "stochastic"));
      std::vector<double> ref, ref_error;
      ReadReference(b.reference_dir + "/" + Stem(file) + "_" + metric_name + ".h5", P, &ref, &ref_error);
      pushpull::GeodesicBatchOptions o;
      o.log_map = Timed(b);
      o.threads = 1;
      std::vector<double> ms(P, INFINITY), errors, approx_errors;
      // extrapolated: converged by discrete geodesics, initial velocity not verified by re-integration (usable).
      int failed = 0, approximate = 0, not_minimal = 0, extrapolated = 0, above = 0, covered = 0;
      std::vector<std::string> reasons;
      for (std::size_t p = 0; p < P; ++p) {
        const VectorXd z0 = Eigen::Map<const VectorXd>(pairs.data.data() + 2 * p * static_cast<std::size_t>(d), d);
        const VectorXd z1 =
            Eigen::Map<const VectorXd>(pairs.data.data() + (2 * p + 1) * static_cast<std::size_t>(d), d);
        pushpull::GeodesicBatchResult r;
        for (int k = 0; k < b.repeats; ++k) {
          const auto t0 = Clock::now();
          r = pushpull::SolveGeodesics(metric, {{z0, z1}}, o);
          ms[p] = std::min(ms[p], 1e3 * Seconds(t0));
        }
        const LogMapResult& s = r.solutions[0];
        if (!r.usable(0)) {
          ++failed;
          approximate += s.status == pushpull::GeodesicStatus::kApproximate;
          if (s.status == pushpull::GeodesicStatus::kApproximate && std::isfinite(ref[p])) {
            approx_errors.push_back(std::abs(s.length - ref[p]) / ref[p]);
            covered += std::abs(s.length - ref[p]) <= s.length_error;
          }
          not_minimal += s.status == pushpull::GeodesicStatus::kNotMinimal;
          if (reasons.size() < 2) reasons.push_back("pair " + std::to_string(p) + ": " + s.message.substr(0, 300));
          continue;
        }
        extrapolated += s.status == pushpull::GeodesicStatus::kExtrapolated;
        if (std::isfinite(ref[p])) {
          errors.push_back(std::abs(s.length - ref[p]) / ref[p]);
          // Above the reference by more than the target and the reference's own error estimate.
          if (s.length - ref[p] > b.target_error * ref[p] + (std::isfinite(ref_error[p]) ? ref_error[p] : 0)) ++above;
        }
      }
      const double median = Quantile(ms, 0.5), p95 = Quantile(ms, 0.95);
      const double worst_err = errors.empty() ? std::nan("") : Quantile(errors, 1.0);
      const bool met = failed == 0 && above == 0 && !(worst_err > b.target_error) && median <= b.target_ms &&
                       p95 <= b.target_p95_ms;
      all_met = all_met && met;
      std::printf("%-22s %-10s %5zu %9.2f %9.2f %9.2f %6d %6d %6d %6d %10.2e %10.2e %6d  %s\n", Stem(file).c_str(),
                  metric_name.c_str(), P, median, p95, Quantile(ms, 1.0), failed, approximate, not_minimal, extrapolated,
                  Quantile(errors, 0.5), worst_err, above, met ? "target met" : "target missed");
      if (errors.size() < P - static_cast<std::size_t>(failed)) {
        std::printf("    %zu of %zu converged pairs have no reference\n", P - static_cast<std::size_t>(failed) - errors.size(),
                    P - static_cast<std::size_t>(failed));
      }
      if (!approx_errors.empty()) {
        std::printf("    approximate lengths against the reference: relative error median %.2e, worst %.2e; the "
                    "error estimate covers %d of %zu\n",
                    Quantile(approx_errors, 0.5), Quantile(approx_errors, 1.0), covered, approx_errors.size());
      }
      for (const auto& reason : reasons) std::printf("    failed %s\n", reason.c_str());
      std::fflush(stdout);
    }
  }
  if (b.model_matrix_points > 1 && !files.empty()) {
    const pushpull::RowMatrixXd codes =
        pushpull::ReadMatrix(pushpull::DatasetName::Parse(files.front() + ":/latent_codes", "latent_codes"));
    const Eigen::Index N = std::min<Eigen::Index>(b.model_matrix_points, codes.rows());
    const Eigen::MatrixXd Z = codes.topRows(N);
    const pushpull::PullbackMetric metric(pushpull::ReadDecoder(files.front(), false));
    pushpull::GeodesicBatchOptions o;
    o.log_map = Timed(b);
    o.threads = b.threads;
    const auto t0 = Clock::now();
    const pushpull::DistanceMatrixResult result = pushpull::ComputeDistanceMatrix(metric, Z, o);
    const double s = Seconds(t0);
    int failed = 0;
    for (Eigen::Index i = 0; i < N; ++i) {
      for (Eigen::Index j = i + 1; j < N; ++j) {
        failed += !pushpull::Usable(result.status_at(static_cast<std::size_t>(i), static_cast<std::size_t>(j)));
      }
    }
    std::printf("\ndistance matrix of the first %ld /latent_codes of %s (mean metric), %d threads: %.1f s, %d of %ld "
                "pairs failed; triangle pass: %zu re-solved, %zu violations left\n",
                static_cast<long>(N), Stem(files.front()).c_str(), b.threads, s, failed,
                static_cast<long>(N * (N - 1) / 2), result.repairs.size(), result.violations.size());
  }
  std::printf("\ntargets (-bench_target_ms %g, -bench_target_p95_ms %g, -bench_target_error %g, 0 failed, no length "
              "above the reference): %s\n",
              b.target_ms, b.target_p95_ms, b.target_error, all_met ? "all met" : "not all met");
  return 0;
}

int Run(const BenchOptions& b) {
  if (!b.models.empty()) return RunModels(b);
  const auto metric = MakeMetric(b);
  const std::string check_before = MachineCheck(*metric);
  std::mt19937_64 rng(static_cast<std::uint64_t>(b.data_seed));
  std::normal_distribution<double> normal(0.0, b.latent_scale);
  auto draw = [&] {
    VectorXd z(2);
    z << normal(rng), normal(rng);
    return z;
  };
  std::vector<std::pair<VectorXd, VectorXd>> pairs;
  for (int p = 0; p < b.pairs; ++p) {  // start, then end: two calls in one argument list have no defined order
    VectorXd start = draw();
    pairs.emplace_back(std::move(start), draw());
  }

  std::printf("bench_geodesic: decoder 2 -> ");
  for (double h : b.hidden) std::printf("%d -> ", static_cast<int>(h));
  std::printf("%d (tanh, sigmoid output), %d pairs from N(0, %g^2 I); load average %s; %u hardware threads\n",
              b.output_dim, b.pairs, b.latent_scale, LoadAverage().c_str(), std::thread::hardware_concurrency());

  // Reference lengths.
  LogMapOptions ref;
  ref.shots.ode.rtol = ref.verify.ode.rtol = b.ref_shot_tol;
  ref.shots.ode.atol = ref.verify.ode.atol = b.ref_shot_tol * 1e-2;
  // SUNDIALS' default corrector test, tighter than the timed solves' (which use 1 for shots and verification).
  ref.shots.ode.nonlinear_convergence = ref.verify.ode.nonlinear_convergence = 0.1;
  ref.tol = b.ref_bvp_tol;
  ref.shots.ode.max_steps = 100000;  // tight shots of long geodesics take many steps
  std::vector<double> reference(pairs.size(), std::nan(""));
  int ref_failed = 0;
  const auto t_ref = Clock::now();
  for (std::size_t p = 0; p < pairs.size(); ++p) {
    const LogMapResult r = pushpull::LogMap(*metric, pairs[p].first, pairs[p].second, ref);
    if (r.usable()) {
      reference[p] = r.length;
    } else {
      ++ref_failed;
      std::printf("  reference failed for pair %zu: %s\n", p, r.message.c_str());
    }
  }
  std::printf("reference: shot/verify rtol %g, bvp_tol %g, %d failed, %.2f s\n\n", b.ref_shot_tol, b.ref_bvp_tol,
              ref_failed, Seconds(t_ref));

  std::printf("times: each pair's fastest of %d passes over all pairs (-bench_repeats)\n", b.repeats);
  std::printf("%-18s %10s %10s %8s %8s %7s %12s %12s  %s\n", "solver", "median ms", "worst ms", "it med", "it max",
              "failed", "err median", "err worst", "verdict");
  bool all_met = true;
  for (const std::string& solver : SplitList(b.solvers)) {
    LogMapOptions o = Timed(b);
    o.type = solver;
    std::vector<double> ms, iters, errors;
    int failed = 0, silent = 0;
    std::vector<std::string> reasons;
    // Passes over all pairs; the solves are deterministic, so every pass computes the same results.
    std::vector<LogMapResult> results(pairs.size());
    ms.assign(pairs.size(), INFINITY);
    for (int k = 0; k < b.repeats; ++k) {
      for (std::size_t p = 0; p < pairs.size(); ++p) {
        const auto t0 = Clock::now();
        results[p] = pushpull::LogMap(*metric, pairs[p].first, pairs[p].second, o);
        ms[p] = std::min(ms[p], 1e3 * Seconds(t0));
      }
    }
    for (std::size_t p = 0; p < pairs.size(); ++p) {
      const LogMapResult& r = results[p];
      iters.push_back(r.iterations);
      if (!r.usable()) {
        ++failed;
        if (r.message.empty()) ++silent;
        if (reasons.size() < 3) reasons.push_back("pair " + std::to_string(p) + ": " + r.message);
        continue;
      }
      if (std::isfinite(reference[p])) errors.push_back(std::abs(r.length - reference[p]) / reference[p]);
    }
    const double median = Quantile(ms, 0.5), worst_err = errors.empty() ? std::nan("") : Quantile(errors, 1.0);
    const bool met = median <= b.target_ms && worst_err <= b.target_error && silent == 0;
    all_met = all_met && met;
    std::printf("%-18s %10.2f %10.2f %8.0f %8.0f %7d %12.2e %12.2e  %s\n", solver.c_str(), median, Quantile(ms, 1.0),
                Quantile(iters, 0.5), Quantile(iters, 1.0), failed, Quantile(errors, 0.5), worst_err,
                met ? "target met" : "target missed");
    for (const auto& reason : reasons) std::printf("    failed %s\n", reason.c_str());
  }

  if (b.matrix_points > 1) {
    std::vector<VectorXd> points;
    for (int i = 0; i < b.matrix_points; ++i) points.push_back(i < b.pairs ? pairs[static_cast<std::size_t>(i)].first : draw());
    Eigen::MatrixXd Z(b.matrix_points, 2);
    for (int i = 0; i < b.matrix_points; ++i) Z.row(i) = points[static_cast<std::size_t>(i)].transpose();
    // The code `pushpull distances` runs: the batch layer with its triangle pass, one metric shared by the threads.
    pushpull::GeodesicBatchOptions o;
    o.log_map = Timed(b);
    o.threads = b.threads;
    double s = INFINITY;
    pushpull::DistanceMatrixResult result;
    for (int repeat = 0; repeat < b.repeats; ++repeat) {
      const auto t0 = Clock::now();
      result = pushpull::ComputeDistanceMatrix(*metric, Z, o);
      s = std::min(s, Seconds(t0));
    }
    const std::size_t N = static_cast<std::size_t>(b.matrix_points), npairs = N * (N - 1) / 2;
    int failed = 0, silent = 0;
    for (std::size_t i = 0; i < N; ++i) {
      for (std::size_t j = i + 1; j < N; ++j) {
        if (!pushpull::Usable(result.status_at(i, j))) {
          ++failed;
          if (result.status[i * N + j].message.empty()) ++silent;
        }
      }
    }
    const auto shortened = std::count_if(result.repairs.begin(), result.repairs.end(),
                                         [](const pushpull::TriangleRepair& t) { return t.changed; });
    const bool met = s <= b.target_matrix_seconds && silent == 0;
    all_met = all_met && met;
    std::printf("\ndistance matrix: %d points, %zu pairs, %d threads, default options: %.2f s "
                "(best of %d), %d failed (%d without a reason)  %s (target %.0f s)\n",
                b.matrix_points, npairs, b.threads, s, b.repeats, failed, silent,
                met ? "target met" : "target missed", b.target_matrix_seconds);
    std::printf("triangle pass (rtol %g): %zu re-solved in %d rounds, %ld shortened, %zu violations left\n",
                o.triangle.rtol, result.repairs.size(), result.triangle_rounds, static_cast<long>(shortened),
                result.violations.size());
  }
  std::printf("\nmachine check: before %s\n               after  %s\n", check_before.c_str(),
              MachineCheck(*metric).c_str());
  std::printf("\ntargets: median <= %g ms and worst relative length error <= %g per solver; matrix <= %g s: %s\n",
              b.target_ms, b.target_error, b.target_matrix_seconds, all_met ? "all met" : "not all met");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return pushpull::bench::BenchMain<BenchOptions>("bench_geodesic", argc, argv, Run);
}

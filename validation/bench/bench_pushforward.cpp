// bench_pushforward: speed and accuracy of exact log-densities of a continuous normalizing flow.
//
// Case: the two-dimensional concat MLP field 3 -> 64 -> 64 -> 64 -> 2 (tanh), base at t = 0. The data points are
// standard-normal draws pushed forward at a tight tolerance, so that they lie where the model's mass is. The
// benchmark computes its own reference (dopri5 at rtol = atol = 1e-12, cross-checked with bdf at the same
// tolerance) and prints, per integrator, tolerance and batch size: the maximum log-density error over the points,
// the wall time of ComputeDensity (best of several runs), field evaluations and steps per sample, and the share of
// the threads' time spent inside field evaluations. A summary gives, per integrator, the fastest configuration
// reaching the target error and the time for one point alone at the same accuracy.
//
// Targets (issue text, 2-core machine): the 1000 points to max error <= 1e-6 in <= 0.1 s; one point alone at the
// same accuracy in <= 0.5 ms; >= 80% of the wall time inside field evaluations for batch sizes >= 32.
//
//   bench_pushforward -help
//   bench_pushforward -bench_methods dopri5 -bench_batch_sizes 32,256 -bench_tols 1e-6,1e-8
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <Eigen/Core>

#include "pushpull/errors.hpp"
#include "pushpull/event_log.hpp"
#include "pushpull/field.hpp"
#include "pushpull/mlp.hpp"
#include "pushpull/ode.hpp"
#include "pushpull/options.hpp"
#include "bench_support.hpp"
#include "pushpull/pushforward.hpp"

namespace {

using pushpull::RowMatrixXd;
using pushpull::bench::Clock;
using pushpull::bench::LoadAverage;
using pushpull::bench::Seconds;
using pushpull::bench::SplitList;

struct BenchOptions {
  bool help = false;
  int points = 1000;
  int threads = 2;
  std::vector<double> batch_sizes{1, 32, 256};
  std::string methods = "dopri5,bdf,adams,esdirk";
  std::vector<double> tols{1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10};
  std::vector<double> hidden{64, 64, 64};
  std::int64_t model_seed = 7;
  double weight_scale = 1.0;
  std::int64_t data_seed = 1;
  double data_tol = 1e-10;
  double ref_tol = 1e-12;
  int ref_batch = 1;
  int repeats = 3;
  double repeat_below = 0.5;
  double skip_above = 2.5;
  int single_runs = 50;
  double target_error = 1e-6;
  double target_seconds = 0.1;
  double target_single_ms = 0.5;
  double target_field_share = 0.8;

  void SetFromOptions(pushpull::OptionsDatabase& db) {
    db.SetSection("bench_pushforward");
    db.Bool("", "help", help, "Print these options with their values and defaults, then exit", "");
    db.Int("", "bench_points", points, "Data points whose log-densities are timed", "BenchOptions::points",
           {1, 1 << 24});
    db.Int("", "bench_threads", threads, "Worker threads of the timed runs (0 = all cores)", "BenchOptions::threads",
           {0, 1024});
    db.RealList("", "bench_batch_sizes", batch_sizes, "Batch sizes (samples per ODE system) to time",
                "BenchOptions::batch_sizes", pushpull::RealBounds::Closed(1, 1 << 20));
    db.String("", "bench_methods", methods, "Comma-separated integrators (-ode_type names) to time",
              "BenchOptions::methods");
    db.RealList("", "bench_tols", tols, "Tolerances to time (rtol = atol)", "BenchOptions::tols",
                pushpull::RealBounds::Positive());
    db.RealList("", "bench_hidden", hidden, "Hidden layer widths of the random concat MLP field",
                "BenchOptions::hidden", pushpull::RealBounds::Closed(1, 1 << 16));
    db.Int("", "bench_model_seed", model_seed, "Seed of the random network weights", "BenchOptions::model_seed",
           pushpull::IntBounds::AtLeast(0));
    db.Real("", "bench_weight_scale", weight_scale, "Scale of the random weights (times 1/sqrt(fan-in))",
            "BenchOptions::weight_scale", pushpull::RealBounds::Positive());
    db.Int("", "bench_data_seed", data_seed, "Seed of the base draws pushed forward to make the data points",
           "BenchOptions::data_seed", pushpull::IntBounds::AtLeast(0));
    db.Real("", "bench_data_tol", data_tol, "Tolerance (dopri5) of the push-forward that makes the data points",
            "BenchOptions::data_tol", pushpull::RealBounds::Positive());
    db.Real("", "bench_ref_tol", ref_tol, "Tolerance of the reference log-densities (dopri5, checked with bdf)",
            "BenchOptions::ref_tol", pushpull::RealBounds::Positive());
    db.Int("", "bench_ref_batch", ref_batch, "Batch size of the reference runs", "BenchOptions::ref_batch",
           {1, 1 << 20});
    db.Int("", "bench_repeats", repeats, "Timed runs per configuration; the best is reported",
           "BenchOptions::repeats", {1, 1000});
    db.Real("", "bench_repeat_below", repeat_below,
            "Repeat a configuration only when its first run took less than this many seconds",
            "BenchOptions::repeat_below", pushpull::RealBounds::NonNegative());
    db.Real("", "bench_skip_above", skip_above,
            "After a run slower than this many seconds, skip the tighter tolerances of that integrator and batch size",
            "BenchOptions::skip_above", pushpull::RealBounds::Positive());
    db.Int("", "bench_single_runs", single_runs, "Runs of the one-point timing; the median is reported",
           "BenchOptions::single_runs", {1, 1000000});
    db.Real("", "bench_target_error", target_error, "Target maximum log-density error over the points",
            "BenchOptions::target_error", pushpull::RealBounds::Positive());
    db.Real("", "bench_target_seconds", target_seconds, "Target time for all the points at the target error",
            "BenchOptions::target_seconds", pushpull::RealBounds::Positive());
    db.Real("", "bench_target_single_ms", target_single_ms,
            "Target time in ms for one point alone at the target error", "BenchOptions::target_single_ms",
            pushpull::RealBounds::Positive());
    db.Real("", "bench_target_field_share", target_field_share,
            "Target share of the threads' time inside field evaluations for batch sizes >= 32",
            "BenchOptions::target_field_share", pushpull::RealBounds::Closed(0, 1));
  }
};




// Seconds spent inside field evaluations (summed over threads) since the last EventLog reset.
double FieldSeconds() {
  double s = 0;
  for (const auto& row : pushpull::EventLog::Global().Rows()) {
    if (row.name == "FieldEval" || row.name == "FieldDivergence" || row.name == "FieldJvp" ||
        row.name == "FieldJacobian") {
      s += row.seconds;
    }
  }
  return s;
}

pushpull::PushforwardOptions MakeOptions(const std::string& method, double tol, int batch, int threads) {
  pushpull::PushforwardOptions o;
  o.ode.type = method;
  o.ode.rtol = tol;
  o.ode.atol = tol;
  o.batch_size = batch;
  o.threads = threads;
  return o;
}

int ThreadsUsed(int threads, std::size_t n, int batch) {
  const int requested = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const std::size_t blocks = (n + static_cast<std::size_t>(batch) - 1) / static_cast<std::size_t>(batch);
  return std::max(1, std::min<int>(requested, static_cast<int>(std::max<std::size_t>(blocks, 1))));
}

struct Row {
  std::string method;
  double tol = 0;
  int batch = 0;
  bool skipped = false;
  std::size_t failed = 0;
  double max_error = std::numeric_limits<double>::quiet_NaN();
  double wall = 0;
  double nfe = 0;
  double steps = 0;
  double field_share = 0;
  double us_per_eval = 0;  // field time per point and evaluation, in microseconds
  int runs = 0;
  bool ok(double target) const { return !skipped && failed == 0 && max_error <= target; }
};

double MaxError(const pushpull::PushforwardResult& r, const Eigen::VectorXd& ref, std::size_t* failed) {
  double e = 0;
  *failed = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (!r.status[i].usable()) {
      ++*failed;
      continue;
    }
    const double d = std::abs(r.log_density(static_cast<Eigen::Index>(i)) - ref(static_cast<Eigen::Index>(i)));
    e = std::isfinite(d) ? std::max(e, d) : std::numeric_limits<double>::infinity();
  }
  return e;
}

double Mean(const std::vector<std::int64_t>& v) {
  double s = 0;
  for (auto x : v) s += static_cast<double>(x);
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

// One configuration: best of `repeats` timed runs (only the first when it was slow).
Row TimeConfiguration(const pushpull::VectorField& field, const RowMatrixXd& points, const Eigen::VectorXd& ref,
                      const std::string& method, double tol, int batch, const BenchOptions& b) {
  Row row;
  row.method = method;
  row.tol = tol;
  row.batch = batch;
  const auto options = MakeOptions(method, tol, batch, b.threads);
  const int used = ThreadsUsed(b.threads, static_cast<std::size_t>(points.rows()), batch);
  row.wall = std::numeric_limits<double>::infinity();
  for (int k = 0; k < b.repeats; ++k) {
    pushpull::EventLog::Global().Reset();
    const auto start = Clock::now();
    const auto r = pushpull::ComputeDensity(field, 0.0, points, options);
    const double wall = Seconds(start);
    const double field_seconds = FieldSeconds();
    ++row.runs;
    if (k == 0) {
      row.max_error = MaxError(r, ref, &row.failed);
      row.nfe = Mean(r.nfe);
      row.steps = Mean(r.steps);
    }
    if (wall < row.wall) {
      row.wall = wall;
      row.field_share = field_seconds / (wall * used);
      row.us_per_eval = 1e6 * field_seconds / (row.nfe * static_cast<double>(points.rows()));
    }
    if (k == 0 && wall >= b.repeat_below) break;
  }
  return row;
}

void PrintRow(const Row& r) {
  if (r.skipped) {
    std::printf("%-7s %8.0e %6d   %-s\n", r.method.c_str(), r.tol, r.batch, "skipped (a looser tolerance was slow)");
    return;
  }
  char failed[32] = "";
  if (r.failed) std::snprintf(failed, sizeof failed, "%zu failed", r.failed);
  std::printf("%-7s %8.0e %6d %10.2e %10.4f %10.1f %8.1f %7.1f%% %8.2f %5d  %s\n", r.method.c_str(), r.tol,
              r.batch, r.max_error, r.wall, r.nfe, r.steps, 100.0 * r.field_share, r.us_per_eval, r.runs, failed);
  std::fflush(stdout);
}

int Run(const BenchOptions& b) {
  const std::vector<std::string> methods = SplitList(b.methods);
  for (const auto& m : methods) {
    if (!pushpull::OdeIntegrators().Has(m)) throw pushpull::InputError("-bench_methods: unknown integrator '" + m + "'");
  }
  if (methods.empty()) throw pushpull::InputError("-bench_methods: empty list");
  if (b.tols.empty()) throw pushpull::InputError("-bench_tols: empty list");
  if (b.batch_sizes.empty()) throw pushpull::InputError("-bench_batch_sizes: empty list");
  if (b.hidden.empty()) throw pushpull::InputError("-bench_hidden: empty list");
  std::vector<int> batches;
  for (double x : b.batch_sizes) batches.push_back(static_cast<int>(x));
  std::vector<int> hidden;
  for (double x : b.hidden) hidden.push_back(static_cast<int>(x));
  std::vector<double> tols = b.tols;
  std::sort(tols.begin(), tols.end(), [](double x, double y) { return x > y; });  // loose to tight

  const auto t_total = Clock::now();
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", std::localtime(&now));
  std::string widths = "3";
  for (int h : hidden) widths += " -> " + std::to_string(h);
  widths += " -> 2";
  std::printf("bench_pushforward  %s  (%u hardware threads, load average %s)\n", date,
              std::thread::hardware_concurrency(), LoadAverage().c_str());
  // The SIMD flags of this translation unit; the library's field code is only as fast as its own flags (build
  // everything with -DCMAKE_CXX_FLAGS=-march=native to compare).
  std::printf("Eigen SIMD in this build: %s\n", Eigen::SimdInstructionSetsInUse());
  std::printf("field: concat MLP %s, tanh, weight scale %g, seed %lld; base time 0\n", widths.c_str(),
              b.weight_scale, static_cast<long long>(b.model_seed));

  const pushpull::Mlp mlp = pushpull::RandomMlp(2, 2, hidden, pushpull::TimeInput::kConcat,
                                                pushpull::Activation::kTanh, static_cast<unsigned>(b.model_seed),
                                                b.weight_scale);
  const auto field = pushpull::MakeMlpField(mlp);

  // Data points: base draws pushed forward, so that they lie where the model's mass is.
  auto t0 = Clock::now();
  const RowMatrixXd z = pushpull::DrawStandardNormal(static_cast<std::size_t>(b.points), 2,
                                                     static_cast<std::uint64_t>(b.data_seed));
  const auto pushed = pushpull::PushSamples(*field, 0.0, z, MakeOptions("dopri5", b.data_tol, 32, b.threads));
  std::vector<Eigen::Index> keep;
  for (std::size_t i = 0; i < pushed.size(); ++i) {
    if (pushed.status[i].usable()) keep.push_back(static_cast<Eigen::Index>(i));
  }
  RowMatrixXd points(static_cast<Eigen::Index>(keep.size()), 2);
  for (std::size_t i = 0; i < keep.size(); ++i) points.row(static_cast<Eigen::Index>(i)) = pushed.endpoints.row(keep[i]);
  const Eigen::VectorXd radius = points.rowwise().norm();
  std::printf("data: %zu points = %d standard-normal draws (seed %lld) pushed forward by dopri5 at tol %g (%.2f s, "
              "%zu failed); |x| max %.2f, mean %.2f\n",
              keep.size(), b.points, static_cast<long long>(b.data_seed), b.data_tol, Seconds(t0),
              pushed.size() - keep.size(), radius.maxCoeff(), radius.mean());
  if (keep.empty()) throw std::runtime_error("no data point could be made");

  // Reference: dopri5 at ref_tol, cross-checked with bdf at the same tolerance.
  t0 = Clock::now();
  const auto ref = pushpull::ComputeDensity(*field, 0.0, points, MakeOptions("dopri5", b.ref_tol, b.ref_batch, b.threads));
  const double ref_seconds = Seconds(t0);
  if (ref.failed()) {
    std::size_t first = 0;
    while (ref.status[first].usable()) ++first;
    throw std::runtime_error("the dopri5 reference failed for " + std::to_string(ref.failed()) + " points, e.g. " +
                             std::to_string(first) + ": " + ref.status[first].message);
  }
  t0 = Clock::now();
  const auto check = pushpull::ComputeDensity(*field, 0.0, points, MakeOptions("bdf", b.ref_tol, b.ref_batch, b.threads));
  const double check_seconds = Seconds(t0);
  std::size_t check_failed = 0;
  const double agreement = MaxError(check, ref.log_density, &check_failed);
  std::printf("reference: dopri5 at rtol = atol = %g, batch %d: %.2f s, NFE/sample %.0f, log p in [%.3f, %.3f]\n",
              b.ref_tol, b.ref_batch, ref_seconds, Mean(ref.nfe), ref.log_density.minCoeff(),
              ref.log_density.maxCoeff());
  std::printf("reference check: bdf at %g (%.2f s, NFE/sample %.0f): max |difference| %.2e%s%s\n", b.ref_tol,
              check_seconds, Mean(check.nfe), agreement, check_failed ? " (some bdf runs failed)" : "",
              agreement <= 1e-9 ? " (agrees to 1e-9)" : " (WARNING: above 1e-9)");
  const int threads_used = b.threads > 0 ? b.threads : static_cast<int>(std::thread::hardware_concurrency());
  std::printf("\ntimed runs: ComputeDensity of all %lld points, %d thread(s), best of %d runs (1 when the first "
              "took >= %g s)\n", static_cast<long long>(points.rows()), threads_used, b.repeats, b.repeat_below);
  std::printf("nfe/smp = field evaluations of the sample's block (bdf and adams count the state-only evaluations and "
              "the once-per-step divergence evaluations; Jacobian and Jv evaluations count too)\n");
  std::printf("field%% = time inside Field* events (summed over threads) / (wall time x threads used); us/eval = "
              "field time per point and field evaluation\n\n");
  std::printf("%-7s %8s %6s %10s %10s %10s %8s %8s %8s %5s\n", "method", "tol", "batch", "max_err", "wall_s",
              "nfe/smp", "steps", "field%", "us/eval", "runs");

  std::vector<Row> rows;
  for (const auto& m : methods) {
    for (int batch : batches) {
      bool skip = false;
      for (double tol : tols) {
        Row r;
        if (skip) {
          r.method = m;
          r.tol = tol;
          r.batch = batch;
          r.skipped = true;
        } else {
          r = TimeConfiguration(*field, points, ref.log_density, m, tol, batch, b);
          skip = r.wall > b.skip_above;
        }
        PrintRow(r);
        rows.push_back(r);
      }
    }
    std::printf("\n");
  }

  // Summary.
  std::printf("summary (target: max error <= %g; all %lld points in <= %g s; one point in <= %g ms; field share >= "
              "%.0f%% for batch >= 32)\n",
              b.target_error, static_cast<long long>(points.rows()), b.target_seconds, b.target_single_ms,
              100 * b.target_field_share);
  const RowMatrixXd one = points.topRows(1);
  for (const auto& m : methods) {
    const Row* best = nullptr;
    for (const auto& r : rows) {
      if (r.method == m && r.ok(b.target_error) && (!best || r.wall < best->wall)) best = &r;
    }
    if (best) {
      std::printf("%-7s all points: %.4f s at tol %.0e, batch %d (max error %.2e, NFE/sample %.1f, field %.0f%%): "
                  "%s\n",
                  m.c_str(), best->wall, best->tol, best->batch, best->max_error, best->nfe, 100 * best->field_share,
                  best->wall <= b.target_seconds ? "meets target" : "MISSES target");
    } else {
      std::printf("%-7s all points: no configuration reached max error <= %g\n", m.c_str(), b.target_error);
    }
    // One point alone at the same accuracy: the loosest tolerance at which batch 1 gives max error <= target over
    // all points (from the table when batch 1 was timed, otherwise computed here; past the list's tightest
    // tolerance in tenfold steps down to the reference tolerance). Batching tightens each sample's tolerance (by
    // sqrt(B)), so batch 1 rarely reaches the target at a looser tolerance than the best configuration's: the
    // search starts there (conservative: it never reports a tolerance that is too loose).
    std::vector<double> search;
    for (double t : tols) {
      if (!best || t <= best->tol) search.push_back(t);
    }
    for (double t = tols.back() / 10; t >= b.ref_tol * 0.999; t /= 10) search.push_back(t);
    double tol1 = 0;
    double err1 = 0;
    for (double tol : search) {
      const Row* hit = nullptr;
      for (const auto& r : rows) {
        if (r.method == m && r.batch == 1 && r.tol == tol && !r.skipped) hit = &r;
      }
      std::size_t failed = 0;
      double e = 0;
      if (hit) {
        failed = hit->failed;
        e = hit->max_error;
      } else {
        const auto r = pushpull::ComputeDensity(*field, 0.0, points, MakeOptions(m, tol, 1, b.threads));
        e = MaxError(r, ref.log_density, &failed);
      }
      if (failed == 0 && e <= b.target_error) {
        tol1 = tol;
        err1 = e;
        break;
      }
    }
    if (tol1 == 0) {
      std::printf("%-7s one point:  no tolerance reached max error <= %g with batch 1\n", m.c_str(), b.target_error);
      continue;
    }
    const auto options = MakeOptions(m, tol1, 1, 1);
    std::vector<double> times;
    double nfe1 = 0;
    for (int k = 0; k < b.single_runs; ++k) {
      const auto start = Clock::now();
      const auto r = pushpull::ComputeDensity(*field, 0.0, one, options);
      times.push_back(Seconds(start));
      nfe1 = Mean(r.nfe);
    }
    std::nth_element(times.begin(), times.begin() + static_cast<long>(times.size() / 2), times.end());
    const double median_ms = 1e3 * times[times.size() / 2];
    std::printf("%-7s one point:  %.3f ms at tol %.0e (batch 1, 1 thread, median of %d; NFE %.0f; batch-1 max "
                "error over all points %.2e): %s\n",
                m.c_str(), median_ms, tol1, b.single_runs, nfe1, err1,
                median_ms <= b.target_single_ms ? "meets target" : "MISSES target");
  }
  // Field share for batch >= 32.
  double worst_share = 1;
  const Row* worst = nullptr;
  for (const auto& r : rows) {
    if (!r.skipped && r.batch >= 32 && r.field_share < worst_share) {
      worst_share = r.field_share;
      worst = &r;
    }
  }
  if (worst) {
    std::printf("field share, batch >= 32: lowest %.1f%% (%s, tol %.0e, batch %d): %s\n", 100 * worst_share,
                worst->method.c_str(), worst->tol, worst->batch,
                worst_share >= b.target_field_share ? "meets target" : "MISSES target");
  }
  std::printf("total benchmark time %.1f s (load average now %s)\n", Seconds(t_total), LoadAverage().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return pushpull::bench::BenchMain<BenchOptions>("bench_pushforward", argc, argv, Run);
}

#include "pushpull/geodesic_batch.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>

#include "pushpull/errors.hpp"
#include "pushpull/event_log.hpp"
#include "pushpull/options.hpp"
#include "pushpull/parallel.hpp"

namespace pushpull {
namespace {

using Eigen::VectorXd;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const int kEventTriangle = EventLog::Global().Register("TrianglePass");

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void RequirePoint(const Metric& metric, const VectorXd& z, const std::string& which) {
  if (z.size() != metric.dim()) {
    throw InputError(which + " has " + std::to_string(z.size()) + " coordinates, but the metric is " +
                     std::to_string(metric.dim()) + "-dimensional");
  }
  if (!z.allFinite()) throw InputError(which + " " + FormatPoint(z) + " is not finite");
  std::string why;
  if (!metric.InDomain(z, &why)) {
    throw InputError(which + " " + FormatPoint(z) + " lies outside the metric's domain: " + why);
  }
}

void RequireValid(const GeodesicBatchOptions& options) {
  const std::string why = options.Validate();
  if (!why.empty()) throw InputError("geodesic batch options: " + why);
}

// The checks of the batch options' threads and curve_samples: empty when valid.
std::string ValidateThreadsAndSamples(int threads, int curve_samples) {
  if (threads < 0) return "threads: " + std::to_string(threads) + " must be >= 0";
  if (curve_samples < 0 || curve_samples == 1) {
    return "curve_samples: " + std::to_string(curve_samples) + " must be 0 (no curves) or at least 2";
  }
  return "";
}

// One solve of a batch: the guess (given, from the provider, or LogMap's own), the per-item monitor, and the
// exception policy of the batch (InputError propagates, anything else is the item's integration failure).
LogMapResult SolveOne(const Metric& metric, const VectorXd& z0, const VectorXd& z1, const LogMapOptions& options,
                      const GuessProvider& provider, const InitialCurve* guess, const GeodesicBatchHooks* hooks,
                      const std::string& label) {
  try {
    std::unique_ptr<BvpMonitor> monitor;
    if (hooks && hooks->bvp_monitor) monitor = hooks->bvp_monitor(label);
    if (guess) return LogMap(metric, z0, z1, options, guess, monitor.get());
    if (provider) {
      const InitialCurve provided = provider(metric, z0, z1);
      return LogMap(metric, z0, z1, options, &provided, monitor.get());
    }
    return LogMap(metric, z0, z1, options, nullptr, monitor.get());
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    LogMapResult r;
    r.status = GeodesicStatus::kIntegrationFailure;
    r.message = std::string("error: ") + e.what();
    return r;
  }
}

// The output times of a curve of S samples after its start point: t_k = k / (S - 1), k = 1 .. S - 1.
std::vector<double> CurveTimes(int S) {
  std::vector<double> times;
  for (int k = 1; k < S; ++k) times.push_back(static_cast<double>(k) / (S - 1));
  return times;
}

// hooks->first_item (0 without hooks), checked against the n items of the batch.
template <class Hooks>
std::size_t FirstItem(const Hooks* hooks, std::size_t n, const char* function, const char* items) {
  const std::size_t first = hooks ? hooks->first_item : 0;
  if (first > n) {
    throw InputError(std::string(function) + ": first_item " + std::to_string(first) + " exceeds the " +
                     std::to_string(n) + " " + items);
  }
  return first;
}

template <class Hooks>
void NotifyProgress(Hooks* hooks, const char* task, std::size_t done, std::size_t total,
                    std::size_t failed, double seconds, bool finished) {
  if (!hooks || !hooks->progress) return;
  ProgressEvent e;
  e.task = task;
  e.done = done;
  e.total = total;
  e.failed = failed;
  e.elapsed_seconds = seconds;
  e.finished = finished;
  hooks->progress->Notify(e);
}

// A geodesic sampled at s = m / (samples - 1) with its velocities dg/ds: chained ExpMaps over the pieces
// (Exp_p(v / M) covers 1 / M of the curve and ends with velocity g'(s) / M).
bool SampleGeodesic(const Metric& metric, const VectorXd& z, const VectorXd& u, int samples,
                    const GeodesicOptions& integrator, std::vector<VectorXd>* points,
                    std::vector<VectorXd>* velocities) {
  const int pieces = samples - 1;
  points->assign(1, z);
  velocities->assign(1, u);
  for (int m = 0; m < pieces; ++m) {
    const ExpMapResult r = ExpMap(metric, points->back(), velocities->back() / pieces, integrator);
    if (!r.usable() || !r.end_point.allFinite() || !r.end_velocity.allFinite()) return false;
    points->push_back(r.end_point);
    velocities->push_back(r.end_velocity * pieces);
  }
  return true;
}

// One leg of the concatenated curve: a geodesic from `start` with initial velocity `velocity`, run backwards when
// `reversed` (then it is traversed from its end to `start`).
struct Leg {
  VectorXd start, velocity;
  double length = 0;
  bool reversed = false;
};

// The initial curve z_i -> z_k -> z_j from two geodesic legs (see ComputeDistanceMatrix): times proportional to
// length, velocities scaled from the legs' time s to the curve's time t, the mean of both sides at z_k, and the
// vertices at z_i, z_k and z_j exact. Empty points when a leg cannot be sampled.
InitialCurve ConcatenatedCurve(const Metric& metric, const VectorXd& z_i, const VectorXd& z_k, const VectorXd& z_j,
                               const Leg& a, const Leg& b, int samples, const GeodesicOptions& integrator) {
  InitialCurve curve;
  const double total = a.length + b.length;
  const Leg* legs[2] = {&a, &b};
  const VectorXd* ends[2] = {&z_k, &z_j};
  double t0 = 0;
  for (int l = 0; l < 2; ++l) {
    const Leg& leg = *legs[l];
    const double share = leg.length / total;  // of the curve's time
    std::vector<VectorXd> p, v;
    if (!SampleGeodesic(metric, leg.start, leg.velocity, samples, integrator, &p, &v)) return {};
    if (leg.reversed) {
      std::reverse(p.begin(), p.end());
      std::reverse(v.begin(), v.end());
      for (auto& x : v) x = -x;
    }
    p.back() = *ends[l];
    const int pieces = samples - 1;
    for (int m = 0; m < samples; ++m) {
      const VectorXd velocity = v[static_cast<std::size_t>(m)] / share;
      if (l == 1 && m == 0) {  // the junction z_k: the mean of the velocities on both sides
        curve.velocities.back() = 0.5 * (curve.velocities.back() + velocity);
        continue;
      }
      curve.times.push_back(l == 1 && m == pieces ? 1.0 : t0 + share * m / pieces);
      curve.points.push_back(p[static_cast<std::size_t>(m)]);
      curve.velocities.push_back(velocity);
    }
    t0 += share;
  }
  curve.points.front() = z_i;
  curve.description = "triangle pass: geodesics via a third point";
  return curve;
}

}  // namespace

// ---- Options ---------------------------------------------------------------------------------------------------

void TrianglePassOptions::SetFromOptions(OptionsDatabase& db, std::string_view prefix) {
  db.SetSection("Distance matrix: triangle-inequality pass");
  db.Real(prefix, "triangle_rtol", rtol,
          "An entry d(i, j) counts as violating the triangle inequality when some k has d(i, k) + d(k, j) < (1 - "
          "rtol) d(i, j); it is then re-solved from the geodesics i -> k -> j and takes the new length when that "
          "converges and is shorter",
          "TrianglePassOptions::rtol", RealBounds{0.0, 1.0, false, true});
  db.Int(prefix, "triangle_rounds", max_rounds,
         "Rounds of the triangle pass (detection, then re-solves); it stops earlier when a round changes nothing; "
         "0 = no re-solves (violations are still reported)",
         "TrianglePassOptions::max_rounds", {0, 100});
  db.Int(prefix, "triangle_curve_samples", curve_samples,
         "Samples per geodesic of the initial curve i -> k -> j of a re-solve (both end points included)",
         "TrianglePassOptions::curve_samples", {2, 1000});
}

std::string TrianglePassOptions::Validate(std::string_view prefix) const {
  TrianglePassOptions copy = *this;
  return CheckDeclared([&](OptionsDatabase& db) { copy.SetFromOptions(db, prefix); });
}

std::string GeodesicBatchOptions::Validate() const {
  if (std::string why = log_map.Validate(); !why.empty()) return why;
  if (std::string why = ValidateThreadsAndSamples(threads, curve_samples); !why.empty()) return why;
  return triangle.Validate();
}

std::size_t GeodesicBatchResult::failed() const {
  return static_cast<std::size_t>(
      std::count_if(status.begin(), status.end(), [](const PairStatus& s) { return !s.usable(); }));
}

RunSummary GeodesicBatchResult::Summary() const {
  RunSummary summary;
  summary.task = "geodesic";
  summary.item = "pair";
  summary.CountAll(status);
  summary.ode = totals;
  summary.iterations = iterations;
  summary.seconds = seconds;
  return summary;
}

std::size_t DistanceMatrixResult::failed_pairs() const {
  std::size_t failed = 0;
  const std::size_t n = points();
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) failed += !status[i * n + j].usable();
  }
  return failed;
}

RunSummary DistanceMatrixResult::Summary() const {
  RunSummary summary;
  summary.task = "distances";
  summary.item = "pair";
  const std::size_t n = points();
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      summary.Count(status[i * n + j], [&] { return "pair (" + std::to_string(i) + ", " + std::to_string(j) + ")"; });
    }
  }
  summary.ode = totals;
  summary.iterations = iterations;
  summary.seconds = seconds;
  return summary;
}

// ---- SolveGeodesics ----------------------------------------------------------------------------------------------

GeodesicBatchResult SolveGeodesics(const Metric& metric, const std::vector<std::pair<VectorXd, VectorXd>>& pairs,
                                   const GeodesicBatchOptions& options, GeodesicBatchHooks* hooks) {
  const auto start = std::chrono::steady_clock::now();
  RequireValid(options);
  for (std::size_t p = 0; p < pairs.size(); ++p) {
    RequirePoint(metric, pairs[p].first, "pair " + std::to_string(p) + ", end 0: point");
    RequirePoint(metric, pairs[p].second, "pair " + std::to_string(p) + ", end 1: point");
  }
  const std::size_t P = pairs.size();
  const std::size_t first_item = FirstItem(hooks, P, "SolveGeodesics", "pairs");
  const int S = options.curve_samples;
  const std::vector<double> times = CurveTimes(S);

  GeodesicBatchResult r;
  r.solutions.resize(P);
  r.status.assign(P, PairStatus::FromValue(PairStatus::kNotComputed, "not computed"));
  if (S > 0) r.curves.resize(P);

  auto work = [&](int, std::size_t item) {
    const std::size_t p = first_item + item;
    const VectorXd& z0 = pairs[p].first;
    LogMapResult s = SolveOne(metric, z0, pairs[p].second, options.log_map, options.guess, nullptr, hooks,
                              "pair " + std::to_string(p));
    GeodesicStatus status = s.status;
    std::string message = s.message;
    if (S > 0 && s.status == GeodesicStatus::kApproximate && s.curve.times.size() >= 2) {
      // The best curve found (not a verified geodesic): sampled at the output times.
      std::vector<VectorXd> curve;
      curve.reserve(static_cast<std::size_t>(S));
      curve.push_back(z0);
      for (const double t : times) curve.push_back(s.curve.PointAt(t));
      r.curves[p] = std::move(curve);
    }
    if ((s.usable() || s.status == GeodesicStatus::kNotMinimal) && S > 0) {
      const ExpMapResult c = ExpMap(metric, z0, s.initial_velocity, options.log_map.verify, times);
      if (c.usable()) {
        std::vector<VectorXd> curve;
        curve.reserve(static_cast<std::size_t>(S));
        curve.push_back(z0);
        curve.insert(curve.end(), c.curve.begin(), c.curve.end());
        r.curves[p] = std::move(curve);
      } else {
        status = c.status;
        message = "integrating the curve failed: " + c.message;
      }
    }
    r.solutions[p] = std::move(s);
    r.status[p] = PairStatus(status, std::move(message));
  };
  std::size_t failed = 0;
  auto emit = [&](std::size_t item, std::size_t count) {
    const std::size_t first = first_item + item;
    for (std::size_t p = first; p < first + count; ++p) {
      failed += !r.usable(p);
      r.totals.Add(r.solutions[p].stats);
      r.iterations += r.solutions[p].iterations;
    }
    if (hooks && hooks->items_done) hooks->items_done(r, first, count);
    NotifyProgress(hooks, "geodesic", first + count, P, failed, SecondsSince(start), false);
  };
  ParallelForOrdered(P - first_item, options.threads, work, emit);
  r.seconds = SecondsSince(start);
  NotifyProgress(hooks, "geodesic", P, P, failed, r.seconds, true);
  return r;
}

// ---- Triangle inequality -----------------------------------------------------------------------------------------

std::vector<TriangleViolation> FindTriangleViolations(const Eigen::MatrixXd& d, double rtol) {
  std::vector<TriangleViolation> found;
  const Eigen::Index n = d.rows();
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = i + 1; j < n; ++j) {
      const double direct = d(i, j);
      if (!std::isfinite(direct)) continue;
      double best = std::numeric_limits<double>::infinity();
      Eigen::Index best_k = -1;
      for (Eigen::Index k = 0; k < n; ++k) {
        if (k == i || k == j) continue;
        const double via = d(i, k) + d(k, j);
        if (std::isfinite(via) && via < best) {
          best = via;
          best_k = k;
        }
      }
      if (best_k >= 0 && best < (1 - rtol) * direct) {
        found.push_back({static_cast<std::size_t>(i), static_cast<std::size_t>(j), static_cast<std::size_t>(best_k),
                         direct, best});
      }
    }
  }
  return found;
}

// ---- ComputeDistanceMatrix ---------------------------------------------------------------------------------------

DistanceMatrixResult ComputeDistanceMatrix(const Metric& metric, const Eigen::MatrixXd& points,
                                           const GeodesicBatchOptions& options, GeodesicBatchHooks* hooks) {
  const auto start = std::chrono::steady_clock::now();
  RequireValid(options);
  const std::size_t N = static_cast<std::size_t>(points.rows());
  std::vector<VectorXd> z(N);
  for (std::size_t i = 0; i < N; ++i) {
    z[i] = points.row(static_cast<Eigen::Index>(i)).transpose();
    RequirePoint(metric, z[i], "point " + std::to_string(i));
  }
  // Pairs (i, j > i) ordered by i: row i is complete once every pair up to row_end[i] is.
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  std::vector<std::size_t> row_end(N);
  for (std::size_t i = 0; i < N; ++i) {
    for (std::size_t j = i + 1; j < N; ++j) pairs.emplace_back(i, j);
    row_end[i] = pairs.size();
  }

  const std::size_t first_row = hooks ? hooks->first_row : 0;
  const DistanceMatrixResult* prior = hooks ? hooks->prior : nullptr;
  if (first_row > N) {
    throw InputError("ComputeDistanceMatrix: first_row " + std::to_string(first_row) + " exceeds the " +
                     std::to_string(N) + " points");
  }
  if (first_row > 0 && (!prior || prior->points() != N || prior->status.size() != N * N ||
                        prior->initial_velocity.size() != N * N)) {
    throw InputError("ComputeDistanceMatrix: first_row " + std::to_string(first_row) +
                     " needs a prior result of " + std::to_string(N) + " points");
  }
  // Pairs of rows [0, first_row) are the prior's: the first first_pair pairs in row order.
  const std::size_t first_pair = first_row == 0 ? 0 : row_end[first_row - 1];

  DistanceMatrixResult r;
  r.distances.setConstant(static_cast<Eigen::Index>(N), static_cast<Eigen::Index>(N), kNaN);
  r.status.assign(N * N, PairStatus::FromValue(PairStatus::kNotComputed, "not computed"));
  r.initial_velocity.resize(N * N);
  for (std::size_t i = 0; i < N; ++i) {
    r.distances(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(i)) = 0;
    r.status[i * N + i] = PairStatus(GeodesicStatus::kSuccess);
  }
  // Stores a solve of (i, j) in both triangles.
  auto store = [&](std::size_t i, std::size_t j, const LogMapResult& s) {
    const double length = s.usable() ? s.length : kNaN;
    r.distances(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = length;
    r.distances(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(i)) = length;
    r.status[i * N + j] = r.status[j * N + i] = PairStatus(s.status, s.message);
    r.initial_velocity[i * N + j] = s.usable() ? s.initial_velocity : VectorXd();
  };

  for (std::size_t p = 0; p < first_pair; ++p) {  // the prior's pairs, in both triangles
    const auto [i, j] = pairs[p];
    const double length = prior->distances(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j));
    r.distances(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = length;
    r.distances(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(i)) = length;
    r.status[i * N + j] = r.status[j * N + i] = prior->status[i * N + j];
    r.initial_velocity[i * N + j] = prior->initial_velocity[i * N + j];
  }

  // Per pair its solve's statistics and iterations, summed in pair order by emit (independent of the threads).
  std::vector<OdeStats> pair_stats(pairs.size());
  std::vector<std::int64_t> pair_iterations(pairs.size(), 0);
  auto work = [&](int, std::size_t item) {
    const std::size_t p = first_pair + item;
    const auto [i, j] = pairs[p];
    const LogMapResult s = SolveOne(metric, z[i], z[j], options.log_map, options.guess, nullptr, hooks,
                                    "pair (" + std::to_string(i) + ", " + std::to_string(j) + ")");
    pair_stats[p] = s.stats;
    pair_iterations[p] = s.iterations;
    store(i, j, s);
  };
  std::size_t rows_done = first_row, failed = 0;
  for (std::size_t p = 0; p < first_pair; ++p) failed += !r.status[pairs[p].first * N + pairs[p].second].usable();
  auto emit = [&](std::size_t item, std::size_t count) {
    const std::size_t first = first_pair + item;
    for (std::size_t p = first; p < first + count; ++p) {
      failed += !r.status[pairs[p].first * N + pairs[p].second].usable();
      r.totals.Add(pair_stats[p]);
      r.iterations += pair_iterations[p];
    }
    const std::size_t completed = first + count, first_new_row = rows_done;
    while (rows_done < N && row_end[rows_done] <= completed) ++rows_done;
    if (hooks && hooks->rows_done && rows_done > first_new_row) {
      hooks->rows_done(r, first_new_row, rows_done - first_new_row);
    }
    NotifyProgress(hooks, "distances", completed, pairs.size(), failed, SecondsSince(start), false);
  };
  ParallelForOrdered(pairs.size() - first_pair, options.threads, work, emit);
  // Rows after the last pair's row (the last row has no pair of its own) are complete as well.
  if (hooks && hooks->rows_done && rows_done < N) hooks->rows_done(r, rows_done, N - rows_done);

  // The triangle pass: every round decides from the matrix of its start, so results do not depend on the threads.
  const TrianglePassOptions& tri = options.triangle;
  {
    ScopedEvent event(kEventTriangle);
    for (int round = 1; round <= tri.max_rounds; ++round) {
      const std::vector<TriangleViolation> found = FindTriangleViolations(r.distances, tri.rtol);
      if (found.empty()) break;
      r.triangle_rounds = round;
      std::vector<LogMapResult> solved(found.size());
      // The geodesic a -> b as a leg from a: stored for a < b, otherwise b -> a run backwards.
      auto leg = [&](std::size_t a, std::size_t b) {
        Leg l;
        const bool forward = a < b;
        const std::size_t lo = forward ? a : b, hi = forward ? b : a;
        l.start = z[lo];
        l.velocity = r.initial_velocity[lo * N + hi];
        l.length = r.distances(static_cast<Eigen::Index>(lo), static_cast<Eigen::Index>(hi));
        l.reversed = !forward;
        return l;
      };
      auto resolve = [&](int, std::size_t v) {
        const TriangleViolation& t = found[v];
        const std::string label = "pair (" + std::to_string(t.i) + ", " + std::to_string(t.j) + ") via " +
                                  std::to_string(t.k);
        const Leg a = leg(t.i, t.k), b = leg(t.k, t.j);
        if (!(a.length > 0) || !(b.length > 0)) {  // k coincides with an end: nothing to concatenate
          solved[v].status = GeodesicStatus::kNotConverged;
          solved[v].message = "the intermediate point coincides with an end point";
          return;
        }
        const InitialCurve guess = ConcatenatedCurve(metric, z[t.i], z[t.k], z[t.j], a, b, tri.curve_samples,
                                                     options.log_map.verify);
        if (guess.points.empty()) {
          solved[v].status = GeodesicStatus::kIntegrationFailure;
          solved[v].message = "sampling the geodesics via the intermediate point failed";
          return;
        }
        solved[v] = SolveOne(metric, z[t.i], z[t.j], options.log_map, {}, &guess, hooks, label);
      };
      ParallelForOrdered(found.size(), options.threads, resolve);
      bool changed_any = false;
      for (std::size_t v = 0; v < found.size(); ++v) {
        const TriangleViolation& t = found[v];
        TriangleRepair rep;
        rep.i = t.i;
        rep.j = t.j;
        rep.k = t.k;
        rep.round = round;
        rep.old_length = t.direct;
        rep.via_length = t.via;
        rep.new_status = solved[v].status;
        r.totals.Add(solved[v].stats);
        r.iterations += solved[v].iterations;
        rep.new_length = solved[v].usable() ? solved[v].length : kNaN;
        rep.changed = solved[v].usable() && solved[v].length < t.direct;
        if (rep.changed) {
          store(t.i, t.j, solved[v]);
          changed_any = true;
        }
        r.repairs.push_back(rep);
      }
      if (!changed_any) break;
    }
    r.violations = FindTriangleViolations(r.distances, tri.rtol);
  }
  r.seconds = SecondsSince(start);
  NotifyProgress(hooks, "distances", pairs.size(), pairs.size(), r.failed_pairs(), r.seconds, true);
  return r;
}

// ---- SolveExpMaps ------------------------------------------------------------------------------------------------

std::string ExpMapBatchOptions::Validate() const {
  if (std::string why = geodesic.Validate(); !why.empty()) return why;
  return ValidateThreadsAndSamples(threads, curve_samples);
}

std::size_t ExpMapBatchResult::failed() const {
  return static_cast<std::size_t>(
      std::count_if(status.begin(), status.end(), [](const PairStatus& s) { return !s.usable(); }));
}

RunSummary ExpMapBatchResult::Summary() const {
  RunSummary summary;
  summary.task = "exp";
  summary.item = "point";
  for (std::size_t i = 0; i < status.size(); ++i) {
    summary.Count(status[i], [&] { return "point " + std::to_string(i); });
  }
  summary.ode = totals;
  summary.seconds = seconds;
  return summary;
}

ExpMapColumns::ExpMapColumns(std::size_t n, int dim)
    : d(dim),
      end_point(n * static_cast<std::size_t>(dim), kNaN),
      end_velocity(n * static_cast<std::size_t>(dim), kNaN),
      length(n, kNaN),
      energy(n, kNaN),
      speed_drift(n, kNaN) {}

void ExpMapColumns::Set(std::size_t i, const ExpMapResult& r) {
  if (!r.usable()) return;
  const std::size_t ud = static_cast<std::size_t>(d);
  Eigen::Map<VectorXd>(end_point.data() + i * ud, d) = r.end_point;
  Eigen::Map<VectorXd>(end_velocity.data() + i * ud, d) = r.end_velocity;
  length[i] = r.length;
  energy[i] = r.energy;
  speed_drift[i] = r.speed_drift;
}

ExpMapBatchResult SolveExpMaps(const Metric& metric, const Eigen::MatrixXd& points, const Eigen::MatrixXd& velocities,
                               const ExpMapBatchOptions& options, ExpMapBatchHooks* hooks) {
  const auto start = std::chrono::steady_clock::now();
  if (const std::string why = options.Validate(); !why.empty()) throw InputError("exp map batch options: " + why);
  if (velocities.rows() != points.rows() || velocities.cols() != points.cols()) {
    throw InputError("SolveExpMaps: velocities are " + std::to_string(velocities.rows()) + " x " +
                     std::to_string(velocities.cols()) + ", but points are " + std::to_string(points.rows()) + " x " +
                     std::to_string(points.cols()));
  }
  const std::size_t N = static_cast<std::size_t>(points.rows());
  for (std::size_t i = 0; i < N; ++i) {
    RequirePoint(metric, points.row(static_cast<Eigen::Index>(i)).transpose(), "point " + std::to_string(i));
  }
  const std::size_t first_item = FirstItem(hooks, N, "SolveExpMaps", "points");
  const int S = options.curve_samples;
  const std::vector<double> times = CurveTimes(S);

  ExpMapBatchResult r;
  r.solutions.resize(N);
  r.status.assign(N, PairStatus::FromValue(PairStatus::kNotComputed, "not computed"));
  if (S > 0) r.curves.resize(N);

  auto work = [&](int, std::size_t item) {
    const std::size_t i = first_item + item;
    const VectorXd z = points.row(static_cast<Eigen::Index>(i)).transpose();
    const VectorXd u = velocities.row(static_cast<Eigen::Index>(i)).transpose();
    ExpMapResult e;
    try {
      e = ExpMap(metric, z, u, options.geodesic, times);
    } catch (const InputError&) {
      throw;
    } catch (const std::exception& ex) {
      e = ExpMapResult();
      e.status = GeodesicStatus::kIntegrationFailure;
      e.message = std::string("error: ") + ex.what();
    }
    if (e.usable() && S > 0) {
      std::vector<VectorXd> curve;
      curve.reserve(static_cast<std::size_t>(S));
      curve.push_back(z);
      curve.insert(curve.end(), e.curve.begin(), e.curve.end());
      r.curves[i] = std::move(curve);
    }
    r.status[i] = PairStatus(e.status, e.usable() ? "success" : e.message);
    r.solutions[i] = std::move(e);
  };
  std::size_t failed = 0;
  auto emit = [&](std::size_t item, std::size_t count) {
    const std::size_t first = first_item + item;
    for (std::size_t i = first; i < first + count; ++i) {
      failed += !r.usable(i);
      r.totals.Add(r.solutions[i].stats);
    }
    if (hooks && hooks->items_done) hooks->items_done(r, first, count);
    NotifyProgress(hooks, "exp", first + count, N, failed, SecondsSince(start), false);
  };
  ParallelForOrdered(N - first_item, options.threads, work, emit);
  r.seconds = SecondsSince(start);
  NotifyProgress(hooks, "exp", N, N, failed, r.seconds, true);
  return r;
}

}  // namespace pushpull

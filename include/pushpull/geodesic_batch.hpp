// Batches of geodesic boundary-value problems: many logarithm maps (LogMap, log_map.hpp) spread over threads, and the
// matrix of geodesic distances between points with a triangle-inequality pass; and batches of exponential maps
// (ExpMap, geodesic.hpp; SolveExpMaps). `pushpull geodesic`, `pushpull distances`, `pushpull exp`, the Python
// functions geodesic, distances and exp_map, and validation/bench/bench_geodesic run these functions.
//
// Problem: a Metric and pairs of points (SolveGeodesics) or N points (ComputeDistanceMatrix). Method: the LogMap
// options, an optional initial-guess provider, the threads. Result: per item a status and message; a numerical
// failure of one item never stops the batch.
//
// Threads and the metric. One Metric object is shared by every worker: its const methods are called concurrently, so
// they must be safe for concurrent use. Every built-in metric is: PullbackMetric (its scratch memory is thread_local),
// MlpDecoder (thread_local scratch), StackedDecoder, the closed-form decoders (MakeStereographicSphereDecoder etc.,
// stateless), TensorMetric and the closed-form tensor fields (stateless), and the templated functor metrics and
// decoders as long as the user's functor is (a functor that caches in members is not). A metric that is not thread
// safe must be run with threads = 1. Results are bitwise identical for every thread count: every item is solved
// independently with the same options, and the triangle pass decides from a matrix that no re-solve of its own round
// has changed.
//
// Exceptions: InputError for invalid options or points (wrong dimension, not finite, outside the metric's domain),
// thrown before anything is solved; an InputError thrown by LogMap or the guess provider for one item, and any
// exception thrown by a hook, stops the batch and reaches the caller unchanged once every worker has stopped (see
// ParallelForOrdered, parallel.hpp). Any other exception from one item's solve is recorded as that item's status
// kIntegrationFailure with the message "error: <what>".
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "pushpull/geodesic.hpp"
#include "pushpull/initial_curve.hpp"
#include "pushpull/item_status.hpp"
#include "pushpull/log_map.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/monitor.hpp"
#include "pushpull/run_summary.hpp"

namespace pushpull {

class OptionsDatabase;

// The triangle-inequality pass of ComputeDistanceMatrix (options -distances_triangle_*).
struct TrianglePassOptions {
  // An entry (i, j) violates the triangle inequality when some k has d(i, k) + d(k, j) < (1 - rtol) d(i, j).
  double rtol = 1e-6;
  // Rounds of detection and re-solving; the pass stops earlier when a round changes nothing. 0 = no pass (the
  // remaining violations are still counted and listed).
  int max_rounds = 3;
  // Samples per geodesic (including both end points) of the concatenated initial curve i -> k -> j.
  int curve_samples = 9;

  // Declares -<prefix>triangle_rtol, -<prefix>triangle_rounds, -<prefix>triangle_curve_samples.
  void SetFromOptions(OptionsDatabase& db, std::string_view prefix = "distances_");
  // Empty when valid; otherwise the error SetFromOptions(prefix) would give for these values.
  std::string Validate(std::string_view prefix = "distances_") const;
};

// An initial guess for the pair (z0, z1), computed on a worker thread (so it must be safe to call concurrently).
// E.g. the CLI's -bvp_init graph: [&graph](const Metric& m, const VectorXd& a, const VectorXd& b) { return
// graph.ShortestPath(m, a, b); }.
using GuessProvider =
    std::function<InitialCurve(const Metric& metric, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1)>;

struct GeodesicBatchOptions {
  LogMapOptions log_map;  // every solve (and its verification integrator, which also integrates the curves)
  int threads = 0;        // workers; 0 = all hardware threads (results do not depend on it)
  // When set, the initial curve of every direct solve; otherwise LogMap makes its -bvp_init guess.
  GuessProvider guess;
  // SolveGeodesics: sample each converged (or not_minimal) geodesic at S equally spaced times in [0, 1], and the
  // best curve of an approximate result (curves of the result, S >= 2); 0 = no curves.
  int curve_samples = 0;
  TrianglePassOptions triangle;  // ComputeDistanceMatrix only

  // Empty when valid; otherwise the field, its value and the violated constraint.
  std::string Validate() const;
};

struct GeodesicBatchResult;
struct DistanceMatrixResult;

struct GeodesicBatchHooks {
  // SolveGeodesics: items [first, first + count) of `partial` are final. Called on the calling thread, in item order,
  // each item exactly once.
  std::function<void(const GeodesicBatchResult& partial, std::size_t first, std::size_t count)> items_done;
  // ComputeDistanceMatrix: rows [first, first + count) of partial.distances and partial.status hold their direct
  // solves (row i is final once every pair (a, b) with a <= i is solved). Called on the calling thread, in row order,
  // each row once, before the triangle pass (which may change entries afterwards: repairs lists them).
  std::function<void(const DistanceMatrixResult& partial, std::size_t first, std::size_t count)> rows_done;
  // Progress (task "geodesic" or "distances"; items = pairs), notified from the calling thread. Not owned.
  MonitorList<ProgressEvent>* progress = nullptr;
  // When set, called on the worker thread before each solve with the item's label ("pair 3", "pair (1, 2)", "pair
  // (1, 2) via 5"); the returned monitor (may be null) receives that solve's iterations and is destroyed after it.
  std::function<std::unique_ptr<BvpMonitor>(const std::string& label)> bvp_monitor;

  // A resumed run (the CLI's -resume). SolveGeodesics: items [0, first_item) are done elsewhere: they are neither
  // solved nor passed to items_done, and their status stays "not computed".
  std::size_t first_item = 0;
  // ComputeDistanceMatrix: rows [0, first_row) are done elsewhere and given by `prior` (required when first_row >
  // 0): its distances and status in those rows, and initial_velocity of the pairs (i, j), i < first_row, i < j. Only
  // the pairs of later rows are solved and only later rows are passed to rows_done; the triangle pass then runs on
  // the whole matrix, so the result equals an uninterrupted run's (the totals and iterations count this call's
  // solves only).
  std::size_t first_row = 0;
  const DistanceMatrixResult* prior = nullptr;
};

struct GeodesicBatchResult {
  std::vector<LogMapResult> solutions;  // per pair, as LogMap returned it
  // Per pair: the solution's status and message, or the curve integration's status and "integrating the curve
  // failed: ..." when the geodesic converged but sampling it failed (-1 "not computed" before the pair is solved).
  std::vector<PairStatus> status;
  // With curve_samples S > 0, per pair S points g(k / (S - 1)), k = 0 .. S - 1 (g(0) = z0) when status is success;
  // empty otherwise.
  std::vector<std::vector<Eigen::VectorXd>> curves;
  OdeStats totals;             // integrator statistics of the solves (LogMapResult::stats), summed in pair order
  std::int64_t iterations = 0;  // Levenberg-Marquardt iterations of the solves, summed
  double seconds = 0;

  std::size_t size() const { return status.size(); }
  bool usable(std::size_t p) const { return status[p].usable(); }
  std::size_t failed() const;
  // Counts by status (pairs), the totals, the iterations and the time (run_summary.hpp).
  RunSummary Summary() const;
};

// One entry the triangle pass re-solved.
struct TriangleRepair {
  std::size_t i = 0, j = 0;  // i < j
  std::size_t k = 0;         // the intermediate point of the initial curve i -> k -> j
  int round = 0;             // 1-based
  double old_length = 0;     // d(i, j) before
  double via_length = 0;     // d(i, k) + d(k, j) at detection
  double new_length = 0;     // the re-solve's length (NaN when it did not converge)
  GeodesicStatus new_status = GeodesicStatus::kSuccess;  // the re-solve's status
  bool changed = false;      // the re-solve converged and was shorter: d(i, j) = new_length
};

// An entry (i, j), i < j, and the k minimising d(i, k) + d(k, j), when that beats d(i, j) by more than rtol.
struct TriangleViolation {
  std::size_t i = 0, j = 0, k = 0;
  double direct = 0;  // d(i, j)
  double via = 0;     // d(i, k) + d(k, j)
};

struct DistanceMatrixResult {
  // N x N, symmetric, zero diagonal; NaN where the pair failed. Row-major, so that rows are contiguous.
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> distances;
  // N x N row-major, symmetric (index i * N + j): per pair status and message (diagonal: success, "").
  std::vector<PairStatus> status;
  // Initial velocities Log_{z_i}(z_j) for i < j (row-major N x N, index i * N + j; empty vectors where failed).
  std::vector<Eigen::VectorXd> initial_velocity;
  std::vector<TriangleRepair> repairs;       // every re-solve of the triangle pass, in round then (i, j) order
  std::vector<TriangleViolation> violations;  // violations left after the pass, in (i, j) order
  int triangle_rounds = 0;                    // rounds run
  OdeStats totals;             // integrator statistics of every solve (direct and triangle re-solves), summed
  std::int64_t iterations = 0;  // Levenberg-Marquardt iterations of every solve, summed
  double seconds = 0;

  std::size_t points() const { return static_cast<std::size_t>(distances.rows()); }
  GeodesicStatus status_at(std::size_t i, std::size_t j) const { return status[i * points() + j].code(); }
  std::size_t failed_pairs() const;  // pairs i < j whose status is not usable (Usable)
  // Counts by status over the pairs i < j, the totals, the iterations and the time (run_summary.hpp).
  RunSummary Summary() const;
};

// Log_{z0}(z1) for every pair. Throws InputError before solving when the options are invalid or a point has the
// wrong dimension, is not finite or lies outside the metric's domain (the message names the pair and end).
GeodesicBatchResult SolveGeodesics(const Metric& metric,
                                   const std::vector<std::pair<Eigen::VectorXd, Eigen::VectorXd>>& pairs,
                                   const GeodesicBatchOptions& options, GeodesicBatchHooks* hooks = nullptr);

// The geodesic distances between the rows of `points` (N x d): one LogMap per pair i < j (in row-major order over
// the threads), then the triangle pass: while rounds remain, FindTriangleViolations on the current matrix; each
// violating (i, j) is re-solved by LogMap from the concatenation of the geodesics i -> k and k -> j (sampled with
// ExpMap, times proportional to length, velocities rescaled to the new time) and takes the new length when the
// re-solve converges to a shorter geodesic. All re-solves of a round see the matrix of the round's start. Violations
// left at the end are reported in `violations`. Detection costs O(N^3) per round (about a second for N = 1000), the
// re-solves one LogMap each. Throws InputError as SolveGeodesics.
DistanceMatrixResult ComputeDistanceMatrix(const Metric& metric, const Eigen::MatrixXd& points,
                                           const GeodesicBatchOptions& options, GeodesicBatchHooks* hooks = nullptr);

// The entries (i, j), i < j, of a symmetric matrix of distances for which min_k d(i, k) + d(k, j) (k != i, j; the
// smallest such k on ties) is below (1 - rtol) d(i, j). Entries that are NaN are skipped, as are k through NaN.
std::vector<TriangleViolation> FindTriangleViolations(const Eigen::MatrixXd& distances, double rtol);

// ---- Exponential maps ----------------------------------------------------------------------------------------------

struct ExpMapBatchOptions {
  GeodesicOptions geodesic;  // every ExpMap (the CLI's -geo_* options)
  int threads = 0;           // workers; 0 = all hardware threads (results do not depend on it)
  // Sample each successful geodesic at S equally spaced times in [0, 1] (curves of the result, S >= 2); 0 = none.
  int curve_samples = 0;

  // Empty when valid; otherwise the field, its value and the violated constraint.
  std::string Validate() const;
};

struct ExpMapBatchResult;

struct ExpMapBatchHooks {
  // Items [first, first + count) of `partial` are final. Called on the calling thread, in item order, each item
  // exactly once.
  std::function<void(const ExpMapBatchResult& partial, std::size_t first, std::size_t count)> items_done;
  // Progress (task "exp"; items = points), notified from the calling thread. Not owned.
  MonitorList<ProgressEvent>* progress = nullptr;
  // A resumed run: items [0, first_item) are done elsewhere: they are neither solved nor passed to items_done, and
  // their status stays "not computed".
  std::size_t first_item = 0;
};

struct ExpMapBatchResult {
  std::vector<ExpMapResult> solutions;  // per point, as ExpMap returned it
  // Per point: ExpMap's status, with the message "success" or ExpMap's message; "error: <what>" with status
  // kIntegrationFailure when ExpMap threw; -1 "not computed" before the point is solved.
  std::vector<PairStatus> status;
  // With curve_samples S > 0, per point S points g(k / (S - 1)), k = 0 .. S - 1 (g(0) = z) when status is success;
  // empty otherwise.
  std::vector<std::vector<Eigen::VectorXd>> curves;
  OdeStats totals;  // integrator statistics (ExpMapResult::stats), summed in item order
  double seconds = 0;

  std::size_t size() const { return status.size(); }
  bool usable(std::size_t i) const { return status[i].usable(); }
  std::size_t failed() const;
  // Counts by status (points), the totals and the time (run_summary.hpp).
  RunSummary Summary() const;
};

// The per-point numbers of a batch of exponential maps as flat row-major columns, NaN where an item is not usable:
// what `pushpull exp` writes and Python's exp_map returns.
struct ExpMapColumns {
  ExpMapColumns(std::size_t n, int d);
  int d = 0;
  std::vector<double> end_point, end_velocity;      // n x d
  std::vector<double> length, energy, speed_drift;  // n
  // Item i from r when r is usable; unchanged otherwise.
  void Set(std::size_t i, const ExpMapResult& r);
};

// Exp_{z_i}(u_i) for every row i of `points` and `velocities` (N x d each). Throws InputError before solving when
// the options are invalid, the shapes differ from each other or from the metric's dimension, or a point is not
// finite or lies outside the metric's domain (the message names the point). A velocity that is not finite, like any
// numerical failure, is that item's status. Threads and exceptions as SolveGeodesics (an InputError from ExpMap or
// an exception from a hook stops the batch and reaches the caller).
ExpMapBatchResult SolveExpMaps(const Metric& metric, const Eigen::MatrixXd& points, const Eigen::MatrixXd& velocities,
                               const ExpMapBatchOptions& options, ExpMapBatchHooks* hooks = nullptr);

}  // namespace pushpull

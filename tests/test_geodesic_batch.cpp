#define BOOST_TEST_MODULE geodesic_batch
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <numbers>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/functor_metric.hpp"
#include "pushpull/geodesic_batch.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/options.hpp"
#include "pushpull/parallel.hpp"
#include "test_support.hpp"

using namespace pushpull;
using Eigen::MatrixXd;
using Eigen::VectorXd;

using pushpull::testing::V2;

namespace {

struct HookError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

PullbackMetric Sphere() { return PullbackMetric(MakeStereographicSphereDecoder(2)); }

// The point at angle theta on the equator of the unit sphere, in stereographic coordinates: (cos, sin).
VectorXd Equator(double theta) { return V2(std::cos(theta), std::sin(theta)); }

// Six points on the sphere (stereographic coordinates), away from the north pole.
MatrixXd SpherePoints() {
  MatrixXd z(6, 2);
  z << 0.3, -0.2, -0.5, 0.7, 0.1, 0.9, -0.8, -0.4, 0.6, 0.5, 0.0, -1.1;
  return z;
}

GeodesicBatchOptions Options(int threads) {
  GeodesicBatchOptions o;
  o.threads = threads;
  o.log_map.tol = 1e-8;
  return o;
}

}  // namespace

// ---- ParallelForOrdered ------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(parallel_for_ordered_emits_every_item_once_in_order) {
  for (int threads : {1, 2, 3}) {
    const std::size_t n = 200;
    std::vector<int> value(n, -1);
    std::vector<std::pair<std::size_t, std::size_t>> calls;
    std::size_t next = 0;
    bool complete = true;
    ParallelForOrdered(
        n, threads,
        [&](int worker, std::size_t i) {
          BOOST_CHECK(worker >= 0 && worker < ParallelWorkers(n, threads));
          if (i % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
          value[i] = static_cast<int>(i) * 3;
        },
        [&](std::size_t first, std::size_t count) {
          calls.emplace_back(first, count);
          complete = complete && first == next && count > 0;
          for (std::size_t i = first; i < first + count; ++i) {
            complete = complete && value[i] == 3 * static_cast<int>(i);
          }
          next = first + count;
        });
    BOOST_TEST(complete, "threads " << threads);
    BOOST_TEST(next == n);
    if (threads == 1) BOOST_TEST(calls.size() == n);
  }
}

BOOST_AUTO_TEST_CASE(parallel_for_ordered_carries_the_first_exception_and_stops) {
  for (int threads : {1, 2}) {
    const std::size_t n = 10000;
    std::atomic<std::size_t> started{0};
    std::size_t emitted = 0;
    BOOST_CHECK_EXCEPTION(ParallelForOrdered(
                              n, threads,
                              [&](int, std::size_t i) {
                                ++started;
                                std::this_thread::sleep_for(std::chrono::microseconds(100));
                                if (i == 20) throw HookError("item 20");
                              },
                              [&](std::size_t first, std::size_t count) { emitted = first + count; }),
                          HookError, [](const HookError& e) { return std::string(e.what()) == "item 20"; });
    BOOST_TEST(started.load() < n, "threads " << threads << ": " << started.load() << " items started");
    BOOST_TEST(emitted <= 20u);
  }
  // From emit: the same, and no emit after it.
  std::atomic<std::size_t> started{0};
  int emits_after = 0;
  bool thrown = false;
  BOOST_CHECK_THROW(ParallelForOrdered(
                        10000, 2,
                        [&](int, std::size_t) {
                          ++started;
                          std::this_thread::sleep_for(std::chrono::microseconds(100));
                        },
                        [&](std::size_t, std::size_t) {
                          if (thrown) ++emits_after;
                          thrown = true;
                          throw HookError("emit");
                        }),
                    HookError);
  BOOST_TEST(emits_after == 0);
  BOOST_TEST(started.load() < 10000u);
}

// ThreadsForWork: each thread gets at least the minimum work, never fewer than one thread or more than asked for.
BOOST_AUTO_TEST_CASE(threads_for_work_caps_by_work_per_thread) {
  BOOST_TEST(ThreadsForWork(2, 100.0, 1000.0) == 1);    // too little work for two: the calling thread alone
  BOOST_TEST(ThreadsForWork(2, 1999.0, 1000.0) == 1);
  BOOST_TEST(ThreadsForWork(2, 2000.0, 1000.0) == 2);   // exactly enough for two
  BOOST_TEST(ThreadsForWork(3, 2500.0, 1000.0) == 2);
  BOOST_TEST(ThreadsForWork(4, 1e12, 1000.0) == 4);     // plenty: as asked
  BOOST_TEST(ThreadsForWork(2, 10.0, 0.0) == 2);        // 0 = no cap
  BOOST_TEST(ThreadsForWork(0, 1e12, 1.0) == ResolveThreads(0));
  BOOST_TEST(ThreadsForWork(0, 0.0, 1.0) == 1);
}

// ---- SolveGeodesics ----------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(solve_geodesics_is_bitwise_independent_of_threads_and_hooks_run_in_item_order) {
  const PullbackMetric metric = Sphere();
  const MatrixXd z = SpherePoints();
  std::vector<std::pair<VectorXd, VectorXd>> pairs;
  for (Eigen::Index i = 0; i + 1 < z.rows(); ++i) pairs.emplace_back(z.row(i).transpose(), z.row(i + 1).transpose());
  pairs.emplace_back(V2(0.2, 0.1), V2(0.2, 0.1) + V2(1e-3, 0));

  GeodesicBatchOptions o1 = Options(1), o2 = Options(2);
  o1.curve_samples = o2.curve_samples = 5;
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  std::vector<std::string> labels;
  std::mutex labels_mutex;
  GeodesicBatchHooks hooks;
  hooks.items_done = [&](const GeodesicBatchResult& partial, std::size_t first, std::size_t count) {
    BOOST_TEST(partial.size() == pairs.size());
    calls.emplace_back(first, count);
  };
  hooks.bvp_monitor = [&](const std::string& label) -> std::unique_ptr<BvpMonitor> {
    std::lock_guard<std::mutex> lock(labels_mutex);
    labels.push_back(label);
    return nullptr;
  };
  const GeodesicBatchResult r1 = SolveGeodesics(metric, pairs, o1);
  const GeodesicBatchResult r2 = SolveGeodesics(metric, pairs, o2, &hooks);
  BOOST_TEST_REQUIRE(r1.size() == pairs.size());
  BOOST_TEST(r1.failed() == 0u);
  // The summary: every pair counted as success, the solves' integrator statistics and iterations summed in pair
  // order (so equal for every thread count), each LogMapResult with its own statistics.
  const RunSummary summary = r1.Summary();
  BOOST_TEST(summary.items == pairs.size());
  BOOST_TEST(summary.failed == 0u);
  BOOST_TEST_REQUIRE(summary.statuses.size() == 1u);
  BOOST_TEST(summary.statuses[0].name == "success");
  OdeStats sum;
  std::int64_t iterations = 0;
  for (const LogMapResult& s : r1.solutions) {
    BOOST_TEST(s.stats.steps > 0);
    BOOST_TEST(s.stats.rhs_evals >= s.stats.steps);
    BOOST_TEST(s.seconds > 0.0);
    sum.Add(s.stats);
    iterations += s.iterations;
  }
  BOOST_TEST(summary.ode.steps == sum.steps);
  BOOST_TEST(summary.ode.rhs_evals == sum.rhs_evals);
  BOOST_TEST(summary.iterations == iterations);
  BOOST_TEST(r2.totals.steps == r1.totals.steps);
  BOOST_TEST(r2.totals.rhs_evals == r1.totals.rhs_evals);
  BOOST_TEST(r2.iterations == r1.iterations);
  BOOST_TEST(summary.BriefReport().find("geodesic: " + std::to_string(pairs.size()) + " pairs, 0 failed, " +
                                        std::to_string(sum.steps) + " steps") == 0u,
             summary.BriefReport());
  for (std::size_t p = 0; p < pairs.size(); ++p) {
    BOOST_TEST_REQUIRE(r1.usable(p), r1.status[p].message);
    BOOST_TEST(r1.solutions[p].length == r2.solutions[p].length);  // bitwise
    BOOST_TEST((r1.solutions[p].initial_velocity.array() == r2.solutions[p].initial_velocity.array()).all());
    BOOST_TEST_REQUIRE(r1.curves[p].size() == 5u);
    BOOST_TEST((r1.curves[p].front().array() == pairs[p].first.array()).all());
    BOOST_TEST((r1.curves[p].back() - pairs[p].second).norm() <= 1e-6);
    for (std::size_t k = 0; k < 5; ++k) BOOST_TEST((r1.curves[p][k].array() == r2.curves[p][k].array()).all());
  }
  std::size_t next = 0;
  for (const auto& [first, count] : calls) {
    BOOST_TEST(first == next);
    BOOST_TEST(count > 0u);
    next = first + count;
  }
  BOOST_TEST(next == pairs.size());
  BOOST_TEST(labels.size() == pairs.size());
  BOOST_TEST(std::count(labels.begin(), labels.end(), "pair 0") == 1);
}

BOOST_AUTO_TEST_CASE(an_exception_in_a_hook_reaches_the_caller_as_that_exception) {
  const PullbackMetric metric = Sphere();
  const MatrixXd z = SpherePoints();
  std::vector<std::pair<VectorXd, VectorXd>> pairs;
  for (Eigen::Index i = 0; i < z.rows(); ++i) pairs.emplace_back(z.row(i).transpose(), z.row((i + 2) % 6).transpose());
  for (int threads : {1, 2}) {
    int calls = 0;
    GeodesicBatchHooks hooks;
    hooks.items_done = [&](const GeodesicBatchResult&, std::size_t, std::size_t) {
      ++calls;
      throw HookError("disk full");
    };
    BOOST_CHECK_EXCEPTION(SolveGeodesics(metric, pairs, Options(threads), &hooks), HookError,
                          [](const HookError& e) { return std::string(e.what()) == "disk full"; });
    BOOST_TEST(calls == 1);  // no hook call after the exception

    GeodesicBatchHooks rows;
    rows.rows_done = [&](const DistanceMatrixResult&, std::size_t, std::size_t) { throw HookError("row"); };
    BOOST_CHECK_THROW(ComputeDistanceMatrix(metric, z, Options(threads), &rows), HookError);
  }
  // An InputError from the guess provider stops the batch and reaches the caller too.
  GeodesicBatchOptions o = Options(2);
  o.guess = [](const Metric&, const VectorXd&, const VectorXd&) -> InitialCurve { throw InputError("bad guess"); };
  BOOST_CHECK_THROW(SolveGeodesics(metric, pairs, o), InputError);
}

BOOST_AUTO_TEST_CASE(invalid_input_is_refused_before_solving) {
  const PullbackMetric metric = Sphere();
  std::vector<std::pair<VectorXd, VectorXd>> pairs{{V2(0, 0), VectorXd::Zero(3)}};
  testing::ExpectInputError([&] { SolveGeodesics(metric, pairs, Options(1)); }, {"pair 0, end 1", "3 coordinates"});
  pairs = {{V2(0, 0), V2(std::nan(""), 0)}};
  testing::ExpectInputError([&] { SolveGeodesics(metric, pairs, Options(1)); }, {"not finite"});
  GeodesicBatchOptions o = Options(1);
  o.curve_samples = 1;
  testing::ExpectInputError([&] { SolveGeodesics(metric, {}, o); }, {"curve_samples"});
  o = Options(1);
  o.triangle.rtol = 1;
  testing::ExpectInputError([&] { ComputeDistanceMatrix(metric, SpherePoints(), o); }, {"triangle_rtol"});
}

BOOST_AUTO_TEST_CASE(triangle_pass_options_are_declared_with_bounds) {
  BOOST_TEST(TrianglePassOptions().Validate() == "");
  BOOST_TEST(GeodesicBatchOptions().Validate() == "");
  testing::CheckOptionRefused<TrianglePassOptions>("distances_triangle_rtol", "1", "triangle_rtol");
  testing::CheckOptionRefused<TrianglePassOptions>("distances_triangle_rounds", "-1", "triangle_rounds");
  OptionsDatabase db;
  db.Set("distances_triangle_rtol", "1e-3");
  db.Set("distances_triangle_rounds", "5");
  TrianglePassOptions t;
  t.SetFromOptions(db);
  BOOST_TEST(t.rtol == 1e-3);
  BOOST_TEST(t.max_rounds == 5);
}

// ---- ComputeDistanceMatrix ---------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(distance_matrix_is_bitwise_independent_of_threads_and_rows_arrive_in_order) {
  const PullbackMetric metric = Sphere();
  const MatrixXd z = SpherePoints();
  std::vector<std::pair<std::size_t, std::size_t>> rows;
  GeodesicBatchHooks hooks;
  hooks.rows_done = [&](const DistanceMatrixResult& partial, std::size_t first, std::size_t count) {
    rows.emplace_back(first, count);
    for (std::size_t i = first; i < first + count; ++i) {  // a completed row is complete
      for (std::size_t j = 0; j < 6; ++j) BOOST_TEST(std::isfinite(partial.distances(i, j)));
    }
  };
  const DistanceMatrixResult d1 = ComputeDistanceMatrix(metric, z, Options(1));
  const DistanceMatrixResult d2 = ComputeDistanceMatrix(metric, z, Options(2), &hooks);
  BOOST_TEST(d1.failed_pairs() == 0u);
  const RunSummary summary = d1.Summary();  // the pairs i < j only
  BOOST_TEST(summary.items == 15u);
  BOOST_TEST(summary.failed == 0u);
  BOOST_TEST(summary.ode.steps > 0);
  BOOST_TEST(d2.totals.steps == d1.totals.steps);  // summed in pair order
  BOOST_TEST(d2.iterations == d1.iterations);
  for (std::size_t i = 0; i < 6; ++i) {
    BOOST_TEST(d1.distances(i, i) == 0.0);
    for (std::size_t j = 0; j < 6; ++j) {
      BOOST_TEST(d1.distances(i, j) == d2.distances(i, j));  // bitwise
      BOOST_TEST(d1.distances(i, j) == d1.distances(j, i));
    }
  }
  BOOST_TEST(d1.repairs.size() == d2.repairs.size());
  std::size_t next = 0;
  for (const auto& [first, count] : rows) {
    BOOST_TEST(first == next);
    next = first + count;
  }
  BOOST_TEST(next == 6u);
  // The same numbers as one LogMap per pair.
  const LogMapResult direct = LogMap(metric, z.row(1).transpose(), z.row(4).transpose(), Options(1).log_map);
  BOOST_TEST(direct.length == d1.distances(1, 4));
}

BOOST_AUTO_TEST_CASE(triangle_violations_of_a_hand_made_matrix) {
  MatrixXd d(4, 4);
  d << 0, 1, 5, 1.2,  //
      1, 0, 1, 1,     //
      5, 1, 0, 1,     //
      1.2, 1, 1, 0;
  // (0, 2): via 1 costs 2, via 3 costs 2.2; (0, 3) = 1.2 > d(0, 1) + d(1, 3) = 2? no.
  std::vector<TriangleViolation> v = FindTriangleViolations(d, 1e-6);
  BOOST_TEST_REQUIRE(v.size() == 1u);
  BOOST_TEST(v[0].i == 0u);
  BOOST_TEST(v[0].j == 2u);
  BOOST_TEST(v[0].k == 1u);
  BOOST_TEST(v[0].direct == 5.0);
  BOOST_TEST(v[0].via == 2.0);
  // Within the relative tolerance: no violation; NaN entries are skipped, and so are paths through them.
  d(0, 2) = d(2, 0) = 2.0 * (1 + 1e-7);
  BOOST_TEST(FindTriangleViolations(d, 1e-6).empty());
  BOOST_TEST(FindTriangleViolations(d, 1e-8).size() == 1u);
  d(0, 2) = d(2, 0) = std::nan("");
  BOOST_TEST(FindTriangleViolations(d, 1e-6).empty());
  d(0, 2) = d(2, 0) = 5;
  d(0, 1) = d(1, 0) = std::nan("");
  v = FindTriangleViolations(d, 1e-6);
  BOOST_TEST_REQUIRE(v.size() == 1u);
  BOOST_TEST(v[0].k == 3u);
}

BOOST_AUTO_TEST_CASE(triangle_pass_replaces_a_long_geodesic_by_the_minimal_one) {
  // Three points on the equator: a, b at angle pi - gap and c halfway along the short arc. The direct solve of (a, b)
  // starts from a guess along the long arc and converges to the long geodesic (length pi + gap); d(a, c) + d(c, b) =
  // pi - gap exposes it, and the re-solve from the curve a -> c -> b finds the minimal geodesic.
  const PullbackMetric metric = Sphere();
  const double gap = 0.3, pi = std::numbers::pi;
  MatrixXd z(3, 2);
  z.row(0) = Equator(0).transpose();
  z.row(1) = Equator(pi - gap).transpose();
  z.row(2) = Equator((pi - gap) / 2).transpose();
  GeodesicBatchOptions o = Options(2);
  o.log_map.init = "line";
  o.guess = [&](const Metric&, const VectorXd& a, const VectorXd& b) {
    if (!((a - z.row(0).transpose()).norm() == 0 && (b - z.row(1).transpose()).norm() == 0)) {
      return InitialCurve::Line(a, b);
    }
    InitialCurve long_arc;  // theta from 0 down to -(pi + gap), constant speed
    const int m = 16;
    for (int k = 0; k <= m; ++k) {
      long_arc.times.push_back(static_cast<double>(k) / m);
      long_arc.points.push_back(Equator(-(pi + gap) * k / m));
    }
    long_arc.points.front() = a;
    long_arc.points.back() = b;
    long_arc.description = "long arc";
    return long_arc;
  };
  // Without re-solves: the violation is reported, the long geodesic kept.
  GeodesicBatchOptions report_only = o;
  report_only.triangle.max_rounds = 0;
  const DistanceMatrixResult before = ComputeDistanceMatrix(metric, z, report_only);
  BOOST_TEST_REQUIRE(before.failed_pairs() == 0u);
  BOOST_TEST_REQUIRE(std::abs(before.distances(0, 1) - (pi + gap)) <= 1e-5, "d(0, 1) = " << before.distances(0, 1));
  BOOST_TEST(before.repairs.empty());
  BOOST_TEST_REQUIRE(before.violations.size() == 1u);
  BOOST_TEST(before.violations[0].k == 2u);
  BOOST_TEST(std::abs(before.violations[0].via - (pi - gap)) <= 1e-5);

  for (int threads : {1, 2}) {
    o.threads = threads;
    const DistanceMatrixResult after = ComputeDistanceMatrix(metric, z, o);
    BOOST_TEST(std::abs(after.distances(0, 1) - (pi - gap)) <= 1e-6, "d(0, 1) = " << after.distances(0, 1));
    BOOST_TEST(after.distances(1, 0) == after.distances(0, 1));
    BOOST_TEST((after.status_at(0, 1) == GeodesicStatus::kSuccess));
    BOOST_TEST_REQUIRE(after.repairs.size() == 1u);
    const TriangleRepair& rep = after.repairs[0];
    BOOST_TEST(rep.i == 0u);
    BOOST_TEST(rep.j == 1u);
    BOOST_TEST(rep.k == 2u);
    BOOST_TEST(rep.round == 1);
    BOOST_TEST(rep.changed);
    BOOST_TEST(rep.old_length == before.distances(0, 1));
    BOOST_TEST(rep.new_length == after.distances(0, 1));
    BOOST_TEST(after.triangle_rounds == 1);
    BOOST_TEST(after.violations.empty());
    // The repaired velocity points along the short arc (increasing theta: +y at a = (1, 0)).
    BOOST_TEST(after.initial_velocity[0 * 3 + 1](1) > 0);
  }

  // A resumed run (-resume): rows [0, K) come from a prior result holding only those rows (the long geodesic (0, 1)
  // among them); the rest is solved, the triangle pass runs on the whole matrix and repairs the prior's entry, and the
  // result equals the uninterrupted run's.
  o.threads = 1;
  const DistanceMatrixResult full = ComputeDistanceMatrix(metric, z, o);
  for (std::size_t K : {1u, 2u, 3u}) {
    DistanceMatrixResult prior;
    prior.distances.setConstant(3, 3, std::nan(""));
    prior.status.assign(9, PairStatus::FromValue(PairStatus::kNotComputed, "not computed"));
    prior.initial_velocity.resize(9);
    for (std::size_t i = 0; i < K; ++i) {
      for (std::size_t j = 0; j < 3; ++j) {
        prior.distances(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = before.distances(
            static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j));
        prior.status[i * 3 + j] = before.status[i * 3 + j];
        if (j > i) prior.initial_velocity[i * 3 + j] = before.initial_velocity[i * 3 + j];
      }
    }
    std::vector<std::size_t> rows;
    GeodesicBatchHooks hooks;
    hooks.first_row = K;
    hooks.prior = &prior;
    hooks.rows_done = [&](const DistanceMatrixResult&, std::size_t first, std::size_t count) {
      for (std::size_t i = first; i < first + count; ++i) rows.push_back(i);
    };
    const DistanceMatrixResult resumed = ComputeDistanceMatrix(metric, z, o, &hooks);
    BOOST_TEST(rows.size() == 3 - K, "K = " << K);
    if (!rows.empty()) BOOST_TEST(rows.front() == K);
    BOOST_TEST((resumed.distances.array() == full.distances.array()).all(), "K = " << K);
    BOOST_TEST(resumed.repairs.size() == 1u, "K = " << K);
    for (std::size_t e = 0; e < 9; ++e) {
      BOOST_TEST(resumed.status[e].value == full.status[e].value);
      BOOST_TEST((resumed.initial_velocity[e] == full.initial_velocity[e]), "K = " << K << " entry " << e);
    }
  }
  GeodesicBatchHooks missing;
  missing.first_row = 1;
  BOOST_CHECK_THROW(ComputeDistanceMatrix(metric, z, o, &missing), InputError);
}

// ---- Exceptions in user code -------------------------------------------------------------------------------------

namespace {

// The Euclidean metric, written by a user whose code throws in the band 0.3 < z_0 < 0.7.
struct BandMetric {
  int dim() const { return 2; }
  template <class T>
  std::vector<T> operator()(const std::vector<T>& z) const {
    if (ad::Value(z[0]) > 0.3 && ad::Value(z[0]) < 0.7) throw std::runtime_error("the user's metric hit the band");
    return {ad::Const<T>(1.0), ad::Const<T>(0.0), ad::Const<T>(0.0), ad::Const<T>(1.0)};
  }
};

struct ThrowingMonitor : BvpMonitor {
  void operator()(const BvpIterationEvent&) override { throw std::runtime_error("the user's monitor broke"); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(an_exception_inside_a_solve_fails_that_item_and_the_batch_continues) {
  // A metric that throws along one pair's geodesic (inside the integrators and the Ceres solvers' callbacks).
  const TensorMetric band(MakeFunctorMetricField(BandMetric{}));
  const std::vector<std::pair<VectorXd, VectorXd>> flat_pairs{
      {V2(0.0, 0.0), V2(0.2, 0.1)}, {V2(0.0, 0.0), V2(1.0, 0.0)}, {V2(0.8, 0.0), V2(1.0, 0.3)}};
  for (const std::string type : {"shooting", "multiple_shooting", "collocation"}) {
    GeodesicBatchOptions o = Options(2);
    o.log_map.type = type;
    const GeodesicBatchResult r = SolveGeodesics(band, flat_pairs, o);
    BOOST_TEST_REQUIRE(r.size() == 3u);
    BOOST_TEST(!r.usable(1), type);
    BOOST_TEST(r.status[1].message.find("the user's metric hit the band") != std::string::npos, type << ": " << r.status[1].message);
    for (std::size_t p : {0u, 2u}) {
      BOOST_TEST_REQUIRE(r.usable(p), type << ": " << r.status[p].message);
      BOOST_TEST(std::abs(r.solutions[p].length - (flat_pairs[p].second - flat_pairs[p].first).norm()) < 1e-6, type);
    }
  }

  // A monitor (a Ceres iteration callback) that throws for one pair.
  const PullbackMetric sphere = Sphere();
  const MatrixXd z = SpherePoints();
  std::vector<std::pair<VectorXd, VectorXd>> pairs;
  for (Eigen::Index i = 0; i < 3; ++i) pairs.emplace_back(z.row(i).transpose(), z.row(i + 2).transpose());
  GeodesicBatchHooks hooks;
  hooks.bvp_monitor = [](const std::string& label) -> std::unique_ptr<BvpMonitor> {
    if (label == "pair 1") return std::make_unique<ThrowingMonitor>();
    return nullptr;
  };
  const GeodesicBatchResult r = SolveGeodesics(sphere, pairs, Options(2), &hooks);
  BOOST_TEST(!r.usable(1));
  BOOST_TEST(r.status[1].message.find("the user's monitor broke") != std::string::npos, r.status[1].message);
  BOOST_TEST(r.usable(0), r.status[0].message);
  BOOST_TEST(r.usable(2), r.status[2].message);
}

// ---- SolveExpMaps ------------------------------------------------------------------------------------------------

namespace {

// Points on the equator with velocities along it (speed alpha: the conformal factor of the stereographic metric is
// 1 on the unit circle), so Exp lands at Equator(theta + alpha) and the geodesic has length |alpha|.
struct EquatorCase {
  std::vector<double> theta{0.1, 1.2, -2.0, 2.9, 0.6};
  std::vector<double> alpha{0.4, -0.9, 1.5, 0.25, -0.05};
  MatrixXd points() const {
    MatrixXd z(5, 2);
    for (int i = 0; i < 5; ++i) z.row(i) = Equator(theta[i]).transpose();
    return z;
  }
  MatrixXd velocities() const {
    MatrixXd u(5, 2);
    for (int i = 0; i < 5; ++i) u.row(i) = alpha[i] * V2(-std::sin(theta[i]), std::cos(theta[i])).transpose();
    return u;
  }
};

ExpMapBatchOptions ExpOptions(int threads, int samples) {
  ExpMapBatchOptions o;
  o.threads = threads;
  o.curve_samples = samples;
  o.geodesic.ode.rtol = 1e-11;
  o.geodesic.ode.atol = 1e-12;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(solve_exp_maps_follows_great_circles_and_is_bitwise_independent_of_threads) {
  const PullbackMetric metric = Sphere();
  const EquatorCase c;
  const int S = 4;
  const ExpMapBatchResult one = SolveExpMaps(metric, c.points(), c.velocities(), ExpOptions(1, S));
  BOOST_TEST_REQUIRE(one.size() == 5u);
  BOOST_TEST(one.failed() == 0u);
  for (std::size_t i = 0; i < 5; ++i) {
    BOOST_TEST(one.status[i].message == "success");
    BOOST_TEST((one.solutions[i].end_point - Equator(c.theta[i] + c.alpha[i])).norm() < 1e-8);
    BOOST_TEST(std::abs(one.solutions[i].length - std::abs(c.alpha[i])) < 1e-8);
    BOOST_TEST_REQUIRE(one.curves[i].size() == static_cast<std::size_t>(S));
    BOOST_TEST((one.curves[i][0] - c.points().row(static_cast<Eigen::Index>(i)).transpose()).norm() == 0.0);
    for (int k = 0; k < S; ++k) {
      const VectorXd expected = Equator(c.theta[i] + c.alpha[i] * k / (S - 1));
      BOOST_TEST((one.curves[i][static_cast<std::size_t>(k)] - expected).norm() < 1e-8);
    }
  }
  const RunSummary summary = one.Summary();
  BOOST_TEST(summary.task == "exp");
  BOOST_TEST(summary.failed == 0u);

  // Two threads, and a resumed run from item 2 with the rows arriving in order: bitwise the same items.
  std::size_t next = 2;
  ExpMapBatchHooks hooks;
  hooks.first_item = 2;
  hooks.items_done = [&](const ExpMapBatchResult& partial, std::size_t first, std::size_t count) {
    BOOST_TEST(first == next);
    for (std::size_t i = first; i < first + count; ++i) BOOST_TEST(partial.status[i].usable());
    next = first + count;
  };
  const ExpMapBatchResult two = SolveExpMaps(metric, c.points(), c.velocities(), ExpOptions(2, S), &hooks);
  BOOST_TEST(next == 5u);
  for (std::size_t i = 0; i < 2; ++i) BOOST_TEST(two.status[i].value == PairStatus::kNotComputed);
  const ExpMapBatchResult full = SolveExpMaps(metric, c.points(), c.velocities(), ExpOptions(2, S));
  for (std::size_t i = 0; i < 5; ++i) {
    for (const ExpMapBatchResult* r : {&full, i >= 2 ? &two : &full}) {
      BOOST_TEST(r->solutions[i].end_point == one.solutions[i].end_point);
      BOOST_TEST(r->solutions[i].end_velocity == one.solutions[i].end_velocity);
      BOOST_TEST(r->solutions[i].length == one.solutions[i].length);
      BOOST_TEST(r->solutions[i].speed_drift == one.solutions[i].speed_drift);
      BOOST_TEST(r->curves[i] == one.curves[i]);
      BOOST_TEST(r->status[i].message == one.status[i].message);
    }
  }
}

BOOST_AUTO_TEST_CASE(solve_exp_maps_records_a_failed_item_and_carries_hook_exceptions) {
  const PullbackMetric metric = Sphere();
  const EquatorCase c;
  MatrixXd u = c.velocities();
  u(1, 0) = std::numeric_limits<double>::quiet_NaN();  // a per-item failure: a non-finite velocity
  for (int threads : {1, 2}) {
    const ExpMapBatchResult r = SolveExpMaps(metric, c.points(), u, ExpOptions(threads, 3));
    BOOST_TEST(r.failed() == 1u);
    BOOST_TEST(!r.usable(1));
    BOOST_TEST(r.status[1].message.find("non-finite initial velocity") != std::string::npos, r.status[1].message);
    BOOST_TEST(r.curves[1].empty());
    for (std::size_t i : {0u, 2u, 3u, 4u}) {
      BOOST_TEST(r.usable(i));
      BOOST_TEST((r.solutions[i].end_point - Equator(c.theta[i] + c.alpha[i])).norm() < 1e-8);
    }
    BOOST_TEST(r.Summary().failed == 1u);

    int calls = 0;
    ExpMapBatchHooks hooks;
    hooks.items_done = [&](const ExpMapBatchResult&, std::size_t, std::size_t) {
      ++calls;
      throw HookError("disk full");
    };
    BOOST_CHECK_EXCEPTION(SolveExpMaps(metric, c.points(), c.velocities(), ExpOptions(threads, 0), &hooks), HookError,
                          [](const HookError& e) { return std::string(e.what()) == "disk full"; });
    BOOST_TEST(calls == 1);
  }
}

BOOST_AUTO_TEST_CASE(solve_exp_maps_refuses_invalid_input_before_solving) {
  const PullbackMetric metric = Sphere();
  const EquatorCase c;
  MatrixXd z = c.points();
  z(3, 1) = std::numeric_limits<double>::infinity();
  int calls = 0;
  ExpMapBatchHooks hooks;
  hooks.items_done = [&](const ExpMapBatchResult&, std::size_t, std::size_t) { ++calls; };
  testing::ExpectInputError([&] { SolveExpMaps(metric, z, c.velocities(), ExpOptions(1, 0), &hooks); },
                            {"point 3", "not finite"});
  testing::ExpectInputError([&] { SolveExpMaps(metric, MatrixXd::Zero(5, 3), MatrixXd::Zero(5, 3), ExpOptions(1, 0)); },
                            {"point 0", "3 coordinates"});
  testing::ExpectInputError([&] { SolveExpMaps(metric, c.points(), MatrixXd::Zero(4, 2), ExpOptions(1, 0)); },
                            {"velocities", "4 x 2"});
  testing::ExpectInputError([&] { SolveExpMaps(metric, c.points(), c.velocities(), ExpOptions(1, 1)); },
                            {"curve_samples"});
  BOOST_TEST(calls == 0);
}

#define BOOST_TEST_MODULE geodesic_graph
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <numbers>
#include <utility>
#include <string>
#include <thread>
#include <vector>

#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/geodesic_graph.hpp"
#include "pushpull/initial_curve.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/options.hpp"
#include "test_support.hpp"

using namespace pushpull;
using pushpull::testing::CheckOptionRefused;
using pushpull::testing::Mentions;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

VectorXd V(double x, double y) { return (VectorXd(2) << x, y).finished(); }

MatrixXd LinearW() { return (MatrixXd(3, 2) << 1.0, 0.5, -0.3, 2.0, 0.7, -0.4).finished(); }
PullbackMetric LinearMetric() { return PullbackMetric(MakeLinearDecoder(LinearW(), VectorXd::Constant(3, 0.25))); }
TensorMetric Poincare() { return TensorMetric(MakePoincareHalfPlaneField()); }

// Deterministic uniform numbers in [0, 1) (64-bit LCG, top 53 bits): the same on every platform.
struct Lcg {
  std::uint64_t state;
  double operator()() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  }
};

RowMatrixXd RandomSquare(int n, double lo, double hi, std::uint64_t seed) {
  Lcg rng{seed};
  RowMatrixXd p(n, 2);
  for (int i = 0; i < n; ++i) {
    p(i, 0) = lo + (hi - lo) * rng();
    p(i, 1) = lo + (hi - lo) * rng();
  }
  return p;
}

// nx x ny grid on [x0, x1] x [y0, y1], y spaced geometrically (uniform in the hyperbolic sense).
RowMatrixXd PoincareGrid(int nx, int ny, double x0, double x1, double y0, double y1) {
  RowMatrixXd p(nx * ny, 2);
  for (int i = 0; i < nx; ++i) {
    for (int j = 0; j < ny; ++j) {
      p(i * ny + j, 0) = x0 + (x1 - x0) * i / (nx - 1);
      p(i * ny + j, 1) = y0 * std::pow(y1 / y0, static_cast<double>(j) / (ny - 1));
    }
  }
  return p;
}

// Metric length of the polyline of a curve, edge by edge.
double PolylineLength(const Metric& m, const InitialCurve& c, int q = 5) {
  double L = 0;
  for (std::size_t i = 1; i < c.points.size(); ++i) L += GeodesicGraph::SegmentLength(m, c.points[i - 1], c.points[i], q);
  return L;
}

// Everything a returned curve must satisfy; times proportional to the cumulative metric length.
void CheckCurve(const Metric& m, const InitialCurve& c, const VectorXd& z0, const VectorXd& z1, int q = 5) {
  BOOST_TEST(c.Validate(z0, z1).empty(), c.Validate(z0, z1));
  BOOST_REQUIRE_GE(c.points.size(), 2u);
  BOOST_TEST((c.points.front() == z0));
  BOOST_TEST((c.points.back() == z1));
  BOOST_TEST(c.times.front() == 0.0);
  BOOST_TEST(c.times.back() == 1.0);
  const double total = PolylineLength(m, c, q);
  double cumulative = 0;
  for (std::size_t i = 1; i < c.points.size(); ++i) {
    BOOST_TEST(c.times[i] > c.times[i - 1]);
    cumulative += GeodesicGraph::SegmentLength(m, c.points[i - 1], c.points[i], q);
    BOOST_TEST(c.times[i] == cumulative / total, boost::test_tools::tolerance(1e-12));
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(segment_length_linear_is_exact) {
  const PullbackMetric m = LinearMetric();
  const VectorXd a = V(-0.3, 1.2), b = V(2.1, -0.7);
  const double exact = LinearDistance(LinearW(), a, b);
  for (int q : {1, 2, 5, 16}) {
    BOOST_TEST(GeodesicGraph::SegmentLength(m, a, b, q) == exact, boost::test_tools::tolerance(1e-13));
  }
  BOOST_TEST(GeodesicGraph::SegmentLength(m, a, a, 5) == 0.0);
}

BOOST_AUTO_TEST_CASE(segment_length_converges_with_quadrature_points) {
  const TensorMetric m = Poincare();
  // Vertical segment: int 1/y dy = log(y1 / y0) (the geodesic distance).
  const VectorXd a = V(0.3, 0.05), b = V(0.3, 2.0);
  const double exact = std::log(2.0 / 0.05);
  double previous = 1e300;
  for (int q : {1, 2, 4, 8, 16, 32}) {
    const double err = std::abs(GeodesicGraph::SegmentLength(m, a, b, q) - exact);
    BOOST_TEST_MESSAGE("Poincare vertical segment, " << q << " points: error " << err);
    BOOST_TEST(err < previous);
    previous = err;
  }
  BOOST_TEST(previous < 1e-8 * exact);  // 1/y over a factor 40 in y: slow but steady
  // Horizontal segment: constant integrand |dx| / y, exact for any number of points.
  BOOST_TEST(GeodesicGraph::SegmentLength(m, V(-1, 0.5), V(2, 0.5), 1) == 6.0, boost::test_tools::tolerance(1e-14));

  // Stereographic sphere: lines through the origin are great circles, so the straight segment's length is the
  // distance on the sphere.
  const PullbackMetric sphere(MakeStereographicSphereDecoder(2));
  const VectorXd o = V(0.0, 0.0), p = V(1.5, 2.0);
  const double arc = SphereDistance(o, p);
  previous = 1e300;
  for (int q : {2, 4, 8, 16}) {
    const double err = std::abs(GeodesicGraph::SegmentLength(sphere, o, p, q) - arc);
    BOOST_TEST_MESSAGE("sphere radial segment, " << q << " points: error " << err);
    BOOST_TEST(err < previous);
    previous = err;
  }
  BOOST_TEST(previous < 1e-9);
}

BOOST_AUTO_TEST_CASE(poincare_shortest_path_approaches_the_geodesic) {
  const TensorMetric m = Poincare();
  const VectorXd z0 = V(-1.5, 0.2), z1 = V(1.5, 0.2);
  const double exact = PoincareDistance(z0, z1);
  const double straight = GeodesicGraph::SegmentLength(m, z0, z1, 5);
  // With a fixed k the graph offers a fixed set of edge directions, which bounds how well a path can follow the
  // geodesic (on this grid about 2 to 6 % for k = 8 .. 16 whatever the density); a denser grid with more
  // neighbours gets closer.
  double previous_error = 1e300;
  for (const auto& [n, k] : {std::pair{15, 12}, std::pair{30, 24}, std::pair{60, 48}}) {
    GeodesicGraphOptions options;
    options.neighbors = k;
    const GeodesicGraph graph(m, PoincareGrid(n, n, -2.0, 2.0, 0.05, 3.0), options);
    BOOST_TEST(graph.num_vertices() == n * n);
    BOOST_TEST(graph.num_edges() >= static_cast<std::size_t>(n * n * k / 2));
    const InitialCurve c = graph.ShortestPath(m, z0, z1);
    CheckCurve(m, c, z0, z1);
    const double L = PolylineLength(m, c);
    const double error = L / exact - 1.0;
    BOOST_TEST_MESSAGE(n << " x " << n << " grid, k = " << k << ": " << c.description << "; exact " << exact
                          << ", straight " << straight << ", relative excess " << error);
    BOOST_TEST(c.description.find("graph: ") == 0u);
    BOOST_TEST(error >= -1e-12);  // no polyline is shorter than the geodesic
    BOOST_TEST(error < 0.03);
    BOOST_TEST(error < previous_error);
    BOOST_TEST(L < 0.4 * straight);
    previous_error = error;
    // The path rises towards larger y as the geodesic (a half circle through z0 and z1, top at y = 1.51) does.
    double highest = 0;
    for (const VectorXd& p : c.points) highest = std::max(highest, p[1]);
    BOOST_TEST(highest > 1.2);
  }
  BOOST_TEST(previous_error < 0.01);
}

BOOST_AUTO_TEST_CASE(sphere_shortest_path_close_to_the_great_circle) {
  const PullbackMetric m(MakeStereographicSphereDecoder(2));
  // Points uniform on the sphere (Archimedes: height uniform), mapped to the plane z = y_xy / (1 - y_3), leaving
  // out a cap around the pole at infinity.
  Lcg rng{7};
  RowMatrixXd points(2000, 2);
  for (int i = 0; i < points.rows();) {
    const double h = 2 * rng() - 1, phi = 2 * std::numbers::pi * rng();
    if (h > 0.99) continue;
    const double r = std::sqrt(1 - h * h) / (1 - h);
    points(i, 0) = r * std::cos(phi);
    points(i, 1) = r * std::sin(phi);
    ++i;
  }
  // Far apart in the plane; the great circle runs far out (near the pole) while the straight segment crosses the
  // opposite hemisphere through the origin's neighbourhood.
  const VectorXd z0 = V(-2.5, 0.3), z1 = V(2.0, -1.0);
  GeodesicGraphOptions options;
  options.neighbors = 24;
  const GeodesicGraph graph(m, points, options);
  const InitialCurve c = graph.ShortestPath(m, z0, z1);
  CheckCurve(m, c, z0, z1);
  const double L = PolylineLength(m, c), exact = SphereDistance(z0, z1);
  const double straight = GeodesicGraph::SegmentLength(m, z0, z1, 5);
  BOOST_TEST_MESSAGE("sphere: " << c.description << "; exact " << exact << ", straight " << straight);
  BOOST_TEST(L >= exact * (1 - 1e-12));
  BOOST_TEST(L < 1.05 * exact);
  BOOST_TEST(L < 0.5 * straight);
}

BOOST_AUTO_TEST_CASE(linear_metric_path_is_nearly_straight) {
  const PullbackMetric m = LinearMetric();
  const VectorXd z0 = V(-0.9, -0.8), z1 = V(0.85, 0.9);
  const double exact = LinearDistance(LinearW(), z0, z1);
  GeodesicGraphOptions options;
  options.neighbors = 12;
  const GeodesicGraph graph(m, RandomSquare(1500, -1.0, 1.0, 42), options);
  const InitialCurve c = graph.ShortestPath(m, z0, z1);
  CheckCurve(m, c, z0, z1);
  BOOST_TEST_MESSAGE("linear: " << c.description << "; exact " << exact);
  BOOST_TEST(c.points.size() > 2u);  // through the graph: z1 is not among z0's nearest points
  const double L = PolylineLength(m, c);
  BOOST_TEST(L >= exact * (1 - 1e-12));
  BOOST_TEST(L < 1.03 * exact);
  // The description carries the same length.
  BOOST_TEST(c.description.find("vertices, length ") != std::string::npos);

  // Close end points are joined directly: the straight segment is the shortest path.
  const VectorXd a = V(0.1, 0.1), b = V(0.1001, 0.1002);
  const InitialCurve d = graph.ShortestPath(m, a, b);
  CheckCurve(m, d, a, b);
  BOOST_TEST(d.points.size() == 2u);
  BOOST_TEST(d.description.find("straight segment") != std::string::npos, d.description);
}

BOOST_AUTO_TEST_CASE(end_points_on_graph_points_and_identical_ends) {
  const PullbackMetric m = LinearMetric();
  const RowMatrixXd points = RandomSquare(200, -1.0, 1.0, 3);
  const GeodesicGraph graph(m, points, GeodesicGraphOptions{});
  // z0 and z1 coincide with graph points: zero-length edges must not produce repeated times.
  const VectorXd z0 = points.row(5).transpose(), z1 = points.row(150).transpose();
  CheckCurve(m, graph.ShortestPath(m, z0, z1), z0, z1);
  // z0 == z1: the straight (degenerate) line, with a reason.
  const InitialCurve same = graph.ShortestPath(m, z0, z0);
  BOOST_TEST(same.Validate(z0, z0).empty());
  BOOST_TEST(same.description.find("line") == 0u, same.description);
  // Wrong dimension is bad input.
  BOOST_CHECK_THROW(graph.ShortestPath(m, VectorXd::Zero(3), z1), InputError);
}

BOOST_AUTO_TEST_CASE(disconnected_and_empty_graphs_return_the_line) {
  const PullbackMetric m = LinearMetric();
  // Two clusters far apart; with 2 neighbours nothing joins them.
  RowMatrixXd points(8, 2);
  points << 0, 0, 0.1, 0, 0, 0.1, 0.1, 0.1, 10, 10, 10.1, 10, 10, 10.1, 10.1, 10.1;
  GeodesicGraphOptions options;
  options.neighbors = 2;
  const GeodesicGraph graph(m, points, options);
  BOOST_TEST(graph.num_vertices() == 8);
  const VectorXd z0 = V(0.05, -0.05), z1 = V(10.05, 10.2);
  const InitialCurve c = graph.ShortestPath(m, z0, z1);
  BOOST_TEST(c.Validate(z0, z1).empty());
  BOOST_TEST(c.points.size() == 2u);
  BOOST_TEST(c.description.find("line") == 0u);
  BOOST_TEST(c.description.find("not connected") != std::string::npos, c.description);
  // Inside one cluster the path exists.
  BOOST_TEST(graph.ShortestPath(m, z0, V(0.12, 0.13)).description.find("graph: ") == 0u);

  const GeodesicGraph empty(m, RowMatrixXd(0, 2), GeodesicGraphOptions{});
  BOOST_TEST(empty.num_vertices() == 0);
  BOOST_TEST(empty.num_edges() == 0u);
  const InitialCurve e = empty.ShortestPath(m, z0, z1);
  BOOST_TEST(e.Validate(z0, z1).empty());
  BOOST_TEST(e.description.find("no points") != std::string::npos, e.description);

  // An end point outside the domain: the line, with the reason (the solver reports the status).
  const TensorMetric p = Poincare();
  const GeodesicGraph half(p, PoincareGrid(5, 5, -1, 1, 0.1, 1), GeodesicGraphOptions{});
  const InitialCurve o = half.ShortestPath(p, V(0, -1), V(0, 1));
  BOOST_TEST(o.points.size() == 2u);
  BOOST_TEST(o.description.find("z0 is outside the domain") != std::string::npos, o.description);
}

BOOST_AUTO_TEST_CASE(bad_options_and_points) {
  const PullbackMetric m = LinearMetric();
  const RowMatrixXd points = RandomSquare(20, -1.0, 1.0, 1);
  GeodesicGraphOptions bad;
  bad.neighbors = 0;
  BOOST_CHECK_EXCEPTION(GeodesicGraph(m, points, bad), InputError,
                        [](const InputError& e) { return Mentions(e, "neighbors"); });
  bad = GeodesicGraphOptions{};
  bad.quadrature_points = 0;
  BOOST_CHECK_EXCEPTION(GeodesicGraph(m, points, bad), InputError,
                        [](const InputError& e) { return Mentions(e, "quadrature_points"); });

  CheckOptionRefused<GeodesicGraphOptions>("-graph_neighbors", "0", "-graph_neighbors");
  {
    OptionsDatabase db;
    db.Set("-graph_neighbors", "7");
    db.Set("-graph_quadrature_points", "9");
    GeodesicGraphOptions o;
    o.SetFromOptions(db);
    BOOST_TEST(o.neighbors == 7);
    BOOST_TEST(o.quadrature_points == 9);
    db.CheckAllUsed();
    bool documented = false;
    for (const OptionDeclaration& d : db.Declarations()) {
      BOOST_TEST(!d.help.empty());
      documented |= d.name == "graph_quadrature_points" && d.setter == "GeodesicGraphOptions::quadrature_points";
    }
    BOOST_TEST(documented);
  }
  CheckOptionRefused<GeodesicGraphOptions>("-graph_quadrature_points", "1000", "-graph_quadrature_points");

  const TensorMetric p = Poincare();
  RowMatrixXd half = PoincareGrid(3, 3, -1, 1, 0.5, 2);
  half(4, 1) = -0.25;
  BOOST_CHECK_EXCEPTION(GeodesicGraph(p, half, GeodesicGraphOptions{}), InputError,
                        [](const InputError& e) { return Mentions(e, "row 4"); });
  half(4, 1) = 0.0;
  BOOST_CHECK_EXCEPTION(GeodesicGraph(p, half, GeodesicGraphOptions{}), InputError,
                        [](const InputError& e) { return Mentions(e, "row 4"); });
  BOOST_CHECK_EXCEPTION(GeodesicGraph(m, RowMatrixXd::Zero(4, 3), GeodesicGraphOptions{}), InputError,
                        [](const InputError& e) { return Mentions(e, "3 columns"); });
  BOOST_CHECK_THROW(GeodesicGraph::SegmentLength(m, V(0, 0), V(1, 1), 0), InputError);
}

BOOST_AUTO_TEST_CASE(deterministic_and_concurrent_queries) {
  const TensorMetric m = Poincare();
  const RowMatrixXd points = PoincareGrid(25, 25, -2.0, 2.0, 0.05, 3.0);
  const GeodesicGraph a(m, points, GeodesicGraphOptions{}), b(m, points, GeodesicGraphOptions{});
  BOOST_TEST(a.num_edges() == b.num_edges());
  std::vector<VectorXd> starts, ends;
  for (int i = 0; i < 16; ++i) {
    starts.push_back(V(-1.8 + 0.05 * i, 0.1 + 0.02 * i));
    ends.push_back(V(1.7 - 0.04 * i, 0.3 + 0.1 * i));
  }
  std::vector<InitialCurve> serial;
  for (int i = 0; i < 16; ++i) serial.push_back(a.ShortestPath(m, starts[i], ends[i]));
  for (int i = 0; i < 16; ++i) {
    const InitialCurve c = b.ShortestPath(m, starts[i], ends[i]);
    BOOST_TEST(c.description == serial[i].description);
    BOOST_TEST(c.times == serial[i].times);
  }
  // Four threads, each with its own metric object, share one graph.
  std::vector<InitialCurve> parallel(16);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const TensorMetric own = Poincare();
      for (int i = t; i < 16; i += 4) parallel[static_cast<std::size_t>(i)] = a.ShortestPath(own, starts[i], ends[i]);
    });
  }
  for (std::thread& th : threads) th.join();
  for (int i = 0; i < 16; ++i) {
    BOOST_TEST(parallel[i].times == serial[i].times);
    BOOST_TEST(parallel[i].description == serial[i].description);
    CheckCurve(m, parallel[i], starts[i], ends[i]);
  }
}

BOOST_AUTO_TEST_CASE(timing_1000_points_linear) {
  const PullbackMetric m = LinearMetric();
  const RowMatrixXd points = RandomSquare(1000, -1.0, 1.0, 11);
  const auto t0 = std::chrono::steady_clock::now();
  const GeodesicGraph graph(m, points, GeodesicGraphOptions{});
  const auto t1 = std::chrono::steady_clock::now();
  const InitialCurve c = graph.ShortestPath(m, V(-0.95, -0.95), V(0.95, 0.95));
  const auto t2 = std::chrono::steady_clock::now();
  const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  BOOST_TEST_MESSAGE("1000 points in 2-d, linear metric, k = 10, 5 quadrature points: " << graph.num_edges()
                     << " edges, build " << ms(t1 - t0) << " ms, one query " << ms(t2 - t1) << " ms ("
                     << c.description << ")");
  BOOST_TEST(graph.num_edges() >= 5000u);
  BOOST_TEST(ms(t1 - t0) < 10000.0);
}

#define BOOST_TEST_MODULE geodesic_reference
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include <Eigen/Core>

#include "bench/geodesic_reference.hpp"
#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/discrete_geodesic.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/metric.hpp"

using namespace pushpull;
using namespace pushpull::reference;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

VectorXd V(double x, double y) { return (VectorXd(2) << x, y).finished(); }

}  // namespace

// The Richardson reference of the sphere S^2 (inverse stereographic projection) hits arccos <f(z0), f(z1)>; L_N has
// observed order 2, the first extrapolant order 4.
BOOST_AUTO_TEST_CASE(sphere_reference_matches_closed_form) {
  const auto sphere = MakeStereographicSphereDecoder(2);
  const std::vector<std::pair<VectorXd, VectorXd>> pairs = {
      {V(0.3, -0.2), V(-0.5, 0.8)}, {V(-1.2, 0.4), V(0.9, 1.1)}, {V(2.0, -1.0), V(-0.3, 0.1)}};
  const std::vector<int> N = {16, 32, 64, 128};
  for (const auto& [z0, z1] : pairs) {
    const double exact = SphereDistance(z0, z1);
    const PairResult r = ComputePair(*sphere, z0, z1, N, ReferenceSettings{});
    BOOST_TEST(r.converged);
    BOOST_TEST(std::abs(r.by_energy.value - exact) / exact < 1e-8);
    BOOST_TEST(r.by_energy.error / exact < 1e-8);
    BOOST_TEST(std::abs(r.by_chord.value - exact) / exact < 1e-8);
    BOOST_TEST(std::abs(r.observed_order - 2.0) < 0.05);
    const auto& t = r.by_energy.table;
    BOOST_TEST(std::abs(Order(t[1][1], t[2][1], t[3][1], 2.0) - 4.0) < 0.1);
    BOOST_TEST(r.sqrt_energy.back() < exact);  // chords underestimate the arc
  }
}

// A linear decoder: the discrete geodesic is the straight line and every L_N is the exact length.
BOOST_AUTO_TEST_CASE(linear_decoder_exact_at_every_n) {
  const MatrixXd W = (MatrixXd(3, 2) << 1.0, 0.5, -0.3, 2.0, 0.7, -0.4).finished();
  const auto f = MakeLinearDecoder(W, VectorXd::Zero(3));
  const VectorXd z0 = V(0.3, -1.0), z1 = V(-0.7, 0.4);
  const double exact = LinearDistance(W, z0, z1);
  const PairResult r = ComputePair(*f, z0, z1, {8, 16, 32}, ReferenceSettings{});
  BOOST_TEST(r.converged);
  for (double L : r.sqrt_energy) BOOST_TEST(std::abs(L - exact) / exact < 1e-13);
  for (double L : r.chord) BOOST_TEST(std::abs(L - exact) / exact < 1e-13);
}

// Richardson in 1/N^2 removes the 1/N^2 and 1/N^4 terms of a synthetic sequence exactly, at any ratio.
BOOST_AUTO_TEST_CASE(richardson_removes_even_terms) {
  const std::vector<int> N = {10, 20, 30};
  std::vector<double> L;
  for (int n : N) L.push_back(3.0 + 2.0 / (n * n) - 5.0 / std::pow(n, 4));
  const Extrapolation e = Richardson(N, L);
  BOOST_TEST(std::abs(e.value - 3.0) < 1e-13);
  BOOST_TEST(e.error > 0);
}

// Cubic interpolation in the index reproduces a cubic polyline.
BOOST_AUTO_TEST_CASE(upsample_reproduces_cubics) {
  auto p = [](double s) { return V(s * s * s - s, 2.0 * s * s + 1.0); };
  std::vector<VectorXd> x;
  for (int i = 0; i <= 5; ++i) x.push_back(p(i / 5.0));
  const std::vector<VectorXd> y = Upsample(x, 15);
  BOOST_TEST(y.size() == 16u);
  for (int j = 0; j <= 15; ++j) BOOST_TEST((y[j] - p(j / 15.0)).norm() < 1e-14);
}

// The start-polyline overload: from the straight line it gives exactly the default overload's result; a start of
// the wrong length is refused.
BOOST_AUTO_TEST_CASE(start_polyline_overload) {
  const auto sphere = MakeStereographicSphereDecoder(2);
  const VectorXd z0 = V(0.3, -0.2), z1 = V(-0.5, 0.8);
  DiscreteGeodesicOptions o;
  o.segments = 12;
  o.rtol = 1e-12;
  std::vector<VectorXd> line;
  for (int i = 0; i <= o.segments; ++i) line.push_back(z0 + (z1 - z0) * (static_cast<double>(i) / o.segments));
  const DiscreteGeodesic a = MinimizeDiscreteEnergy(*sphere, z0, z1, o);
  const DiscreteGeodesic b = MinimizeDiscreteEnergy(*sphere, z0, z1, o, line);
  BOOST_TEST(a.energy == b.energy);
  BOOST_TEST(a.iterations == b.iterations);
  for (std::size_t i = 0; i < a.points.size(); ++i) BOOST_TEST((a.points[i] - b.points[i]).norm() == 0.0);
  line.pop_back();
  BOOST_CHECK_THROW(MinimizeDiscreteEnergy(*sphere, z0, z1, o, line), InputError);
  // From a converged polyline it stays converged with no work to do.
  const DiscreteGeodesic c = MinimizeDiscreteEnergy(*sphere, z0, z1, o, a.points);
  BOOST_TEST(c.converged);
  BOOST_TEST(std::abs(c.energy - a.energy) <= 1e-12 * a.energy);
}

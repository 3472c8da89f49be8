// Regression tests on a trained decoder (tests/data/vae_digits_wide.h5, a copy of the development model
// vae_digits_wide: a VAE on 8x8 digits, decoder 2 -> 128 -> 128 -> 64 tanh with a sigmoid output; its `description`
// attribute says how it was trained), on pairs of encoded data points from its /pairs that the logarithm map got
// wrong before:
// - pair 4 failed with the earlier defaults (single shooting, then multiple shooting, stopped by too_much_work), and
//   with a 16-segment initial curve converged to a geodesic 0.45% longer than the distance;
// - pair 99 was reported converged by the multiple-shooting fallback with a length 4.5% above the distance.
// The distance each result is judged against is computed here by an independent method: discrete geodesics on
// 64 .. 512 segments from the straight line, Richardson-extrapolated (ExtrapolateDiscreteGeodesic).
#define BOOST_TEST_MODULE trained_geodesics
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>

#include <Eigen/Core>

#include "pushpull/discrete_geodesic.hpp"
#include "pushpull/geodesic.hpp"
#include "pushpull/io.hpp"
#include "pushpull/log_map.hpp"
#include "pushpull/metric.hpp"

using namespace pushpull;
using Eigen::VectorXd;

namespace {

const std::string kModel = std::string(PUSHPULL_TEST_SOURCE_DIR) + "/tests/data/vae_digits_wide.h5";

void Pair(int p, VectorXd* z0, VectorXd* z1) {
  ArraySpec spec;
  spec.ranks = {3};
  spec.shape = {-1, 2, 2};
  const Array a = ReadArray(DatasetName::Parse(kModel + ":/pairs", "pairs"), spec);
  *z0 = Eigen::Map<const VectorXd>(a.data.data() + 4 * p, 2);
  *z1 = Eigen::Map<const VectorXd>(a.data.data() + 4 * p + 2, 2);
}

// The distance by discrete geodesics from the straight line (independent of the geodesic equation), on `segments`
// .. 8 * segments.
Extrapolation Reference(const Decoder& decoder, const VectorXd& z0, const VectorXd& z1, int segments = 64) {
  DiscreteGeodesicOptions o;
  o.segments = segments;
  o.rtol = 1e-12;
  o.max_iterations = 5000;
  o.newton = true;
  const ExtrapolatedDiscreteGeodesic x = ExtrapolateDiscreteGeodesic(decoder, z0, z1, o, 4);
  BOOST_TEST_REQUIRE(x.converged, x.message);
  return x.length;
}

// Pair p of the model solved by LogMap with the default options, next to its reference distance.
struct Solved {
  Extrapolation reference;
  LogMapResult result;
};
Solved SolveWithDefaults(int p, int reference_segments = 64) {
  const auto decoder = ReadDecoder(kModel, false);
  const PullbackMetric metric(decoder);
  VectorXd z0, z1;
  Pair(p, &z0, &z1);
  Solved s{Reference(*decoder, z0, z1, reference_segments), LogMap(metric, z0, z1, LogMapOptions())};
  BOOST_TEST_MESSAGE("pair " << p << ": " << ToString(s.result.status) << " L = " << s.result.length
                             << ", reference " << s.reference.value << " +- " << s.reference.error << "; "
                             << s.result.message.substr(0, 300));
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_pair_that_failed_converges_to_the_distance) {
  const auto [ref, r] = SolveWithDefaults(4);
  // Verified here (fallback multiple shooting); which solver of the chain gets there can depend on rounding on
  // another CPU, so an approximate result is accepted too, but only with an error estimate that covers the distance.
  BOOST_TEST_WARN(r.usable(), "pair 4 not verified: " << r.message.substr(0, 300));
  if (r.usable()) {
    BOOST_TEST(std::abs(r.length - ref.value) <= 1e-6 * ref.value + ref.error);
  } else {
    BOOST_TEST_REQUIRE((r.status == GeodesicStatus::kApproximate), r.message);
    BOOST_TEST(std::abs(r.length - ref.value) <= r.length_error + ref.error);
  }
}

BOOST_AUTO_TEST_CASE(a_longer_geodesic_from_the_fallback_is_not_reported_as_the_distance) {
  const auto [ref, r] = SolveWithDefaults(99);
  if (r.usable()) {
    BOOST_TEST(std::abs(r.length - ref.value) <= 1e-6 * ref.value + ref.error);
  } else {
    // Either flagged (a true geodesic, not the distance) or approximate with an estimate that covers the distance.
    BOOST_TEST((r.status == GeodesicStatus::kNotMinimal || r.status == GeodesicStatus::kApproximate), r.message);
    BOOST_TEST(r.message.find("discrete geodesics") != std::string::npos, r.message);
    if (r.status == GeodesicStatus::kNotMinimal) BOOST_TEST(r.length > ref.value + ref.error);
  }
}

BOOST_AUTO_TEST_CASE(newton_steps_reach_the_gauss_newton_minimum_in_far_fewer_iterations) {
  // Pair 19: a long geodesic that bends sharply in data space. Gauss-Newton converges only linearly here (the
  // residuals f(x_{i+1}) - f(x_i) do not vanish at the minimum), Newton quadratically; both must reach the same
  // discrete geodesic, which also checks the second-order part of Newton's matrix (a wrong one would not converge
  // to xtol, or not to Gauss-Newton's minimum).
  const auto decoder = ReadDecoder(kModel, false);
  VectorXd z0, z1;
  Pair(19, &z0, &z1);
  DiscreteGeodesicOptions o;
  o.segments = 64;
  o.rtol = 1e-12;
  o.xtol = 1e-10;
  o.max_iterations = 5000;
  const DiscreteGeodesic start = MinimizeDiscreteEnergy(*decoder, z0, z1, o);
  BOOST_TEST_REQUIRE(start.converged, start.message);
  o.segments = 256;
  const std::vector<VectorXd> from = Upsample(start.points, o.segments);
  o.newton = false;
  const DiscreteGeodesic gn = MinimizeDiscreteEnergy(*decoder, z0, z1, o, from);
  o.newton = true;
  const DiscreteGeodesic nt = MinimizeDiscreteEnergy(*decoder, z0, z1, o, from);
  BOOST_TEST_MESSAGE("256 segments from the 64-segment curve: Gauss-Newton " << gn.iterations << " iterations ("
                     << gn.message << "), Newton " << nt.iterations << " (" << nt.message << ")");
  BOOST_TEST_REQUIRE(gn.converged, gn.message);
  BOOST_TEST_REQUIRE(nt.converged, nt.message);
  double apart = 0;
  for (std::size_t i = 0; i < gn.points.size(); ++i) apart = std::max(apart, (gn.points[i] - nt.points[i]).norm());
  BOOST_TEST(apart < 1e-8);
  BOOST_TEST(std::abs(gn.energy - nt.energy) <= 1e-12 * gn.energy);
  BOOST_TEST(5 * nt.iterations < gn.iterations);
}

BOOST_AUTO_TEST_CASE(a_sensitive_pair_gets_its_distance) {
  // Pair 19 failed every solver of the chain before the extrapolation's Newton steps made 2048 and 4096 segments
  // affordable: the geodesic equation is so sensitive here that an initial velocity off by 1e-4 misses z1 by 0.08.
  const auto [ref, r] = SolveWithDefaults(19);
  BOOST_TEST_REQUIRE(r.usable(), r.message.substr(0, 400));
  BOOST_TEST(std::abs(r.length - ref.value) <= 1e-6 * ref.value + ref.error);
}

BOOST_AUTO_TEST_CASE(a_longer_geodesic_within_the_coarse_estimate_is_not_reported_as_the_distance) {
  // Pair 93: multiple shooting converges (26 iterations, verified) to a geodesic 0.17% longer than the distance. The
  // discrete geodesics on 64 .. 256 segments put the distance below it, but by less than their error estimate, so
  // the check could not decide and the longer geodesic was reported; finer meshes now decide it.
  const auto [ref, r] = SolveWithDefaults(93, 256);
  BOOST_TEST_REQUIRE(ref.error < 1e-3 * ref.value);  // the reference resolves a 0.17% difference
  BOOST_TEST_REQUIRE(r.usable(), r.message.substr(0, 400));
  BOOST_TEST(r.length <= ref.value * (1 + 1e-6) + ref.error, r.message.substr(0, 400));
  BOOST_TEST(!r.minimality.empty());  // says which geodesic was found longer
}

BOOST_AUTO_TEST_CASE(fine_meshes_converge_in_a_few_newton_iterations) {
  // From the upsampled minimiser of the previous mesh, the start is within O(1/N^2) of the minimiser, where Newton's
  // method converges quadratically. A damping floor that does not fall with the mesh (the smallest eigenvalue of the
  // matrix, relative to its mean diagonal, falls as 1/N^2) made these iterations linear: pair 67 took 7 s instead of
  // 0.8 s by discrete geodesics up to 4096 segments.
  const auto decoder = ReadDecoder(kModel, false);
  VectorXd z0, z1;
  Pair(67, &z0, &z1);
  DiscreteGeodesicOptions o;
  o.segments = 512;
  o.rtol = 1e-10;
  o.xtol = 1e-11;
  o.max_iterations = 1000;
  o.newton = true;
  const ExtrapolatedDiscreteGeodesic coarse = ExtrapolateDiscreteGeodesic(*decoder, z0, z1, o, 2);
  BOOST_TEST_REQUIRE(coarse.converged, coarse.message);
  o.segments = 2048;
  const DiscreteGeodesic fine = MinimizeDiscreteEnergy(*decoder, z0, z1, o, Upsample(coarse.finest.points, 2048));
  BOOST_TEST_MESSAGE("2048 segments from the 1024-segment minimiser: " << fine.iterations << " iterations ("
                     << fine.message << ")");
  BOOST_TEST_REQUIRE(fine.converged, fine.message);
  BOOST_TEST(fine.iterations <= 8);
}

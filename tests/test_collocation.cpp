// The collocation BVP solver (-bvp_type collocation) on its own (no fallback) against the closed-form geometries,
// the fallback chain's 'approximate' result, the minimality check ('not_minimal') and the -bvp_collocation_* options.
#define BOOST_TEST_MODULE collocation
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/initial_curve.hpp"
#include "pushpull/log_map.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/options.hpp"
#include "test_support.hpp"

using namespace pushpull;
using pushpull::testing::CheckOptionRefused;
using pushpull::testing::ExpectInputError;
using pushpull::testing::FromSphere;
using pushpull::testing::NearAntipodal;
using pushpull::testing::V2;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

// Collocation judged alone: no fallback, the collocation tolerance `tol`, a coarse first mesh (so that the mesh
// refinement has work to do at every tolerance).
LogMapOptions Colloc(double tol) {
  LogMapOptions o;
  o.type = "collocation";
  o.fallback = false;
  o.collocation.tol = tol;
  o.collocation.intervals = 4;
  o.discrete.segments = 4;  // the initial curve no finer than that mesh
  // A tight verification, so that the verified initial velocity is a reference for the collocation's own.
  o.tol = 1e-9;
  o.verify.ode.rtol = 1e-12;
  o.verify.ode.atol = 1e-14;
  return o;
}

// A closed-form geometry with one pair and its distance.
struct Geometry {
  std::string name;
  std::shared_ptr<const Metric> metric;
  VectorXd z0, z1;
  double distance;
  double floor = 1e-13;  // relative accuracy of `distance` (round-off for a closed form)
};

std::vector<Geometry> Geometries() {
  std::vector<Geometry> g;
  MatrixXd W(3, 2);
  W << 1.0, 0.5, 0.2, 1.3, 0.4, -0.7;
  const VectorXd c = Eigen::Vector3d(0.1, -0.2, 0.3);
  g.push_back({"linear", std::make_shared<PullbackMetric>(MakeLinearDecoder(W, c)), V2(0.3, -0.2), V2(-0.5, 0.7),
               LinearDistance(W, V2(0.3, -0.2), V2(-0.5, 0.7))});
  g.push_back({"sphere", std::make_shared<PullbackMetric>(MakeStereographicSphereDecoder(2)), V2(1.2, 0.1),
               V2(-0.4, -1.1), SphereDistance(V2(1.2, 0.1), V2(-0.4, -1.1))});
  const double r = 0.7;
  g.push_back({"torus meridian", std::make_shared<PullbackMetric>(MakeTorusDecoder(2.0, r)), V2(0.3, 1.0),
               V2(2.5, 1.0), TorusMeridianDistance(r, V2(0.3, 1.0), V2(2.5, 1.0))});
  {
    // No closed form: the reference is single shooting at tight tolerances.
    const auto bump = std::make_shared<PullbackMetric>(MakeGaussianBumpDecoder(0.8));
    const VectorXd a = V2(-1.5, -0.5), b = V2(1.5, 0.7);
    LogMapOptions ref;
    ref.fallback = false;
    ref.shots.ode.rtol = 1e-11;
    ref.shots.ode.atol = 1e-13;
    ref.tol = 1e-10;
    ref.verify.ode.rtol = 1e-13;
    ref.verify.ode.atol = 1e-15;
    const LogMapResult r_ref = LogMap(*bump, a, b, ref);
    BOOST_TEST_REQUIRE(r_ref.usable(), r_ref.message);
    g.push_back({"gaussian bump", bump, a, b, r_ref.length, 1e-10});
  }
  g.push_back({"fisher-rao normal", std::make_shared<TensorMetric>(MakeFisherRaoNormalField()), V2(-1.0, 0.5),
               V2(1.2, 1.5), FisherRaoNormalDistance(V2(-1.0, 0.5), V2(1.2, 1.5))});
  g.push_back({"poincare", std::make_shared<TensorMetric>(MakePoincareHalfPlaneField()), V2(-1.0, 0.4),
               V2(1.3, 1.0), PoincareDistance(V2(-1.0, 0.4), V2(1.3, 1.0))});
  return g;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_half_plane_metrics_differentiate_their_acceleration) {
  BOOST_TEST(TensorMetric(MakeFisherRaoNormalField()).HasAccelerationTangent());
  BOOST_TEST(TensorMetric(MakePoincareHalfPlaneField()).HasAccelerationTangent());
  // A tensor field without second derivatives cannot: collocation says so in a status, it does not throw.
  const TensorMetric plain(PullbackTensorField(MakeGaussianBumpDecoder(0.8)));
  BOOST_TEST_REQUIRE(!plain.HasAccelerationTangent());
  for (const bool fallback : {false, true}) {
    LogMapOptions o = Colloc(1e-6);
    o.fallback = fallback;
    LogMapResult r;
    BOOST_CHECK_NO_THROW(r = LogMap(plain, V2(-1.0, 0.2), V2(0.8, 0.5), o));
    BOOST_TEST(!r.usable());
    BOOST_TEST((r.status != GeodesicStatus::kApproximate));
    BOOST_TEST(r.message.find("collocation") != std::string::npos, r.message);
    BOOST_TEST(r.message.find("cannot differentiate") != std::string::npos, r.message);
  }
}

BOOST_AUTO_TEST_CASE(collocation_alone_matches_every_closed_form_and_its_curve_converges_with_tol) {
  const std::vector<double> tols = {1e-3, 1e-5, 1e-7};
  for (const Geometry& g : Geometries()) {
    std::vector<double> curve_errors, velocity_errors;
    std::vector<int> meshes;
    for (const double tol : tols) {
      const LogMapResult r = LogMap(*g.metric, g.z0, g.z1, Colloc(tol));
      BOOST_TEST_REQUIRE(r.usable(), g.name << ", tol " << tol << ": " << r.message);
      BOOST_TEST(r.solver == "collocation");
      // The defect test on success.
      BOOST_TEST(r.defect <= tol, g.name << ", tol " << tol << ": defect " << r.defect);
      // The verified length (re-integrated and polished) is the distance, whatever the collocation tolerance.
      const double rel = std::abs(r.length - g.distance) / g.distance;
      BOOST_TEST(rel <= 1e-6, g.name << ", tol " << tol << ": verified length " << r.length << ", d = " << g.distance);
      // The collocation's own curve: its metric length shows the discretisation error.
      BOOST_TEST_REQUIRE(r.curve.times.size() >= 2u);
      BOOST_TEST(r.curve.Validate(g.z0, g.z1).empty(), r.curve.Validate(g.z0, g.z1));
      double quadrature = 0;
      const double curve_length = MetricLength(*g.metric, r.curve, &quadrature);
      curve_errors.push_back(std::abs(curve_length - g.distance) / g.distance);
      // The length is stationary at a geodesic, so its error is second order in the curve's; the collocation's start
      // velocity against the verified one shows the first-order error.
      BOOST_TEST_REQUIRE(r.curve.velocities.size() == r.curve.times.size());
      velocity_errors.push_back((r.curve.velocities.front() - r.initial_velocity).norm() /
                                r.initial_velocity.norm());
      meshes.push_back(static_cast<int>(r.curve.times.size()) - 1);
      BOOST_TEST_MESSAGE(g.name << ", tol " << tol << ": " << meshes.back() << " intervals, defect " << r.defect
                                << ", curve length error " << curve_errors.back() << " (quadrature " << quadrature
                                << "), start velocity error " << velocity_errors.back() << ", verified length error "
                                << rel);
    }
    for (std::size_t k = 1; k < tols.size(); ++k) {
      BOOST_TEST(meshes[k] >= meshes[k - 1], g.name << ": the mesh shrank from " << meshes[k - 1] << " to "
                                                    << meshes[k] << " intervals");
      BOOST_TEST(curve_errors[k] <= std::max(curve_errors[k - 1], g.floor),
                 g.name << ": curve length error " << curve_errors[k] << " at tol " << tols[k] << " above "
                        << curve_errors[k - 1] << " at tol " << tols[k - 1]);
      BOOST_TEST(velocity_errors[k] <= std::max(velocity_errors[k - 1], 1e-9),
                 g.name << ": start velocity error " << velocity_errors[k] << " at tol " << tols[k] << " above "
                        << velocity_errors[k - 1] << " at tol " << tols[k - 1]);
    }
    BOOST_TEST(curve_errors.back() <= std::max(1e-12, g.floor), g.name << ": curve length error "
                                                                       << curve_errors.back());
    for (std::size_t k = 0; k < tols.size(); ++k) {
      BOOST_TEST(velocity_errors[k] <= tols[k], g.name << ": start velocity error " << velocity_errors[k]
                                                       << " at tol " << tols[k]);
    }
    BOOST_TEST(velocity_errors.back() <= 1e-8, g.name << ": start velocity error " << velocity_errors.back());
  }
}

BOOST_AUTO_TEST_CASE(the_mesh_grows_as_the_tolerance_shrinks_on_a_curved_geometry) {
  const PullbackMetric sphere(MakeStereographicSphereDecoder(2));
  const VectorXd a = V2(1.2, 0.1), b = V2(-0.4, -1.1);
  int previous = 0;
  for (const double tol : {1e-2, 1e-4, 1e-6, 1e-8}) {
    LogMapOptions o = Colloc(tol);
    o.collocation.intervals = 2;
    const LogMapResult r = LogMap(sphere, a, b, o);
    BOOST_TEST_REQUIRE(r.usable(), "tol " << tol << ": " << r.message);
    BOOST_TEST(r.defect <= tol);
    const int mesh = static_cast<int>(r.curve.times.size()) - 1;
    BOOST_TEST(mesh > previous, "tol " << tol << ": " << mesh << " intervals, " << previous << " before");
    // The message reports the mesh and defect the solve ended with.
    BOOST_TEST(r.message.find("on " + std::to_string(mesh) + " intervals") != std::string::npos, r.message);
    previous = mesh;
  }
  // The mesh limit: refinement stops there and the solve fails, naming the option.
  LogMapOptions capped = Colloc(1e-8);
  capped.collocation.intervals = 2;
  capped.collocation.max_intervals = 6;
  const LogMapResult r = LogMap(sphere, a, b, capped);
  BOOST_TEST((r.status == GeodesicStatus::kNotConverged), ToString(r.status) << ": " << r.message);
  BOOST_TEST(r.message.find("-bvp_collocation_max_intervals") != std::string::npos, r.message);
  BOOST_TEST(r.curve.times.size() - 1 <= 6u);
  BOOST_TEST(r.defect > 1e-8);
}

BOOST_AUTO_TEST_CASE(an_unpolished_collocation_is_approximate_with_its_own_length_and_error_estimate) {
  // No Newton polish on verification shots (-bvp_refine_iterations 0) and a loose collocation: its initial velocity
  // re-integrated misses z1 by more than -bvp_tol, so the result is the collocation curve's length, approximate.
  const TensorMetric poincare(MakePoincareHalfPlaneField());
  const VectorXd a = V2(-1.0, 0.4), b = V2(1.3, 1.0);
  const double d = PoincareDistance(a, b);
  LogMapOptions o = Colloc(1e-3);
  o.refine_iterations = 0;
  o.tol = 1e-10;
  const LogMapResult r = LogMap(poincare, a, b, o);
  BOOST_TEST_MESSAGE("approximate collocation: L = " << r.length << " +- " << r.length_error << ", d = " << d
                                                     << "; " << r.message);
  BOOST_TEST_REQUIRE((r.status == GeodesicStatus::kApproximate), ToString(r.status) << ": " << r.message);
  BOOST_TEST(r.solver == "collocation");
  BOOST_TEST(std::isfinite(r.length));
  BOOST_TEST(std::isfinite(r.length_error));
  BOOST_TEST(r.defect <= 1e-3);
  BOOST_TEST(r.curve.times.size() >= 2u);
  BOOST_TEST(r.message.find("misses z1") != std::string::npos, r.message);
  BOOST_TEST(std::abs(r.length - d) <= r.length_error, "L = " << r.length << ", d = " << d << ", estimate "
                                                              << r.length_error);
}

BOOST_AUTO_TEST_CASE(when_every_solver_fails_the_result_is_approximate_with_the_initial_curve) {
  const TensorMetric poincare(MakePoincareHalfPlaneField());
  const VectorXd a = V2(-1.0, 0.4), b = V2(1.3, 1.0);
  const double d = PoincareDistance(a, b);
  LogMapOptions o;
  o.type = "shooting";  // the whole chain: single shooting, multiple shooting, collocation
  o.max_iterations = 1;
  o.refine_iterations = 0;
  o.fallback = false;
  const LogMapResult alone = LogMap(poincare, a, b, o);
  BOOST_TEST_REQUIRE(!alone.usable(), alone.message);
  BOOST_TEST((alone.status != GeodesicStatus::kApproximate), alone.message);
  o.fallback = true;
  const LogMapResult r = LogMap(poincare, a, b, o);
  BOOST_TEST_MESSAGE("every solver failing: " << ToString(r.status) << ", L = " << r.length << ", d = " << d
                                              << "; " << r.message);
  BOOST_TEST_REQUIRE((r.status == GeodesicStatus::kApproximate), ToString(r.status) << ": " << r.message);
  BOOST_TEST(static_cast<int>(r.status) == 5);
  BOOST_TEST(std::string(ToString(r.status)) == "approximate");
  BOOST_TEST(!r.usable());
  BOOST_TEST(std::isfinite(r.length));
  // The metric length of a curve joining the pair bounds the distance from above (up to its quadrature error).
  BOOST_TEST(r.length >= d - 1e-8 * d, "L = " << r.length << ", d = " << d);
  BOOST_TEST(r.length == r.curve_length_bound);
  BOOST_TEST(r.curve.times.size() >= 2u);
  BOOST_TEST(r.curve.Validate(a, b).empty());
  // The message names every solver of the chain that failed.
  for (const char* what : {"no solver was verified", "shooting failed first", "fallback multiple shooting",
                           "fallback collocation", "upper bound"}) {
    BOOST_TEST(r.message.find(what) != std::string::npos, "'" << what << "' missing: " << r.message);
  }
}

BOOST_AUTO_TEST_CASE(the_long_arc_from_the_line_is_flagged_not_minimal) {
  const PullbackMetric sphere(MakeStereographicSphereDecoder(2));
  const auto [a, b] = NearAntipodal(0.2);
  const double d = SphereDistance(a, b), long_arc = 2 * std::numbers::pi - d;
  LogMapOptions o;
  o.type = "shooting";  // single shooting reaches the long arc from the line
  o.init = "line";
  o.stagnation_iterations = 0;  // after a slow start that the stagnation test would cut short
  o.shots.ode.rtol = 1e-10;
  o.shots.ode.atol = 1e-12;
  o.minimality_rtol = -1;
  const LogMapResult unchecked = LogMap(sphere, a, b, o);
  BOOST_TEST_REQUIRE(unchecked.usable(), unchecked.message);
  BOOST_TEST(std::abs(unchecked.length - long_arc) < 1e-6, "long arc expected from the line: L = "
                                                                 << unchecked.length << ", d = " << d);
  BOOST_TEST(unchecked.minimality.empty());
  BOOST_TEST(std::isnan(unchecked.curve_length_bound));

  o.minimality_rtol = LogMapOptions().minimality_rtol;
  const LogMapResult checked = LogMap(sphere, a, b, o);
  BOOST_TEST_MESSAGE("with the minimality check: " << ToString(checked.status) << ", L = " << checked.length
                                                   << "; " << checked.message);
  BOOST_TEST(!checked.minimality.empty());
  BOOST_TEST(checked.minimality.find("exceeds the metric length") != std::string::npos, checked.minimality);
  // The bound is the metric length of the straight line, longer than d, shorter than the long arc.
  BOOST_TEST(checked.curve_length_bound > d);
  BOOST_TEST(checked.curve_length_bound < long_arc);
  const bool resolved = checked.usable() && std::abs(checked.length - d) < 1e-6;
  const bool flagged = checked.status == GeodesicStatus::kNotMinimal;
  BOOST_TEST((resolved || flagged), ToString(checked.status) << ", L = " << checked.length);
  if (flagged) {
    BOOST_TEST(static_cast<int>(checked.status) == 6);
    BOOST_TEST(std::string(ToString(checked.status)) == "not_minimal");
    BOOST_TEST(checked.message.find("not the distance") != std::string::npos, checked.message);
  }
}

BOOST_AUTO_TEST_CASE(identical_end_points_are_never_flagged) {
  const PullbackMetric sphere(MakeStereographicSphereDecoder(2));
  const TensorMetric poincare(MakePoincareHalfPlaneField());
  for (const std::string type : {"shooting", "multiple_shooting", "collocation"}) {
    for (const Metric* m : {static_cast<const Metric*>(&sphere), static_cast<const Metric*>(&poincare)}) {
      const VectorXd z = V2(0.4, 0.7);
      LogMapOptions o;
      o.type = type;
      const LogMapResult r = LogMap(*m, z, z, o);
      BOOST_TEST(r.usable(), type << ": " << ToString(r.status) << ": " << r.message);
      BOOST_TEST(r.length <= 1e-12, type << ": L = " << r.length);
      BOOST_TEST(r.minimality.empty(), type << ": " << r.minimality);
    }
  }
}

BOOST_AUTO_TEST_CASE(collocation_options_are_validated_naming_the_option) {
  OptionsDatabase db;
  db.ParseTokens({"-bvp_type", "collocation", "-bvp_collocation_tol", "1e-7", "-bvp_collocation_intervals", "8",
                  "-bvp_collocation_max_intervals", "64", "-bvp_collocation_trust_radius", "1e4",
                  "-bvp_minimality_rtol", "-1"},
                 "");
  LogMapOptions o;
  o.SetFromOptions(db);
  db.CheckAllUsed();
  BOOST_TEST(o.type == "collocation");
  BOOST_TEST(o.collocation.tol == 1e-7);
  BOOST_TEST(o.collocation.intervals == 8);
  BOOST_TEST(o.collocation.max_intervals == 64);
  BOOST_TEST(o.collocation.trust_radius == 1e4);
  BOOST_TEST(o.minimality_rtol == -1);

  CheckOptionRefused<LogMapOptions>("-bvp_collocation_tol", "0", "bvp_collocation_tol");
  CheckOptionRefused<LogMapOptions>("-bvp_collocation_tol", "-1e-6", "bvp_collocation_tol");
  CheckOptionRefused<LogMapOptions>("-bvp_collocation_tol", "nan", "bvp_collocation_tol");
  CheckOptionRefused<LogMapOptions>("-bvp_collocation_intervals", "0", "bvp_collocation_intervals");
  CheckOptionRefused<LogMapOptions>("-bvp_collocation_intervals", "two", "bvp_collocation_intervals");
  CheckOptionRefused<LogMapOptions>("-bvp_collocation_max_intervals", "0", "bvp_collocation_max_intervals");
  CheckOptionRefused<LogMapOptions>("-bvp_collocation_max_intervals", "8", "bvp_collocation_max_intervals");
  CheckOptionRefused<LogMapOptions>("-bvp_collocation_trust_radius", "0", "bvp_collocation_trust_radius");
  CheckOptionRefused<LogMapOptions>("-bvp_collocation_trust_radius", "-5", "bvp_collocation_trust_radius");
  CheckOptionRefused<LogMapOptions>("-bvp_minimality_rtol", "nan", "bvp_minimality_rtol");
  CheckOptionRefused<LogMapOptions>("-bvp_fallback", "maybe", "bvp_fallback");

  // LogMap itself refuses invalid collocation options set in code, naming them.
  const PullbackMetric sphere(MakeStereographicSphereDecoder(2));
  LogMapOptions bad = Colloc(1e-6);
  bad.collocation.intervals = 0;
  ExpectInputError([&] { LogMap(sphere, V2(0, 0), V2(1, 0), bad); }, {"bvp_collocation_intervals"});
  bad = Colloc(1e-6);
  bad.collocation.tol = std::numeric_limits<double>::quiet_NaN();
  ExpectInputError([&] { LogMap(sphere, V2(0, 0), V2(1, 0), bad); }, {"bvp_collocation_tol"});
  bad = Colloc(1e-6);
  bad.collocation.max_intervals = 2;
  ExpectInputError([&] { LogMap(sphere, V2(0, 0), V2(1, 0), bad); }, {"bvp_collocation_max_intervals"});
  bad = Colloc(1e-6);
  bad.collocation.trust_radius = 0;
  ExpectInputError([&] { LogMap(sphere, V2(0, 0), V2(1, 0), bad); }, {"bvp_collocation_trust_radius"});
}

BOOST_AUTO_TEST_CASE(an_approximate_result_of_a_decoder_is_the_extrapolated_discrete_geodesic) {
  // Every solver limited to one iteration on a long sphere geodesic: nothing is verified. The last fallback, discrete
  // geodesics extrapolated to -bvp_extrapolation_length_rtol, converges. When they may not reach it (meshes up to
  // 256 segments against an unreachable tolerance), the result is approximate: the length from discrete geodesics on
  // 64, 128 and 256 segments, Richardson-extrapolated, with an error estimate that covers the actual error; a
  // fourth level keeps it.
  const PullbackMetric sphere(MakeStereographicSphereDecoder(2));
  const VectorXd a = V2(-1.1, 0.4), b = V2(1.6, -0.9);
  const double d = SphereDistance(a, b);
  LogMapOptions o;
  o.type = "multiple_shooting";
  o.max_iterations = 1;
  o.refine_iterations = 0;
  o.presolve_rtol = 0;
  o.discrete.segments = 4;
  o.discrete.max_iterations = 1;
  const LogMapResult converged = LogMap(sphere, a, b, o);
  BOOST_TEST_REQUIRE(converged.usable(), converged.message);
  BOOST_TEST(converged.solver == "discrete");
  BOOST_TEST(converged.message.find("fallback discrete") != std::string::npos, converged.message);
  BOOST_TEST(std::abs(converged.length - d) <= o.extrapolation.length_rtol * d);

  o.extrapolation.length_rtol = 1e-15;  // about round-off: the three levels' estimate is far above it
  o.extrapolation.max_segments = 256;
  const LogMapResult r = LogMap(sphere, a, b, o);
  BOOST_TEST_MESSAGE(ToString(r.status) << ": L = " << r.length << " +- " << r.length_error << ", d = " << d << "; "
                                        << r.message);
  BOOST_TEST_REQUIRE((r.status == GeodesicStatus::kApproximate), r.message);
  BOOST_TEST(r.message.find("Richardson extrapolation of discrete geodesics on N = 64, 128, 256") != std::string::npos,
             r.message);
  BOOST_TEST(std::isfinite(r.length_error));
  BOOST_TEST(std::abs(r.length - d) <= r.length_error + 1e-12);
  BOOST_TEST(std::abs(r.length - d) < 1e-6 * d);
  BOOST_TEST(r.curve.points.size() == 257u);
  o.extrapolation.levels = 4;
  o.extrapolation.max_segments = 512;
  const LogMapResult finer = LogMap(sphere, a, b, o);
  // Four levels reach round-off: the estimate may then meet even this tolerance (converged) or not (approximate).
  BOOST_TEST_REQUIRE((finer.status == GeodesicStatus::kApproximate || finer.usable()), finer.message);
  BOOST_TEST(std::abs(finer.length - d) < 1e-9 * d);
  // Without the extrapolation: the metric length of the initial curve, an upper bound.
  o.extrapolation.levels = 0;
  const LogMapResult bound = LogMap(sphere, a, b, o);
  BOOST_TEST_REQUIRE((bound.status == GeodesicStatus::kApproximate), bound.message);
  BOOST_TEST(bound.length >= d - 1e-9);
  BOOST_TEST(std::isnan(bound.length_error));
}

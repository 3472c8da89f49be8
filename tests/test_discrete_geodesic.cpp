#define BOOST_TEST_MODULE discrete_geodesic
#include <boost/test/unit_test.hpp>

#include <Eigen/Cholesky>
#include <Eigen/Geometry>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/discrete_geodesic.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/initial_curve.hpp"
#include "pushpull/log_map.hpp"
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

DiscreteGeodesicOptions Segments(int n, double rtol = 1e-12) {
  DiscreteGeodesicOptions o;
  o.segments = n;
  o.rtol = rtol;
  return o;
}

// The great circle through f(z0), f(z1) on the unit sphere (f the inverse stereographic projection): its plane's
// unit normal, the arc angle, and the geodesic's initial velocity in latent space, J(z0)^+ v with v the circle's
// tangent at f(z0) of length theta (a geodesic on [0, 1] has constant speed theta).
struct GreatCircle {
  VectorXd normal;
  double theta = 0;
  VectorXd u;
};

GreatCircle Circle(const Decoder& f, const VectorXd& z0, const VectorXd& z1) {
  const VectorXd a = f.Value(z0), b = f.Value(z1);
  GreatCircle c;
  c.theta = std::acos(a.dot(b));
  c.normal = a.head<3>().cross(b.head<3>()).normalized();
  const VectorXd v = c.theta * (b - std::cos(c.theta) * a) / std::sin(c.theta);
  const MatrixXd J = f.Jacobian(z0);
  c.u = (J.transpose() * J).ldlt().solve(J.transpose() * v);
  return c;
}

// A decoder (z, 0) defined only outside the disc |z| <= 0.5.
class PuncturedPlane : public Decoder {
 public:
  int input_dim() const override { return 2; }
  int output_dim() const override { return 3; }
  VectorXd Value(const VectorXd& z) const override { return (VectorXd(3) << z, 0.0).finished(); }
  MatrixXd Jacobian(const VectorXd&) const override { return MatrixXd::Identity(3, 2); }
  VectorXd SecondDirectional(const VectorXd&, const VectorXd&) const override { return VectorXd::Zero(3); }
  void Tangents(const VectorXd& z, const VectorXd& u, const VectorXd&, const VectorXd&, MatrixXd* J, MatrixXd* dJ,
                VectorXd* f2, VectorXd* df2) const override {
    if (J) *J = Jacobian(z);
    if (dJ) *dJ = MatrixXd::Zero(3, 2);
    if (f2) *f2 = SecondDirectional(z, u);
    if (df2) *df2 = VectorXd::Zero(3);
  }
  bool InDomain(const VectorXd& z, std::string* why) const override {
    if (z.norm() > 0.5) return true;
    if (why) *why = "point " + FormatPoint(z) + " inside the hole |z| <= 0.5";
    return false;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(linear_decoder_the_line_is_the_discrete_geodesic) {
  const auto f = MakeLinearDecoder(LinearW(), VectorXd::Constant(3, 0.25));
  const VectorXd z0 = V(-0.3, 1.2), z1 = V(2.1, -0.7);
  const double L = (LinearW() * (z1 - z0)).norm();
  for (int n : {2, 5, 16}) {
    const DiscreteGeodesic g = MinimizeDiscreteEnergy(*f, z0, z1, Segments(n));
    BOOST_TEST(g.converged, g.message);
    BOOST_TEST(g.iterations == 0);  // the straight line with even spacing is already the minimiser
    BOOST_REQUIRE_EQUAL(g.points.size(), static_cast<std::size_t>(n + 1));
    for (int i = 0; i <= n; ++i) {
      BOOST_TEST((g.points[static_cast<std::size_t>(i)] - (z0 + (z1 - z0) * (double(i) / n))).norm() < 1e-14);
    }
    BOOST_TEST(g.length == L, boost::test_tools::tolerance(1e-13));
    BOOST_TEST(g.energy == L * L, boost::test_tools::tolerance(1e-13));
    const InitialCurve c = g.ToInitialCurve();
    BOOST_TEST(c.Validate(z0, z1).empty(), c.Validate(z0, z1));
    BOOST_TEST(c.refined);
    BOOST_REQUIRE_EQUAL(c.velocities.size(), static_cast<std::size_t>(n + 1));
    for (const VectorXd& v : c.velocities) BOOST_TEST((v - (z1 - z0)).norm() < 1e-12);
    BOOST_TEST((c.VelocityAt(0.37) - (z1 - z0)).norm() < 1e-12);
    BOOST_TEST((c.PointAt(0.37) - (z0 + 0.37 * (z1 - z0))).norm() < 1e-12);
    for (std::size_t i = 0; i < c.times.size(); ++i) {
      BOOST_TEST(c.times[i] == double(i) / n, boost::test_tools::tolerance(1e-13));
    }
  }
}

BOOST_AUTO_TEST_CASE(sphere_discrete_geodesic_approaches_the_great_circle) {
  // Not a straight line in latent space: the discrete geodesic must bend onto the great circle. By the reflection
  // symmetry of the sphere in the circle's plane its decoded vertices lie on the circle for every N (up to the
  // minimisation's accuracy); its chord length against the arc and its start velocity against the exact initial
  // velocity fall like 1/N^2.
  const auto f = MakeStereographicSphereDecoder(2);
  const VectorXd z0 = V(0.9, 0.4), z1 = V(-0.2, 1.6);
  const GreatCircle exact = Circle(*f, z0, z1);
  double previous_length = 1e300, previous_u = 1e300;
  for (int n : {4, 8, 16, 32}) {
    const DiscreteGeodesic g = MinimizeDiscreteEnergy(*f, z0, z1, Segments(n));
    BOOST_TEST(g.converged, g.message);
    BOOST_TEST(g.iterations >= 1);
    double plane = 0;
    for (const VectorXd& x : g.points) plane = std::max(plane, std::abs(f->Value(x).dot(exact.normal)));
    const double length = std::abs(g.length - exact.theta);
    const InitialCurve c = g.ToInitialCurve();
    BOOST_TEST(c.Validate(z0, z1).empty(), c.Validate(z0, z1));
    const double u = (c.VelocityAt(0.0) - exact.u).norm() / exact.u.norm();
    // The start velocity comes from the decoded vertices, pulled back by J(z0); the quadratic through the latent
    // vertices is worse here (the latent speed of a sphere geodesic varies along it).
    BOOST_REQUIRE_EQUAL(g.velocities.size(), g.points.size());
    BOOST_TEST((c.VelocityAt(0.0) - g.velocities.front()).norm() < 1e-12 * exact.u.norm());
    const double t1 = c.times[1], t2 = c.times[2];
    const VectorXd latent = -(t1 + t2) / (t1 * t2) * g.points[0] + t2 / (t1 * (t2 - t1)) * g.points[1] -
                            t1 / (t2 * (t2 - t1)) * g.points[2];
    BOOST_TEST(u < (latent - exact.u).norm() / exact.u.norm());
    // Between the vertices the Hermite curve through the vertex velocities stays closer to the great circle than
    // the polyline does.
    InitialCurve polyline = c;
    polyline.velocities.clear();
    double hermite_off = 0, polyline_off = 0;
    for (std::size_t i = 0; i + 1 < c.times.size(); ++i) {
      const double mid = 0.5 * (c.times[i] + c.times[i + 1]);
      hermite_off = std::max(hermite_off, std::abs(f->Value(c.PointAt(mid)).dot(exact.normal)));
      polyline_off = std::max(polyline_off, std::abs(f->Value(polyline.PointAt(mid)).dot(exact.normal)));
    }
    BOOST_TEST_MESSAGE("  mid-edge distance from the circle's plane: Hermite " << hermite_off << ", polyline "
                                                                               << polyline_off);
    BOOST_TEST(hermite_off < 0.2 * polyline_off);
    BOOST_TEST_MESSAGE(n << " segments: off the plane " << plane << ", length error " << length
                         << ", start velocity error " << u << ", iterations " << g.iterations);
    BOOST_TEST(plane < 1e-5);
    BOOST_TEST(length < 0.3 * previous_length);
    BOOST_TEST(u < 0.3 * previous_u);
    previous_length = length;
    previous_u = u;
  }
  BOOST_TEST(previous_length < 2e-4 * exact.theta);
  BOOST_TEST(previous_u < 1e-3);
}

BOOST_AUTO_TEST_CASE(three_dimensional_sphere_and_the_logarithm_map_from_it) {
  // S^3 through the inverse stereographic projection of R^3: 3 x 3 blocks in the block tridiagonal solve.
  const PullbackMetric sphere(MakeStereographicSphereDecoder(3));
  const VectorXd z0 = (VectorXd(3) << 0.7, -0.4, 0.2).finished(), z1 = (VectorXd(3) << -0.3, 0.9, 1.1).finished();
  const double d = SphereDistance(z0, z1);
  double previous = 1e300;
  for (int n : {8, 16, 32}) {
    const DiscreteGeodesic g = MinimizeDiscreteEnergy(sphere.decoder(), z0, z1, Segments(n));
    BOOST_TEST(g.converged, g.message);
    const double err = std::abs(g.length - d);
    BOOST_TEST_MESSAGE("S^3, " << n << " segments: length error " << err);
    BOOST_TEST(err < 0.3 * previous);
    previous = err;
  }
  const LogMapResult r = LogMap(sphere, z0, z1, LogMapOptions());
  BOOST_TEST_REQUIRE(r.usable(), r.message);
  BOOST_TEST(std::abs(r.length - d) < 1e-6);
  BOOST_TEST(r.message.find("discrete geodesic (64 segments") != std::string::npos, r.message);
}

BOOST_AUTO_TEST_CASE(the_stopping_tolerance_decides_how_far_it_iterates) {
  const auto f = MakeStereographicSphereDecoder(2);
  const VectorXd z0 = V(1.4, -0.3), z1 = V(-0.6, 1.1);
  const DiscreteGeodesic loose = MinimizeDiscreteEnergy(*f, z0, z1, Segments(16, 1e-1));
  const DiscreteGeodesic tight = MinimizeDiscreteEnergy(*f, z0, z1, Segments(16, 1e-12));
  BOOST_TEST(loose.converged, loose.message);
  BOOST_TEST(tight.converged, tight.message);
  BOOST_TEST(loose.iterations < tight.iterations);
  BOOST_TEST(tight.energy <= loose.energy);
  // One iteration from the line is not the minimum here.
  DiscreteGeodesicOptions one = Segments(16);
  one.max_iterations = 1;
  const DiscreteGeodesic capped = MinimizeDiscreteEnergy(*f, z0, z1, one);
  BOOST_TEST(!capped.converged);
  BOOST_TEST(capped.iterations == 1);
  BOOST_TEST(capped.message.find("iteration limit (1)") != std::string::npos, capped.message);
  BOOST_TEST(!capped.ToInitialCurve().refined);
  BOOST_TEST(capped.energy > tight.energy);
}

BOOST_AUTO_TEST_CASE(a_line_outside_the_domain_is_reported_not_used) {
  const PuncturedPlane f;
  const DiscreteGeodesic g = MinimizeDiscreteEnergy(f, V(-1, 0.1), V(1, 0.1), Segments(8));
  BOOST_TEST(!g.converged);
  BOOST_TEST(g.message.find("inside the hole") != std::string::npos, g.message);
  BOOST_TEST(std::isnan(g.energy));
  const InitialCurve c = g.ToInitialCurve();
  BOOST_TEST(c.Validate(V(-1, 0.1), V(1, 0.1)).empty());  // still a valid (straight) curve with uniform times
  BOOST_TEST(!c.refined);
  BOOST_TEST(c.description.find("not converged") != std::string::npos, c.description);
  // Around the hole the line is fine and optimal.
  const DiscreteGeodesic around = MinimizeDiscreteEnergy(f, V(-1, 1), V(1, 1), Segments(8));
  BOOST_TEST(around.converged, around.message);
  BOOST_TEST(around.length == 2.0, boost::test_tools::tolerance(1e-13));
}

BOOST_AUTO_TEST_CASE(bad_options_and_points) {
  const auto f = MakeStereographicSphereDecoder(2);
  BOOST_CHECK_EXCEPTION(MinimizeDiscreteEnergy(*f, V(0, 0), V(1, 1), Segments(1)), InputError,
                        [](const InputError& e) { return Mentions(e, "-bvp_discrete_segments: value 1 (set in code) violates the constraint in [2, 1048576]"); });
  BOOST_CHECK_EXCEPTION(MinimizeDiscreteEnergy(*f, V(0, 0), V(1, 1), Segments(8, 0.0)), InputError,
                        [](const InputError& e) { return Mentions(e, "rtol"); });
  BOOST_CHECK_EXCEPTION(MinimizeDiscreteEnergy(*f, VectorXd::Zero(3), V(1, 1), Segments(8)), InputError,
                        [](const InputError& e) { return Mentions(e, "input dimension is 2"); });
  CheckOptionRefused<DiscreteGeodesicOptions>("-bvp_discrete_segments", "1", "-bvp_discrete_segments");
  CheckOptionRefused<LogMapOptions>("-bvp_init", "spline", "bvp_init");
}

BOOST_AUTO_TEST_CASE(log_map_starts_from_the_discrete_geodesic_of_a_decoder) {
  const PullbackMetric sphere(MakeStereographicSphereDecoder(2));
  const VectorXd z0 = V(0.9, 0.4), z1 = V(-0.2, 1.6);
  const double exact = SphereDistance(z0, z1);
  LogMapOptions discrete;  // the default
  BOOST_TEST(discrete.init == "discrete");
  LogMapOptions line;
  line.init = "line";
  std::vector<double> errors;
  for (const double tol : {1e-4, 1e-6, 1e-8}) {
    discrete.tol = line.tol = tol;
    discrete.verify.ode.rtol = line.verify.ode.rtol = 1e-3 * tol;  // three orders below bvp_tol, as documented
    discrete.verify.ode.atol = line.verify.ode.atol = 1e-5 * tol;
    const LogMapResult a = LogMap(sphere, z0, z1, discrete);
    const LogMapResult b = LogMap(sphere, z0, z1, line);
    BOOST_TEST(a.usable(), a.message);
    BOOST_TEST(b.usable(), b.message);
    BOOST_TEST(a.message.find("from the discrete geodesic (64 segments") != std::string::npos, a.message);
    BOOST_TEST(a.message.find("coarse") == std::string::npos, a.message);  // a refined guess skips that level
    BOOST_TEST(b.message.find("from the line guess") != std::string::npos, b.message);
    BOOST_TEST_MESSAGE("bvp_tol " << tol << ": discrete " << a.length - exact << ", line " << b.length - exact
                                  << ", iterations " << a.iterations << " vs " << b.iterations);
    BOOST_TEST(std::abs(a.length - exact) < tol);
    BOOST_TEST(std::abs(b.length - exact) < tol);
    BOOST_TEST(a.iterations <= b.iterations);
    errors.push_back(std::abs(a.length - exact));
  }
  BOOST_TEST(errors.back() < 1e-2 * errors.front());  // the error falls with the tolerance
  // Multiple shooting from the same guess.
  LogMapOptions ms;
  ms.type = "multiple_shooting";
  const LogMapResult m = LogMap(sphere, z0, z1, ms);
  BOOST_TEST(m.usable(), m.message);
  BOOST_TEST(std::abs(m.length - exact) < 1e-6);
}

BOOST_AUTO_TEST_CASE(log_map_of_a_metric_without_decoder_starts_from_the_line) {
  const TensorMetric poincare(MakePoincareHalfPlaneField());
  const VectorXd z0 = V(-0.5, 0.4), z1 = V(0.8, 1.3);
  const LogMapResult r = LogMap(poincare, z0, z1, LogMapOptions());
  BOOST_TEST(r.usable(), r.message);
  BOOST_TEST(r.message.find("line (the metric has no decoder for a discrete geodesic)") != std::string::npos,
             r.message);
  const double exact = std::acosh(1.0 + (z1 - z0).squaredNorm() / (2.0 * z0[1] * z1[1]));
  BOOST_TEST(std::abs(r.length - exact) < 1e-6);

  LogMapOptions graph;
  graph.init = "graph";
  BOOST_CHECK_EXCEPTION(LogMap(poincare, z0, z1, graph), InputError,
                        [](const InputError& e) { return Mentions(e, "-bvp_init graph"); });
}

BOOST_AUTO_TEST_CASE(identical_end_points_give_the_constant_curve) {
  const PullbackMetric sphere(MakeStereographicSphereDecoder(2));
  const VectorXd z = V(0.4, -0.7);
  const DiscreteGeodesic g = MinimizeDiscreteEnergy(sphere.decoder(), z, z, Segments(16));
  BOOST_TEST(g.converged, g.message);
  BOOST_TEST(g.energy == 0.0);
  const InitialCurve c = g.ToInitialCurve();
  BOOST_TEST(c.Validate(z, z).empty(), c.Validate(z, z));  // uniform times: every edge has length 0
  BOOST_TEST(c.VelocityAt(0.0).norm() < 1e-14);  // a difference formula on equal values: round-off only
  const LogMapResult r = LogMap(sphere, z, z, LogMapOptions());
  BOOST_TEST_REQUIRE(r.usable(), r.message);
  BOOST_TEST(r.length < 1e-14);
  BOOST_TEST(r.initial_velocity.norm() < 1e-14);
}

// ---- -bvp_type discrete: discrete geodesics with Richardson extrapolation as a BVP solver ----------------------------

BOOST_AUTO_TEST_CASE(extending_to_a_tolerance_adds_meshes_and_keeps_the_fixed_levels_numbers) {
  const auto f = MakeStereographicSphereDecoder(2);
  const VectorXd a = V(-1.1, 0.4), b = V(1.6, -0.9);
  DiscreteGeodesicOptions o = Segments(16, 1e-13);
  const ExtrapolatedDiscreteGeodesic fixed = ExtrapolateDiscreteGeodesic(*f, a, b, o, 3);
  ExtrapolatedDiscreteGeodesic x;
  ExtrapolationTarget target;  // length_rtol 0: exactly the fixed levels
  ExtendDiscreteExtrapolation(*f, a, b, o, target, nullptr, &x);
  BOOST_TEST(x.segments == fixed.segments);
  BOOST_TEST(x.length.value == fixed.length.value);
  BOOST_TEST(x.length.error == fixed.length.error);
  // Then to a tolerance: meshes are added (each twice as fine) until the estimate is within it, the extrapolation of
  // the last three, and the estimate covers the actual error.
  target.length_rtol = 1e-10;
  target.max_segments = 4096;
  ExtendDiscreteExtrapolation(*f, a, b, o, target, nullptr, &x);
  const double d = SphereDistance(a, b);
  BOOST_TEST_MESSAGE("meshes up to " << x.segments.back() << ": L = " << x.length.value << " +- " << x.length.error
                                     << ", error " << x.length.value - d);
  BOOST_TEST_REQUIRE(x.segments.size() > 3u);
  BOOST_TEST(x.segments.back() <= 4096);
  BOOST_TEST(x.length.error <= 1e-10 * x.length.value);
  BOOST_TEST(std::abs(x.length.value - d) <= 1e-10 * d);
  BOOST_TEST(x.length.value != fixed.length.value);
  BOOST_TEST(x.start_velocities.size() == x.segments.size());
  BOOST_TEST(x.iterations >= x.finest.iterations);
}

BOOST_AUTO_TEST_CASE(discrete_solver_errors_fall_with_its_tolerance_on_the_sphere) {
  // Closed form: the great circle. Length and initial velocity against it at three tolerances.
  const PullbackMetric sphere(MakeStereographicSphereDecoder(2));
  const VectorXd a = V(-1.1, 0.4), b = V(1.6, -0.9);
  const double d = SphereDistance(a, b);
  const GreatCircle circle = Circle(sphere.decoder(), a, b);
  double previous_length_error = 1, previous_velocity_error = 1;
  for (const double rtol : {1e-5, 1e-7, 1e-9}) {
    LogMapOptions o;
    o.type = "discrete";
    o.fallback = false;
    o.extrapolation.segments = 8;  // coarse meshes first, so that the tolerance decides how many follow
    o.extrapolation.length_rtol = rtol;
    o.extrapolation.max_segments = 8192;
    const LogMapResult r = LogMap(sphere, a, b, o);
    const double length_error = std::abs(r.length - d) / d;
    const double velocity_error = (r.initial_velocity - circle.u).norm() / circle.u.norm();
    BOOST_TEST_MESSAGE("length_rtol " << rtol << ": " << ToString(r.status) << ", length error " << length_error
                                      << " (estimate " << r.length_error / r.length << "), velocity error "
                                      << velocity_error << ", miss " << r.endpoint_error << "; " << r.message);
    BOOST_TEST_REQUIRE(r.usable(), r.message);
    BOOST_TEST(r.solver == "discrete");
    BOOST_TEST(r.length_error <= rtol * r.length);
    BOOST_TEST(length_error <= rtol);
    BOOST_TEST(length_error < previous_length_error);
    BOOST_TEST(velocity_error < previous_velocity_error);
    BOOST_TEST(std::isfinite(r.endpoint_error));  // re-integrated (-bvp_extrapolation_verify)
    BOOST_TEST((r.status == GeodesicStatus::kSuccess) == (r.endpoint_error <= o.tol));
    previous_length_error = length_error;
    previous_velocity_error = velocity_error;
  }
}

BOOST_AUTO_TEST_CASE(auto_solves_elu_decoders_by_discrete_geodesics_and_smooth_ones_by_shooting) {
  const PullbackMetric elu(std::make_shared<MlpDecoder>(RandomMlp(2, 6, {16, 16}, TimeInput::kNone,
                                                                  Activation::kElu, 7)));
  const PullbackMetric smooth(std::make_shared<MlpDecoder>(RandomMlp(2, 6, {16, 16}, TimeInput::kNone,
                                                                     Activation::kSoftplus, 7)));
  const TensorMetric poincare(MakePoincareHalfPlaneField());
  const LogMapOptions o;
  BOOST_TEST(o.type == "auto");
  BOOST_TEST(elu.decoder().smoothness() == 1);
  BOOST_TEST(ResolveBvpType(elu, o) == "discrete");
  BOOST_TEST(ResolveBvpType(smooth, o) == "multiple_shooting");
  BOOST_TEST(ResolveBvpType(poincare, o) == "multiple_shooting");
  LogMapOptions no_levels;
  no_levels.extrapolation.levels = 0;
  BOOST_TEST(ResolveBvpType(elu, no_levels) == "multiple_shooting");

  // On the elu decoder: the discrete solve and a tight multiple-shooting solve (thousands of steps through the
  // jumps of f'', but converged) agree on the length.
  const VectorXd z0 = V(-0.8, 0.3), z1 = V(0.9, -0.6);
  const LogMapResult r = LogMap(elu, z0, z1, o);
  BOOST_TEST_REQUIRE(r.usable(), r.message);
  BOOST_TEST(r.solver == "discrete");
  LogMapOptions shoot;
  shoot.type = "multiple_shooting";
  shoot.tol = 1e-9;
  shoot.shots.ode.max_steps = 100000;
  const LogMapResult s = LogMap(elu, z0, z1, shoot);
  BOOST_TEST_REQUIRE(s.usable(), s.message);
  BOOST_TEST_MESSAGE("elu: discrete " << r.length << " +- " << r.length_error << " (" << ToString(r.status)
                                      << ", miss " << r.endpoint_error << "), shooting " << s.length);
  BOOST_TEST(std::abs(r.length - s.length) <= 1e-6 * s.length);
}

BOOST_AUTO_TEST_CASE(a_discrete_solve_short_of_its_tolerance_fails_and_falls_back_to_shooting) {
  const PullbackMetric sphere(MakeStereographicSphereDecoder(2));
  const VectorXd a = V(-1.1, 0.4), b = V(1.6, -0.9);
  LogMapOptions o;
  o.type = "discrete";
  o.extrapolation.length_rtol = 1e-15;  // beyond round-off of the 256-segment extrapolation
  o.extrapolation.max_segments = 256;
  o.fallback = false;
  const LogMapResult alone = LogMap(sphere, a, b, o);
  BOOST_TEST((alone.status == GeodesicStatus::kNotConverged), alone.message);
  BOOST_TEST(alone.message.find("-bvp_extrapolation_length_rtol") != std::string::npos, alone.message);
  BOOST_TEST(std::isfinite(alone.length));
  o.fallback = true;
  const LogMapResult r = LogMap(sphere, a, b, o);
  BOOST_TEST_REQUIRE((r.status == GeodesicStatus::kSuccess), r.message);
  BOOST_TEST(r.solver == "multiple_shooting");
  BOOST_TEST(r.message.find("fallback multiple shooting") != std::string::npos, r.message);
  BOOST_TEST(std::abs(r.length - SphereDistance(a, b)) < 1e-6);

  const TensorMetric poincare(MakePoincareHalfPlaneField());
  BOOST_CHECK_EXCEPTION(LogMap(poincare, V(0, 1), V(1, 2), o), InputError,
                        [](const InputError& e) { return Mentions(e, "-bvp_type discrete"); });
}

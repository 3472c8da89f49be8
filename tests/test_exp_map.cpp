// The exponential map (geodesic initial-value problem): integrator options, conservation checks and end-point
// Jacobians on closed forms, domains, step limits and exceptions in user code.
#define BOOST_TEST_MODULE exp_map
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/functor_decoder.hpp"
#include "pushpull/functor_metric.hpp"
#include "pushpull/geodesic.hpp"
#include "pushpull/log_map.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/mlp.hpp"
#include "pushpull/options.hpp"
#include "geodesic_test_helpers.hpp"
#include "test_support.hpp"

using namespace pushpull;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using namespace pushpull::geodesic_testing;

BOOST_AUTO_TEST_CASE(nonlinear_convergence_coefficient_reaches_the_integrator) {
  // A looser corrector test takes fewer right-hand-side evaluations for the same geodesic, and the end point stays
  // within the tolerance; the option is declared per prefix and validated.
  Mlp mlp = RandomMlp(2, 8, {16, 16}, TimeInput::kNone, Activation::kTanh, 4u);
  mlp.output_activation = Activation::kSigmoid;
  const PullbackMetric metric(std::make_shared<MlpDecoder>(mlp));
  const VectorXd z = V({0.2, -0.3}), u = V({0.9, 0.6});
  GeodesicOptions tight, loose;
  tight.ode.rtol = loose.ode.rtol = 1e-8;
  tight.ode.atol = loose.ode.atol = 1e-10;
  loose.ode.nonlinear_convergence = 1.0;
  const ExpMapResult a = ExpMap(metric, z, u, tight), b = ExpMap(metric, z, u, loose);
  BOOST_TEST_REQUIRE(a.usable());
  BOOST_TEST_REQUIRE(b.usable());
  BOOST_TEST(b.stats.rhs_evals < a.stats.rhs_evals, b.stats.rhs_evals << " vs " << a.stats.rhs_evals);
  BOOST_TEST((a.end_point - b.end_point).norm() < 1e-6);
  const ExpMapResult ja = ExpMapWithJacobian(metric, z, u, tight), jb = ExpMapWithJacobian(metric, z, u, loose);
  BOOST_TEST(jb.stats.rhs_evals < ja.stats.rhs_evals, jb.stats.rhs_evals << " vs " << ja.stats.rhs_evals);
  BOOST_TEST((ja.end_jacobian - jb.end_jacobian).norm() < 1e-5 * ja.end_jacobian.norm());
  OptionsDatabase db;
  db.Set("bvp_ode_nonlin_conv_coef", "0.5");
  LogMapOptions o;
  o.SetFromOptions(db);
  BOOST_TEST(o.shots.ode.nonlinear_convergence == 0.5);
  BOOST_TEST(o.verify.ode.nonlinear_convergence == LogMapOptions::TightGeodesic().ode.nonlinear_convergence);
  OptionsDatabase bad;
  bad.Set("geo_ode_nonlin_conv_coef", "0");
  GeodesicOptions g;
  BOOST_CHECK_EXCEPTION(g.SetFromOptions(bad), InputError, [](const InputError& e) {
    return std::string(e.what()).find("geo_ode_nonlin_conv_coef") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(exp_map_steps_do_not_depend_on_output_times_and_the_step_limit_holds) {
  // Without output times the CVODES integrators run to t = 1 in one call, with them one step at a time: the steps
  // are the same, so is the end point (bitwise), and the step limit stops both.
  Mlp mlp = RandomMlp(2, 8, {16, 16}, TimeInput::kNone, Activation::kTanh, 4u);
  mlp.output_activation = Activation::kSigmoid;
  const PullbackMetric metric(std::make_shared<MlpDecoder>(mlp));
  const VectorXd z = V({0.2, -0.3}), u = V({0.9, 0.6});
  for (const char* type : {"adams", "bdf"}) {
    BOOST_TEST_CONTEXT(type) {
      GeodesicOptions g;
      g.ode.type = type;
      g.ode.rtol = 1e-9;
      g.ode.atol = 1e-11;
      const ExpMapResult plain = ExpMap(metric, z, u, g);
      const ExpMapResult sampled = ExpMap(metric, z, u, g, {0.25, 0.5, 1.0});
      BOOST_TEST_REQUIRE(plain.usable());
      BOOST_TEST_REQUIRE(sampled.usable());
      BOOST_TEST((plain.end_point.array() == sampled.end_point.array()).all());
      BOOST_TEST((sampled.curve.back().array() == sampled.end_point.array()).all());
      BOOST_TEST(plain.stats.steps == sampled.stats.steps);
      BOOST_TEST(plain.stats.steps > 5);
      g.ode.max_steps = 5;
      for (const ExpMapResult& r : {ExpMap(metric, z, u, g), ExpMap(metric, z, u, g, {0.5, 1.0})}) {
        BOOST_TEST(!r.usable());
        BOOST_TEST(r.message.find(ToString(OdeStatus::kTooMuchWork)) != std::string::npos, r.message);
        // The advice names the options of this integration, with their prefix.
        BOOST_TEST(r.message.find("raise -geo_ode_max_steps, loosen -geo_ode_rtol/-geo_ode_atol") != std::string::npos,
                   r.message);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_failed_shot_advises_the_shot_options) {
  // A shot (variational equations) that reaches its step limit names -bvp_ode_*, not the pushforward's -ode_*, and
  // only options the shots declare (no -bvp_ode_linear_solver, no explicit method).
  Mlp mlp = RandomMlp(2, 8, {16, 16}, TimeInput::kNone, Activation::kTanh, 4u);
  mlp.output_activation = Activation::kSigmoid;
  const PullbackMetric metric(std::make_shared<MlpDecoder>(mlp));
  GeodesicOptions shots = LogMapOptions::ShotGeodesic();
  shots.ode.max_steps = 3;
  const ExpMapResult r = ExpMapWithJacobian(metric, V({0.2, -0.3}), V({0.9, 0.6}), shots);
  BOOST_TEST_REQUIRE(!r.usable());
  BOOST_TEST(r.message.find("raise -bvp_ode_max_steps, loosen -bvp_ode_rtol/-bvp_ode_atol, or use -bvp_ode_type bdf") !=
                 std::string::npos,
             r.message);
  const std::string convergence =
      Advice(OdeStatus::kConvergenceFailures, "bvp_", GeodesicOptions::OdeOptionsRead(/*shots=*/true));
  BOOST_TEST(convergence.find("-bvp_ode_max_step") != std::string::npos, convergence);
  BOOST_TEST(convergence.find("linear_solver") == std::string::npos, convergence);
  BOOST_TEST(convergence.find("dopri5") == std::string::npos, convergence);
  const std::string pushforward = Advice(OdeStatus::kConvergenceFailures);
  BOOST_TEST(pushforward.find("-ode_linear_solver dense") != std::string::npos, pushforward);
  BOOST_TEST(pushforward.find("-ode_type dopri5") != std::string::npos, pushforward);
}

BOOST_AUTO_TEST_CASE(options_defaults_and_prefixes) {
  BOOST_TEST(GeodesicOptions().Validate().empty());
  BOOST_TEST(LogMapOptions().Validate().empty());
  OptionsDatabase db;
  db.Set("geo_ode_rtol", "1e-9");
  db.Set("bvp_tol", "1e-5");
  db.Set("bvp_ode_atol", "1e-12");
  GeodesicOptions g;
  g.SetFromOptions(db);
  LogMapOptions s;
  s.SetFromOptions(db);
  BOOST_TEST(g.ode.rtol == 1e-9);
  BOOST_TEST(s.tol == 1e-5);
  BOOST_TEST(s.shots.ode.atol == 1e-12);
  db.CheckAllUsed();
  LogMapOptions bad;
  bad.tol = -1;
  BOOST_TEST(bad.Validate().find("bvp_tol") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(linear_decoder_gives_straight_lines) {
  MatrixXd W(3, 2);
  W << 1.0, 0.5, -0.3, 2.0, 0.7, 0.2;
  const PullbackMetric metric(MakeLinearDecoder(W, V({0.0, 1.0, 2.0})));
  const VectorXd z = V({0.2, -0.4}), u = V({0.9, 1.2});
  const std::vector<double> times = {0.25, 0.5, 0.75, 1.0};
  const ExpMapResult r = ExpMap(metric, z, u, Tol(1e-10), times);
  BOOST_REQUIRE_MESSAGE(r.usable(), r.message);
  for (std::size_t k = 0; k < times.size(); ++k) BOOST_TEST(MaxAbs(r.curve[k], z + times[k] * u) < 1e-12);
  BOOST_TEST(MaxAbs(r.end_velocity, u) < 1e-12);
  BOOST_TEST(std::abs(r.length - (W * u).norm()) < 1e-9);
  BOOST_TEST(std::abs(r.energy - (W * u).squaredNorm()) < 1e-9);
  const LogMapResult l = LogMap(metric, z, z + u, ShootTol(1e-10));
  BOOST_REQUIRE_MESSAGE(l.usable(), l.message);
  BOOST_TEST(MaxAbs(l.initial_velocity, u) < 1e-10);
}

BOOST_AUTO_TEST_CASE(exp_map_conserves_speed_and_jacobian_matches) {
  for (const Case& c : ClosedFormCases()) {
    const VectorXd u = 0.8 * (c.z1 - c.z0);
    for (double rtol : {1e-6, 1e-8, 1e-10}) {
      BOOST_TEST_CONTEXT(c.name << " rtol " << rtol) {
        const ExpMapResult r = ExpMap(*c.metric, c.z0, u, Tol(rtol), {0.5, 1.0}, true);
        BOOST_REQUIRE_MESSAGE(r.usable(), r.message);
        const double rel_drift = r.speed_drift / r.initial_speed2;
        std::cout << "exp " << c.name << " rtol " << rtol << ": relative speed drift " << rel_drift
                  << ", |L^2 - E| " << std::abs(r.length * r.length - r.energy) << "\n";
        BOOST_TEST(rel_drift < 100 * rtol);
        BOOST_TEST(std::abs(r.energy - r.initial_speed2) / r.initial_speed2 < 100 * rtol);
        BOOST_TEST(std::abs(r.length * r.length - r.energy) / r.energy < 100 * rtol);
        // d g(1) / d u from the variational equations vs central differences of tight exp maps (test only).
        if (rtol == 1e-10) {
          MatrixXd fd(u.size(), u.size());
          const double h = 1e-5;
          for (Eigen::Index j = 0; j < u.size(); ++j) {
            const VectorXd e = VectorXd::Unit(u.size(), j) * h;
            const ExpMapResult p = ExpMap(*c.metric, c.z0, u + e, Tol(1e-12));
            const ExpMapResult m = ExpMap(*c.metric, c.z0, u - e, Tol(1e-12));
            BOOST_REQUIRE(p.usable() && m.usable());
            fd.col(j) = (p.end_point - m.end_point) / (2 * h);
          }
          std::cout << "  end-point Jacobian vs FD: " << MaxRel(r.end_jacobian, fd) << "\n";
          BOOST_TEST(MaxRel(r.end_jacobian, fd) < 1e-6);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(flow_jacobian_does_not_depend_on_what_the_thread_integrated_before) {
  // The Adams variational integrator re-uses one CVODES instance per thread and size. Its results must be bitwise
  // those of a fresh instance (a new thread), whatever ran before on the re-used one: failed integrations, other
  // tolerances and step options, other numbers of directions. (The distances command promises results independent
  // of the number of threads.)
  Mlp mlp = RandomMlp(2, 8, {16, 16}, TimeInput::kNone, Activation::kTanh, 9u);
  mlp.output_activation = Activation::kSigmoid;
  const PullbackMetric metric(std::make_shared<MlpDecoder>(mlp));
  const VectorXd z = V({0.1, 0.4}), u = V({-0.7, 0.5});
  GeodesicOptions g;
  g.ode.rtol = 1e-7;
  g.ode.atol = 1e-9;
  ExpMapResult fresh_velocity, fresh_state;
  std::thread([&] {
    fresh_velocity = ExpMapWithJacobian(metric, z, u, g);
    fresh_state = ExpMapWithStateJacobian(metric, z, u, g);
  }).join();
  BOOST_TEST_REQUIRE(fresh_velocity.usable());
  BOOST_TEST_REQUIRE(fresh_state.usable());
  // Disturb this thread's instances: other options, a failing integration (step limit), both sizes.
  GeodesicOptions other = g;
  other.ode.rtol = 1e-3;
  other.ode.max_order = 3;
  other.ode.max_step = 0.01;
  other.ode.initial_step = 1e-4;
  other.ode.nonlinear_convergence = 2.0;
  (void)ExpMapWithJacobian(metric, z, 3.0 * u, other);
  (void)ExpMapWithStateJacobian(metric, z, -u, other);
  other.ode.max_steps = 3;
  BOOST_TEST(!ExpMapWithJacobian(metric, z, u, other).usable());
  const ExpMapResult reused_velocity = ExpMapWithJacobian(metric, z, u, g);
  const ExpMapResult reused_state = ExpMapWithStateJacobian(metric, z, u, g);
  BOOST_TEST_REQUIRE(reused_velocity.usable());
  BOOST_TEST_REQUIRE(reused_state.usable());
  BOOST_TEST((reused_velocity.end_point.array() == fresh_velocity.end_point.array()).all());
  BOOST_TEST((reused_velocity.end_jacobian.array() == fresh_velocity.end_jacobian.array()).all());
  BOOST_TEST((reused_state.end_jacobian.array() == fresh_state.end_jacobian.array()).all());
  BOOST_TEST(reused_velocity.stats.steps == fresh_velocity.stats.steps);
  BOOST_TEST(reused_velocity.stats.rhs_evals == fresh_velocity.stats.rhs_evals);
}

BOOST_AUTO_TEST_CASE(torus_clairaut_integral) {
  const double R = 2.0, r = 0.7;
  const PullbackMetric metric(MakeTorusDecoder(R, r));
  const VectorXd z = V({0.4, 0.1}), u = V({1.3, 0.9});
  const ExpMapResult g = ExpMap(metric, z, u, Tol(1e-10));
  BOOST_REQUIRE_MESSAGE(g.usable(), g.message);
  auto clairaut = [&](const VectorXd& p, const VectorXd& v) {
    const double rho = R + r * std::cos(p[0]);
    return rho * rho * v[1];
  };
  std::cout << "torus Clairaut drift " << std::abs(clairaut(g.end_point, g.end_velocity) - clairaut(z, u)) << "\n";
  BOOST_TEST(std::abs(clairaut(g.end_point, g.end_velocity) - clairaut(z, u)) < 1e-8);
}

BOOST_AUTO_TEST_CASE(fisher_rao_refuses_nonpositive_sigma) {
  const TensorMetric metric(MakeFisherRaoNormalField());
  std::string why;
  BOOST_TEST(!metric.InDomain(V({0.5, -0.25}), &why));
  BOOST_TEST(why.find("sigma") != std::string::npos);
  BOOST_TEST(why.find("(0.5, -0.25)") != std::string::npos, why);
  BOOST_TEST(!metric.InDomain(V({0.5, 0.0}), &why));
  BOOST_TEST(why.find("(0.5, 0)") != std::string::npos, why);
  VectorXd a;
  BOOST_TEST(!metric.Acceleration(V({0.5, -0.25}), V({1.0, 0.0}), &a, &why));
  const ExpMapResult r = ExpMap(metric, V({0.5, -0.25}), V({1.0, 0.0}), Tol(1e-8));
  BOOST_TEST(!r.usable());
  BOOST_TEST((r.status == GeodesicStatus::kOutsideDomain));
  BOOST_TEST(r.message.find("(0.5, -0.25)") != std::string::npos, r.message);
  const LogMapResult l = LogMap(metric, V({0.0, 1.0}), V({0.3, -2.0}), LogMapOptions());
  BOOST_TEST((l.status == GeodesicStatus::kOutsideDomain));
  BOOST_TEST(l.message.find("(0.3, -2)") != std::string::npos, l.message);
  // The vertical geodesic through (0, s0) with velocity (0, -v s0): s(t) = s0 exp(-v t) approaches sigma = 0 but
  // never reaches it (the half plane is complete); the integration stays inside the domain.
  const ExpMapResult down = ExpMap(metric, V({0.0, 0.2}), V({0.0, -2.0}), Tol(1e-10));
  BOOST_REQUIRE_MESSAGE(down.usable(), down.message);
  const double exact = 0.2 * std::exp(-10.0);
  std::cout << "Fisher-Rao vertical geodesic: sigma(1) rel error " << std::abs(down.end_point[1] - exact) / exact
            << "\n";
  BOOST_TEST(std::abs(down.end_point[1] - exact) / exact < 1e-6);
  BOOST_TEST(std::abs(down.end_point[0]) < 1e-14);
}

// ---- Exceptions in user code -------------------------------------------------------------------------------------

namespace {

// The Euclidean metric, written by a user whose code throws once z_0 > 0.5.
struct WallMetric {
  int dim() const { return 2; }
  template <class T>
  std::vector<T> operator()(const std::vector<T>& z) const {
    if (ad::Value(z[0]) > 0.5) throw std::runtime_error("the user's metric hit the wall");
    return {ad::Const<T>(1.0), ad::Const<T>(0.0), ad::Const<T>(0.0), ad::Const<T>(1.0)};
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(an_exception_in_the_metric_fails_the_integration_with_its_message) {
  const TensorMetric metric(MakeFunctorMetricField(WallMetric{}));
  const VectorXd z = VectorXd::Zero(2);
  VectorXd across(2), short_of(2);
  across << 1.0, 0.0;     // reaches z_0 = 1
  short_of << 0.2, 0.1;   // stays where the metric evaluates
  for (const std::string type : {"bdf", "adams", "dopri5", "esdirk"}) {
    GeodesicOptions g;
    g.ode.type = type;
    const ExpMapResult r = ExpMap(metric, z, across, g);
    BOOST_TEST(!r.usable(), type);
    BOOST_TEST(r.message.find("the user's metric hit the wall") != std::string::npos, type << ": " << r.message);
    // The variational equations (CVODES with sensitivities; Adams re-uses this thread's instance, so the next
    // integration must not inherit the exception).
    const ExpMapResult j = ExpMapWithJacobian(metric, z, across, g);
    BOOST_TEST(!j.usable(), type);
    BOOST_TEST(j.message.find("the user's metric hit the wall") != std::string::npos, type << ": " << j.message);
    const ExpMapResult ok = ExpMapWithJacobian(metric, z, short_of, g);
    BOOST_TEST_REQUIRE(ok.usable(), type << ": " << ok.message);
    BOOST_TEST((ok.end_point - short_of).norm() < 1e-6, type);  // straight lines, d g(1) / d u = I
    BOOST_TEST((ok.end_jacobian - MatrixXd::Identity(2, 2)).norm() < 1e-6, type);
  }
}

#define BOOST_TEST_MODULE geodesic
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
#include "autodiff_decoder.hpp"
#include "test_support.hpp"

using namespace pushpull;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using pushpull::testing::MakeAutodiffReferenceDecoder;

namespace {

VectorXd V(std::initializer_list<double> x) {
  VectorXd v(static_cast<Eigen::Index>(x.size()));
  Eigen::Index i = 0;
  for (double e : x) v[i++] = e;
  return v;
}

double MaxAbs(const MatrixXd& a, const MatrixXd& b) {
  BOOST_REQUIRE_EQUAL(a.rows(), b.rows());
  BOOST_REQUIRE_EQUAL(a.cols(), b.cols());
  return (a - b).cwiseAbs().maxCoeff();
}

// Relative: max |a - b| / max(1, max |b|).
double MaxRel(const MatrixXd& a, const MatrixXd& b) { return MaxAbs(a, b) / std::max(1.0, b.cwiseAbs().maxCoeff()); }

GeodesicOptions Tol(double rtol) {
  GeodesicOptions o;
  o.ode.rtol = rtol;
  o.ode.atol = rtol * 1e-2;
  return o;
}

LogMapOptions ShootTol(double rtol) {
  LogMapOptions s;
  s.shots.ode.rtol = rtol;
  s.shots.ode.atol = rtol * 1e-2;
  s.tol = std::max(1e3 * rtol, 1e-8);
  // The verification integrator follows, so that the converged distance's error shrinks with the tolerance.
  s.verify.ode.rtol = std::max(1e-2 * rtol, 1e-13);
  s.verify.ode.atol = 1e-2 * s.verify.ode.rtol;
  return s;
}

// The length integrated along the solved geodesic as a quadrature of the speed: independent of the logarithm
// map's sqrt(u^T M(z0) u) (its verification shots do not integrate the length).
double IntegratedLength(const Metric& metric, const VectorXd& z0, const VectorXd& u) {
  GeodesicOptions g;
  g.ode.rtol = 1e-11;
  g.ode.atol = 1e-13;
  g.integrate_length = true;
  const ExpMapResult r = ExpMap(metric, z0, u, g);
  BOOST_REQUIRE_MESSAGE(r.usable(), r.message);
  return r.length;
}

// Central finite differences of a decoder (test only).
MatrixXd FdJacobian(const Decoder& f, const VectorXd& z, double h = 1e-6) {
  MatrixXd J(f.output_dim(), f.input_dim());
  for (int k = 0; k < f.input_dim(); ++k) {
    const VectorXd e = VectorXd::Unit(z.size(), k) * h;
    J.col(k) = (f.Value(z + e) - f.Value(z - e)) / (2 * h);
  }
  return J;
}
VectorXd FdSecond(const Decoder& f, const VectorXd& z, const VectorXd& u, double h = 1e-4) {
  return (f.Value(z + h * u) - 2 * f.Value(z) + f.Value(z - h * u)) / (h * h);
}

struct Case {
  std::string name;
  std::shared_ptr<const Metric> metric;
  VectorXd z0, z1;
  double distance;
};

std::vector<Case> ClosedFormCases() {
  std::vector<Case> cases;
  {
    MatrixXd W(3, 2);
    W << 1.0, 0.5, -0.3, 2.0, 0.7, 0.2;
    const VectorXd c = V({0.1, -0.2, 0.3});
    Case k{"linear", std::make_shared<PullbackMetric>(MakeLinearDecoder(W, c)), V({0.2, -0.4}), V({1.1, 0.8}), 0};
    k.distance = LinearDistance(W, k.z0, k.z1);
    cases.push_back(k);
  }
  {
    Case k{"sphere", std::make_shared<PullbackMetric>(MakeStereographicSphereDecoder(2)), V({0.3, -0.2}),
           V({-0.5, 0.6}), 0};
    k.distance = SphereDistance(k.z0, k.z1);
    cases.push_back(k);
  }
  {
    Case k{"fisher_rao", std::make_shared<TensorMetric>(MakeFisherRaoNormalField()), V({0.0, 1.0}),
           V({1.5, 0.5}), 0};
    k.distance = FisherRaoNormalDistance(k.z0, k.z1);
    cases.push_back(k);
  }
  {
    Case k{"poincare", std::make_shared<TensorMetric>(MakePoincareHalfPlaneField()), V({-1.0, 0.5}),
           V({1.0, 1.5}), 0};
    k.distance = PoincareDistance(k.z0, k.z1);
    cases.push_back(k);
  }
  {
    Case k{"torus_meridian", std::make_shared<PullbackMetric>(MakeTorusDecoder(2.0, 0.7)), V({0.2, 0.5}),
           V({1.9, 0.5}), 0};
    k.distance = TorusMeridianDistance(0.7, k.z0, k.z1);
    cases.push_back(k);
  }
  {
    // Height field: no closed-form distance (NaN); its acceleration is checked against the exact height-field
    // equation elsewhere, its geodesics here for constant speed and convergence.
    Case k{"height_field", std::make_shared<PullbackMetric>(MakeGaussianBumpDecoder(0.8)), V({-1.2, 0.3}),
           V({1.1, -0.2}), std::numeric_limits<double>::quiet_NaN()};
    cases.push_back(k);
  }
  return cases;
}

}  // namespace

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

BOOST_AUTO_TEST_CASE(mlp_decoder_derivatives) {
  const std::vector<Activation> acts = {Activation::kTanh, Activation::kSoftplus, Activation::kElu,
                                        Activation::kSilu, Activation::kSigmoid};
  const VectorXd z = V({0.3, -0.7, 0.4});
  const VectorXd u = V({0.9, 0.2, -0.5});
  const VectorXd dz = V({-0.4, 0.6, 0.1});
  const VectorXd du = V({0.3, -0.8, 0.5});
  for (std::size_t i = 0; i < acts.size(); ++i) {
    Mlp mlp = RandomMlp(3, 5, {7, 6}, TimeInput::kNone, acts[i], 11u + static_cast<unsigned>(i), 0.9);
    mlp.output_activation = i % 2 == 0 ? Activation::kSoftplus : Activation::kIdentity;
    const MlpDecoder dec(mlp);
    const auto ref = MakeAutodiffReferenceDecoder(mlp);
    BOOST_TEST_CONTEXT("activation " << ToString(acts[i]) << ", output " << ToString(mlp.output_activation)) {
      BOOST_TEST(MaxRel(dec.Value(z), ref->Value(z)) < 1e-13);
      const MatrixXd J = dec.Jacobian(z);
      const VectorXd f2 = dec.SecondDirectional(z, u);
      BOOST_TEST(MaxRel(J, FdJacobian(dec, z)) < 1e-8);
      BOOST_TEST(MaxRel(f2, FdSecond(dec, z, u)) < 1e-5);
      BOOST_TEST(MaxRel(J, ref->Jacobian(z)) < 1e-13);
      BOOST_TEST(MaxRel(f2, ref->SecondDirectional(z, u)) < 1e-12);
      // The further forward-mode pass (derivatives of J and f''[u, u] along (dz, du)) against the autodiff reference
      // (nested duals) and against finite differences of the hand-propagated derivatives.
      MatrixXd Jt, dJ, Jr, dJr;
      VectorXd f2t, df2, f2r, df2r;
      dec.Tangents(z, u, dz, du, &Jt, &dJ, &f2t, &df2);
      ref->Tangents(z, u, dz, du, &Jr, &dJr, &f2r, &df2r);
      BOOST_TEST(MaxRel(Jt, J) < 1e-14);
      BOOST_TEST(MaxRel(f2t, f2) < 1e-14);
      BOOST_TEST(MaxRel(dJ, dJr) < 1e-12);
      BOOST_TEST(MaxRel(df2, df2r) < 1e-12);
      const double h = 1e-6;
      const MatrixXd dJ_fd = (dec.Jacobian(z + h * dz) - dec.Jacobian(z - h * dz)) / (2 * h);
      const VectorXd df2_fd =
          (dec.SecondDirectional(z + h * dz, u + h * du) - dec.SecondDirectional(z - h * dz, u - h * du)) / (2 * h);
      BOOST_TEST(MaxRel(dJ, dJ_fd) < 1e-7);
      BOOST_TEST(MaxRel(df2, df2_fd) < 1e-7);
    }
  }
  Mlp timed = RandomMlp(2, 2, {4}, TimeInput::kConcat, Activation::kTanh, 3u);
  BOOST_CHECK_THROW(MlpDecoder{timed}, InputError);
}

BOOST_AUTO_TEST_CASE(pullback_acceleration_matches_christoffel_formula) {
  // Height field: cheap pullback formula, the general Christoffel formula on M = J^T J, and the exact height-field
  // equation.
  const double A = 0.8;
  const auto bump = MakeGaussianBumpDecoder(A);
  const PullbackMetric pull(bump);
  const TensorMetric tensor(PullbackTensorField(bump));
  for (const auto& [z, u] : std::vector<std::pair<VectorXd, VectorXd>>{
           {V({0.3, -0.5}), V({1.0, 0.4})}, {V({-1.2, 0.7}), V({-0.3, 2.0})}, {V({0.0, 0.0}), V({0.5, 0.5})}}) {
    VectorXd a1, a2;
    BOOST_REQUIRE(pull.Acceleration(z, u, &a1, nullptr));
    BOOST_REQUIRE(tensor.Acceleration(z, u, &a2, nullptr));
    const VectorXd exact = GaussianBumpAcceleration(A, z, u);
    BOOST_TEST(MaxAbs(a1, exact) < 1e-13);
    BOOST_TEST(MaxAbs(a2, exact) < 1e-13);
  }
  // A small MLP decoder (d = 3, D = 5): pullback vs Christoffel of J^T J.
  Mlp mlp = RandomMlp(3, 5, {8}, TimeInput::kNone, Activation::kTanh, 5u, 1.0);
  auto dec = std::make_shared<MlpDecoder>(mlp);
  const PullbackMetric mp(dec);
  const TensorMetric mt(PullbackTensorField(dec));
  const VectorXd z = V({0.2, -0.1, 0.5}), u = V({0.7, -0.3, 0.4});
  VectorXd a1, a2;
  BOOST_REQUIRE(mp.Acceleration(z, u, &a1, nullptr));
  BOOST_REQUIRE(mt.Acceleration(z, u, &a2, nullptr));
  BOOST_TEST(MaxRel(a1, a2) < 1e-11);
  BOOST_TEST(!mt.HasAccelerationTangent());
}

BOOST_AUTO_TEST_CASE(acceleration_tangents_match_finite_differences) {
  // Exact derivatives of the acceleration (for the variational equations) vs central differences (test only).
  std::vector<std::pair<std::string, std::shared_ptr<const Metric>>> metrics = {
      {"mlp", std::make_shared<PullbackMetric>(std::make_shared<MlpDecoder>(
                  RandomMlp(2, 4, {6}, TimeInput::kNone, Activation::kSoftplus, 9u)))},
      {"sphere", std::make_shared<PullbackMetric>(MakeStereographicSphereDecoder(2))},
      {"torus", std::make_shared<PullbackMetric>(MakeTorusDecoder(2.0, 0.7))},
      {"fisher_rao", std::make_shared<TensorMetric>(MakeFisherRaoNormalField())},
      {"poincare", std::make_shared<TensorMetric>(MakePoincareHalfPlaneField())}};
  const VectorXd z = V({0.3, 0.8}), u = V({0.6, -0.4}), dz = V({0.2, 0.5}), du = V({-0.7, 0.3});
  for (const auto& [name, m] : metrics) {
    BOOST_TEST_CONTEXT(name) {
      VectorXd a, da, ap, am;
      BOOST_REQUIRE(m->AccelerationTangent(z, u, dz, du, &a, &da, nullptr));
      const double h = 1e-6;
      BOOST_REQUIRE(m->Acceleration(z + h * dz, u + h * du, &ap, nullptr));
      BOOST_REQUIRE(m->Acceleration(z - h * dz, u - h * du, &am, nullptr));
      VectorXd a0;
      BOOST_REQUIRE(m->Acceleration(z, u, &a0, nullptr));
      BOOST_TEST(MaxAbs(a, a0) < 1e-14);
      BOOST_TEST(MaxRel(da, (ap - am) / (2 * h)) < 1e-7);
    }
  }
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

// A user's decoder as a templated functor (functor_decoder.hpp): the unit sphere by inverse stereographic projection,
// written here independently of the library's closed forms.
struct UserSphere {
  int input_dim() const { return 2; }
  int output_dim() const { return 3; }
  template <class T>
  std::vector<T> operator()(const std::vector<T>& z) const {
    const T one = ad::Const<T>(1.0), two = ad::Const<T>(2.0);
    const T r2 = z[0] * z[0] + z[1] * z[1];
    const T s = one / (one + r2);
    return {two * z[0] * s, two * z[1] * s, (r2 - one) * s};
  }
};

// Every function of dual.hpp, for derivative checks.
struct UserMixed {
  int input_dim() const { return 2; }
  int output_dim() const { return 4; }
  template <class T>
  std::vector<T> operator()(const std::vector<T>& z) const {
    using std::cos;
    using std::exp;
    using std::log1p;
    using std::sin;
    using std::sqrt;
    using std::tanh;
    const T one = ad::Const<T>(1.0);
    return {tanh(z[0] * z[1]), sqrt(one + z[0] * z[0]) * sin(z[1]), exp(-z[1] * z[1]) * cos(z[0]),
            log1p(z[0] * z[0] + z[1] * z[1]) - z[0] / (one + z[1] * z[1])};
  }
};

BOOST_AUTO_TEST_CASE(a_templated_functor_decoder_gives_derivatives_and_geodesics) {
  // Derivatives against central differences (test only).
  const auto mixed = MakeFunctorDecoder(UserMixed{});
  const VectorXd z = V({0.4, -0.7}), u = V({0.9, 0.3}), dz = V({-0.5, 0.8}), du = V({0.2, -0.6});
  const double h = 1e-5;
  const MatrixXd J = mixed->Jacobian(z);
  MatrixXd Jfd(4, 2);
  for (int k = 0; k < 2; ++k) {
    const VectorXd e = VectorXd::Unit(2, k) * h;
    Jfd.col(k) = (mixed->Value(z + e) - mixed->Value(z - e)) / (2 * h);
  }
  BOOST_TEST((J - Jfd).cwiseAbs().maxCoeff() < 1e-9);
  const VectorXd f2 = mixed->SecondDirectional(z, u);
  const VectorXd f2fd = (mixed->Value(z + h * u) - 2 * mixed->Value(z) + mixed->Value(z - h * u)) / (h * h);
  BOOST_TEST((f2 - f2fd).cwiseAbs().maxCoeff() < 1e-4);
  MatrixXd Jt, dJ;
  VectorXd f2t, df2;
  mixed->Tangents(z, u, dz, du, &Jt, &dJ, &f2t, &df2);
  const MatrixXd dJfd = (mixed->Jacobian(z + h * dz) - mixed->Jacobian(z - h * dz)) / (2 * h);
  const VectorXd df2fd =
      (mixed->SecondDirectional(z + h * dz, u + h * du) - mixed->SecondDirectional(z - h * dz, u - h * du)) / (2 * h);
  BOOST_TEST((dJ - dJfd).cwiseAbs().maxCoeff() < 1e-8);
  BOOST_TEST((df2 - df2fd).cwiseAbs().maxCoeff() < 1e-7);
  BOOST_TEST((Jt - J).cwiseAbs().maxCoeff() == 0.0);
  BOOST_CHECK_EXCEPTION(mixed->Value(V({1.0, 2.0, 3.0})), InputError, [](const InputError& e) {
    return std::string(e.what()).find("functor decoder") != std::string::npos;
  });
  // Geodesics of the user's sphere: the closed-form distance, with the jet of the default GeodesicJet.
  const PullbackMetric sphere(MakeFunctorDecoder(UserSphere{}));
  for (const auto& [a, b] : std::vector<std::pair<VectorXd, VectorXd>>{{V({0.3, -0.2}), V({-0.5, 0.7})},
                                                                      {V({1.2, 0.1}), V({-0.4, -1.1})}}) {
    const LogMapResult r = LogMap(sphere, a, b, LogMapOptions());
    BOOST_TEST_REQUIRE(r.usable(), r.message);
    BOOST_TEST(std::abs(r.length - SphereDistance(a, b)) < 1e-7 * SphereDistance(a, b));
  }
}

// A user's metric tensor field as a templated functor (functor_metric.hpp): the Poincare half-plane.
struct UserHalfPlane {
  int dim() const { return 2; }
  template <class T>
  std::vector<T> operator()(const std::vector<T>& z) const {
    const T w = ad::Const<T>(1.0) / (z[1] * z[1]);
    return {w, ad::Const<T>(0.0), ad::Const<T>(0.0), w};
  }
  bool InDomain(const VectorXd& z, std::string* why) const {
    if (z[1] > 0) return true;
    if (why) *why = "y = " + std::to_string(z[1]) + " <= 0 outside the half-plane";
    return false;
  }
};

// A field without a domain of its own and with a coupling term, for derivative checks.
struct UserCoupled {
  int dim() const { return 2; }
  template <class T>
  std::vector<T> operator()(const std::vector<T>& z) const {
    using std::exp;
    using std::sin;
    const T one = ad::Const<T>(1.0);
    const T c = ad::Const<T>(0.3) * sin(z[0] * z[1]);
    return {one + z[0] * z[0], c, c, exp(z[1])};
  }
};

BOOST_AUTO_TEST_CASE(a_templated_functor_metric_field_gives_derivatives_and_geodesics) {
  const auto coupled = MakeFunctorMetricField(UserCoupled{});
  const VectorXd z = V({0.4, -0.3}), dz = V({0.7, -0.2});
  const double h = 1e-5;
  std::vector<MatrixXd> dM, dMp, dMm, dMdot;
  coupled->Derivatives(z, &dM);
  for (int k = 0; k < 2; ++k) {
    const VectorXd e = VectorXd::Unit(2, k) * h;
    const MatrixXd fd = (coupled->Value(z + e) - coupled->Value(z - e)) / (2 * h);
    BOOST_TEST((dM[static_cast<std::size_t>(k)] - fd).cwiseAbs().maxCoeff() < 1e-9);
  }
  BOOST_TEST_REQUIRE(coupled->HasSecondDerivatives());
  MatrixXd Mdot;
  coupled->SecondDerivatives(z, dz, &Mdot, &dMdot);
  BOOST_TEST((Mdot - (coupled->Value(z + h * dz) - coupled->Value(z - h * dz)) / (2 * h)).cwiseAbs().maxCoeff() <
             1e-9);
  coupled->Derivatives(z + h * dz, &dMp);
  coupled->Derivatives(z - h * dz, &dMm);
  for (std::size_t k = 0; k < 2; ++k) {
    BOOST_TEST((dMdot[k] - (dMp[k] - dMm[k]) / (2 * h)).cwiseAbs().maxCoeff() < 1e-8);
  }
  // Geodesics by shooting through the general Christoffel form: the half-plane's closed-form distance.
  const TensorMetric plane(MakeFunctorMetricField(UserHalfPlane{}));
  for (const auto& [a, b] : std::vector<std::pair<VectorXd, VectorXd>>{{V({0.0, 1.0}), V({1.5, 0.6})},
                                                                      {V({-0.4, 0.3}), V({0.8, 2.0})}}) {
    const LogMapResult r = LogMap(plane, a, b, LogMapOptions());
    BOOST_TEST_REQUIRE(r.usable(), r.message);
    BOOST_TEST(std::abs(r.length - PoincareDistance(a, b)) < 1e-7 * PoincareDistance(a, b));
  }
  // The functor's domain is the metric's: a point below the axis is refused with its reason.
  const LogMapResult outside = LogMap(plane, V({0.0, 1.0}), V({0.5, -0.2}), LogMapOptions());
  BOOST_TEST(std::string(ToString(outside.status)) == "outside_domain");
  BOOST_TEST(outside.message.find("outside the half-plane") != std::string::npos, outside.message);
  BOOST_CHECK_THROW(coupled->Value(V({1.0, 2.0, 3.0})), InputError);
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

BOOST_AUTO_TEST_CASE(shooting_matches_closed_form_distances) {
  for (const Case& c : ClosedFormCases()) {
    if (std::isnan(c.distance)) {
      // No closed form: the shooting converges, and the geodesic is no longer than the straight segment.
      const LogMapResult l = LogMap(*c.metric, c.z0, c.z1, ShootTol(1e-10));
      BOOST_REQUIRE_MESSAGE(l.usable(), c.name << ": " << l.message);
      double straight = 0;
      const int n = 4000;
      const VectorXd dz = c.z1 - c.z0;
      for (int k = 0; k < n; ++k) {
        straight += std::sqrt(dz.dot(c.metric->Evaluate(c.z0 + (k + 0.5) / n * dz) * dz)) / n;
      }
      std::cout << "log " << c.name << ": distance " << l.length << ", straight segment " << straight
                << ", endpoint error " << l.endpoint_error << ", iterations " << l.iterations << "\n";
      BOOST_TEST(l.length < straight);
      BOOST_TEST(std::abs(IntegratedLength(*c.metric, c.z0, l.initial_velocity) - l.length) / l.length < 1e-8);
      continue;
    }
    double first_error = 0, last_error = 0;
    for (double rtol : {1e-6, 1e-8, 1e-10}) {
      BOOST_TEST_CONTEXT(c.name << " rtol " << rtol) {
        const LogMapResult l = LogMap(*c.metric, c.z0, c.z1, ShootTol(rtol));
        BOOST_REQUIRE_MESSAGE(l.usable(), l.message);
        const double err = std::abs(l.length - c.distance) / c.distance;
        std::cout << "log " << c.name << " rtol " << rtol << ": distance " << l.length << " exact " << c.distance
                  << " rel error " << err << " endpoint error " << l.endpoint_error << " iterations "
                  << l.iterations << "\n  " << l.message << "\n";
        BOOST_TEST(err < 100 * rtol);
        BOOST_TEST(std::abs(IntegratedLength(*c.metric, c.z0, l.initial_velocity) - l.length) / l.length < 1e-8);
        if (rtol == 1e-6) first_error = err;
        last_error = err;
      }
    }
    // The error falls with the tolerance (or is already at round-off, as for the straight lines).
    BOOST_TEST((last_error < first_error || last_error < 1e-12), c.name << ": " << first_error << " -> "
                                                                         << last_error);
  }
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

BOOST_AUTO_TEST_CASE(singular_metric_is_reported) {
  MatrixXd W(3, 2);
  W << 1.0, 2.0, 0.5, 1.0, -1.0, -2.0;  // rank 1
  const PullbackMetric metric(MakeLinearDecoder(W, VectorXd::Zero(3)));
  VectorXd a;
  std::string why;
  BOOST_TEST(!metric.Acceleration(V({0.1, 0.2}), V({1.0, 0.0}), &a, &why));
  BOOST_TEST(why.find("singular") != std::string::npos, why);
  const ExpMapResult r = ExpMap(metric, V({0.1, 0.2}), V({1.0, 0.0}), Tol(1e-8));
  BOOST_TEST(!r.usable());
  BOOST_TEST((r.status == GeodesicStatus::kSingularMetric), ToString(r.status) << ": " << r.message);
}

// M = diag(1, 1e-10) everywhere (the functor form of the linear decoder diag(1, 1e-5)).
struct UserNearlySingular {
  int dim() const { return 2; }
  template <class T>
  std::vector<T> operator()(const std::vector<T>&) const {
    return {ad::Const<T>(1.0), ad::Const<T>(0.0), ad::Const<T>(0.0), ad::Const<T>(1e-10)};
  }
};

BOOST_AUTO_TEST_CASE(the_singularity_threshold_is_the_metrics_min_rcond) {
  // M = diag(1, 1e-10): reciprocal condition number 1e-10, regular under the default threshold (1e-13), singular
  // under 1e-8, for the pullback and the tensor-field metrics alike, and for every acceleration kind.
  MatrixXd W(2, 2);
  W << 1.0, 0.0, 0.0, 1e-5;
  PullbackMetric pullback(MakeLinearDecoder(W, VectorXd::Zero(2)));
  TensorMetric tensor(MakeFunctorMetricField(UserNearlySingular{}));
  const VectorXd z = V({0.1, 0.2}), u = V({1.0, 0.5});
  for (Metric* metric : std::vector<Metric*>{&pullback, &tensor}) {
    BOOST_TEST(metric->min_rcond() == Metric::kDefaultMinRcond);
    VectorXd a, da;
    MatrixXd A;
    BOOST_TEST(metric->Acceleration(z, u, &a, nullptr));
    BOOST_TEST(metric->AccelerationJacobian(z, u, &a, &A, nullptr));
    BOOST_TEST(ExpMap(*metric, z, u, Tol(1e-8)).usable());
    metric->set_min_rcond(1e-8);
    std::string why;
    BOOST_TEST(!metric->Acceleration(z, u, &a, &why));
    BOOST_TEST(why.find("-metric_min_rcond 1e-08") != std::string::npos, why);
    BOOST_TEST(!metric->AccelerationTangent(z, u, u, u, &a, &da, nullptr));
    BOOST_TEST(!metric->AccelerationJacobian(z, u, &a, &A, nullptr));
    const ExpMapResult r = ExpMap(*metric, z, u, Tol(1e-8));
    BOOST_TEST((r.status == GeodesicStatus::kSingularMetric), ToString(r.status) << ": " << r.message);
    BOOST_CHECK_THROW(metric->set_min_rcond(1.0), InputError);
    BOOST_CHECK_THROW(metric->set_min_rcond(-1e-3), InputError);
    BOOST_TEST(metric->min_rcond() == 1e-8);
  }
}

BOOST_AUTO_TEST_CASE(stochastic_metric_is_pullback_of_stacked_map) {
  MatrixXd W(3, 2), C(3, 2);
  W << 1.0, 0.5, -0.3, 2.0, 0.7, 0.2;
  C << 0.2, -0.1, 0.4, 0.3, -0.6, 0.5;
  const VectorXd c = V({0.1, 0.2, 0.3}), e = V({1.0, 1.5, 2.0});
  const PullbackMetric stochastic(
      std::make_shared<StackedDecoder>(MakeLinearDecoder(W, c), MakeLinearDecoder(C, e)));
  MatrixXd WC(6, 2);
  WC << W, C;
  VectorXd ce(6);
  ce << c, e;
  const PullbackMetric stacked(MakeLinearDecoder(WC, ce));
  const VectorXd z0 = V({0.3, -0.2}), z1 = V({-0.4, 0.9});
  BOOST_TEST(MaxAbs(stochastic.Evaluate(z0), W.transpose() * W + C.transpose() * C) < 1e-14);
  BOOST_TEST(MaxAbs(stochastic.Evaluate(z0), stacked.Evaluate(z0)) < 1e-14);
  const LogMapResult l = LogMap(stochastic, z0, z1, ShootTol(1e-10));
  BOOST_REQUIRE_MESSAGE(l.usable(), l.message);
  BOOST_TEST(std::abs(l.length - LinearDistance(WC, z0, z1)) < 1e-9);
  // A nonlinear stochastic decoder: MLP mean and softplus std.
  Mlp mean = RandomMlp(2, 3, {5}, TimeInput::kNone, Activation::kTanh, 21u);
  Mlp sd = RandomMlp(2, 3, {5}, TimeInput::kNone, Activation::kTanh, 22u);
  sd.output_activation = Activation::kSoftplus;
  auto m = std::make_shared<MlpDecoder>(mean);
  auto s = std::make_shared<MlpDecoder>(sd);
  const PullbackMetric ms(std::make_shared<StackedDecoder>(m, s));
  const MatrixXd Jm = m->Jacobian(z0), Js = s->Jacobian(z0);
  BOOST_TEST(MaxAbs(ms.Evaluate(z0), Jm.transpose() * Jm + Js.transpose() * Js) < 1e-13);
  const LogMapResult lm = LogMap(ms, z0, z1, ShootTol(1e-9));
  BOOST_REQUIRE_MESSAGE(lm.usable(), lm.message);
  std::cout << "stochastic MLP geodesic: length " << lm.length << ", endpoint error " << lm.endpoint_error
            << ", iterations " << lm.iterations << ", speed drift " << lm.final_shot.speed_drift << "\n";
  BOOST_TEST(lm.final_shot.speed_drift / lm.energy < 1e-8);
  // The geodesic is no longer than the straight segment (pullback length of z0 + t (z1 - z0), midpoint rule).
  double straight = 0;
  const int n = 2000;
  for (int k = 0; k < n; ++k) {
    const VectorXd zk = z0 + (k + 0.5) / n * (z1 - z0);
    straight += std::sqrt((z1 - z0).dot(ms.Evaluate(zk) * (z1 - z0))) / n;
  }
  BOOST_TEST(lm.length <= straight * (1 + 1e-9));
  // End-point Jacobian of the MLP metric's exp map (variational equations with the forward-over-forward-over-forward
  // derivative of the acceleration) vs central differences (test only).
  const VectorXd u = z1 - z0;
  const ExpMapResult r = ExpMap(ms, z0, u, Tol(1e-10), {}, true);
  BOOST_REQUIRE_MESSAGE(r.usable(), r.message);
  MatrixXd fd(2, 2);
  for (Eigen::Index j = 0; j < 2; ++j) {
    const VectorXd step = VectorXd::Unit(2, j) * 1e-5;
    fd.col(j) = (ExpMap(ms, z0, u + step, Tol(1e-12)).end_point - ExpMap(ms, z0, u - step, Tol(1e-12)).end_point) / 2e-5;
  }
  std::cout << "stochastic MLP end-point Jacobian vs FD: " << MaxRel(r.end_jacobian, fd) << "\n";
  BOOST_TEST(MaxRel(r.end_jacobian, fd) < 1e-6);
}

BOOST_AUTO_TEST_CASE(read_decoder_from_model_file) {
  const std::string file =
      (std::filesystem::temp_directory_path() / ("pushpull_test_geodesic_" + std::to_string(::getpid()) + ".h5"))
          .string();
  std::filesystem::remove(file);
  Mlp mean = RandomMlp(2, 3, {5}, TimeInput::kNone, Activation::kTanh, 31u);
  Mlp sd = RandomMlp(2, 3, {5}, TimeInput::kNone, Activation::kElu, 32u);
  sd.output_activation = Activation::kSoftplus;
  WriteMlp(file, "/decoder/mean", mean);
  BOOST_CHECK_THROW(ReadDecoder(file, true), InputError);  // no /decoder/std yet
  WriteMlp(file, "/decoder/std", sd);
  const auto det = ReadDecoder(file, false);
  const auto sto = ReadDecoder(file, true);
  const VectorXd z = V({0.4, -0.3});
  BOOST_TEST(det->output_dim() == 3);
  BOOST_TEST(sto->output_dim() == 6);
  const MatrixXd Jm = MlpDecoder(mean).Jacobian(z), Js = MlpDecoder(sd).Jacobian(z);
  BOOST_TEST(MaxAbs(det->Jacobian(z), Jm) < 1e-14);
  BOOST_TEST(MaxAbs(sto->Jacobian(z).bottomRows(3), Js) < 1e-14);
  std::filesystem::remove(file);
}

BOOST_AUTO_TEST_CASE(shooting_failures_are_statuses) {
  // Too few iterations for a curved problem: not converged, with the reason and the option to change.
  const TensorMetric poincare(MakePoincareHalfPlaneField());
  LogMapOptions few = ShootTol(1e-8);
  few.max_iterations = 1;
  few.fallback = false;
  const LogMapResult l = LogMap(poincare, V({-1.0, 0.5}), V({1.0, 1.5}), few);
  BOOST_TEST((l.status == GeodesicStatus::kNotConverged), ToString(l.status) << ": " << l.message);
  BOOST_TEST(l.message.find("bvp_tol") != std::string::npos, l.message);
  BOOST_TEST(l.endpoint_error > few.tol);
  // A metric that cannot differentiate its acceleration has no shooting Jacobian: reported, not thrown.
  const TensorMetric no_tangent(PullbackTensorField(MakeGaussianBumpDecoder(0.5)));
  const LogMapResult n = LogMap(no_tangent, V({0.0, 0.0}), V({1.0, 0.5}), ShootTol(1e-8));
  BOOST_TEST((n.status == GeodesicStatus::kIntegrationFailure));
  BOOST_TEST(n.message.find("cannot differentiate") != std::string::npos, n.message);
  std::cout << "no tangent: " << ToString(n.status) << ": " << n.message << "\n";
  // Its exponential map still works with the Jacobian-free default integrator (Adams).
  const ExpMapResult e = ExpMap(no_tangent, V({0.0, 0.0}), V({1.0, 0.5}), Tol(1e-8));
  BOOST_TEST(e.usable(), e.message);
}

BOOST_AUTO_TEST_CASE(mlp_decoder_every_activation_matches_autodiff_reference) {
  // Every activation as hidden and as output activation, against the nested-dual reference. The widths (11, 40, 19,
  // output 5) exercise every row blocking of the layer product (4, 2 and 1 SIMD packets and leftover rows).
  const std::vector<Activation> acts = {Activation::kTanh, Activation::kSoftplus, Activation::kElu,
                                        Activation::kSilu, Activation::kSigmoid, Activation::kIdentity};
  std::uint64_t state = 12345;
  auto uniform = [&state]() {  // deterministic, in [-1, 1)
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * 0x1.0p-52 - 1.0;
  };
  auto random_vector = [&uniform](int n, double scale) {
    VectorXd x(n);
    for (int i = 0; i < n; ++i) x[i] = scale * uniform();
    return x;
  };
  double worst_tangent = 0;
  for (std::size_t i = 0; i < acts.size(); ++i) {
    for (std::size_t o = 0; o < acts.size(); ++o) {
      Mlp mlp = RandomMlp(3, 5, {11, 40, 19}, TimeInput::kNone, acts[i], 100u + static_cast<unsigned>(7 * i + o), 0.9);
      mlp.output_activation = acts[o];
      const MlpDecoder dec(mlp);
      const auto ref = MakeAutodiffReferenceDecoder(mlp);
      BOOST_TEST_CONTEXT("hidden " << ToString(acts[i]) << ", output " << ToString(acts[o])) {
        for (int trial = 0; trial < 3; ++trial) {
          const VectorXd z = random_vector(3, 1.5), u = random_vector(3, 1.0);
          const VectorXd dz = random_vector(3, 1.0), du = random_vector(3, 1.0);
          BOOST_TEST(MaxRel(dec.Value(z), ref->Value(z)) < 1e-13);
          const MatrixXd J = dec.Jacobian(z);
          const VectorXd f2 = dec.SecondDirectional(z, u);
          BOOST_TEST(MaxRel(J, ref->Jacobian(z)) < 1e-13);
          BOOST_TEST(MaxRel(f2, ref->SecondDirectional(z, u)) < 1e-12);
          // One pass for both, as the separate calls.
          MatrixXd J2;
          VectorXd f22;
          dec.JacobianAndSecond(z, u, &J2, &f22);
          BOOST_TEST(MaxRel(J2, J) < 1e-15);
          BOOST_TEST(MaxRel(f22, f2) < 1e-14);
          // The tangent pass (third derivatives of the activations) against the nested duals.
          MatrixXd Jt, dJ, Jr, dJr;
          VectorXd f2t, df2, f2r, df2r;
          dec.Tangents(z, u, dz, du, &Jt, &dJ, &f2t, &df2);
          ref->Tangents(z, u, dz, du, &Jr, &dJr, &f2r, &df2r);
          BOOST_TEST(MaxRel(Jt, J) < 1e-15);
          BOOST_TEST(MaxRel(f2t, f2) < 1e-14);
          BOOST_TEST(MaxRel(dJ, dJr) < 1e-12);
          BOOST_TEST(MaxRel(df2, df2r) < 1e-12);
          worst_tangent = std::max({worst_tangent, MaxRel(dJ, dJr), MaxRel(df2, df2r)});
          // The jet pass (all second derivatives, third derivatives along u, u, e_k) against the default
          // GeodesicJet of the reference, which calls its nested-dual Tangents once per coordinate direction.
          MatrixXd Jj, H, T, Jjr, Hr, Tr;
          dec.GeodesicJet(z, u, &Jj, &H, &T);
          ref->GeodesicJet(z, u, &Jjr, &Hr, &Tr);
          BOOST_TEST(MaxRel(Jj, J) < 1e-15);
          BOOST_TEST(MaxRel(H, Hr) < 1e-12);
          BOOST_TEST(MaxRel(T, Tr) < 1e-12);
          // f''[u, u] = sum_ij u_i u_j H_ij, as the second-directional pass gives it.
          VectorXd f2_from_H = VectorXd::Zero(f2.size());
          for (int a = 0; a < 3; ++a) {
            for (int b = 0; b < 3; ++b) f2_from_H += u[a] * u[b] * H.col(a + 3 * b);
          }
          BOOST_TEST(MaxRel(f2_from_H, f2) < 1e-12);
          worst_tangent = std::max({worst_tangent, MaxRel(H, Hr), MaxRel(T, Tr)});
          // Null outputs are allowed.
          MatrixXd dJ_only;
          dec.Tangents(z, u, dz, du, nullptr, &dJ_only, nullptr, nullptr);
          BOOST_TEST(MaxRel(dJ_only, dJ) == 0.0);
        }
      }
    }
  }
  std::cout << "MlpDecoder tangents vs nested duals, all activation pairs: max rel error " << worst_tangent << "\n";
  // Dimension and shape errors are reported, not undefined behaviour.
  Mlp mlp = RandomMlp(3, 5, {4}, TimeInput::kNone, Activation::kTanh, 1u);
  const MlpDecoder dec(mlp);
  BOOST_CHECK_THROW(dec.Value(V({1.0, 2.0})), InputError);
  BOOST_CHECK_THROW(dec.SecondDirectional(V({1.0, 2.0, 3.0}), V({1.0})), InputError);
  Mlp broken = mlp;
  broken.layers[0].b.resize(3);
  BOOST_CHECK_THROW(MlpDecoder{broken}, InputError);
}

BOOST_AUTO_TEST_CASE(activation_derivatives_match_finite_differences) {
  // s, s', s'', s''' from the SIMD kernels: values against the standard library, each derivative against central
  // differences of the previous one (test only), NaN propagation and far-out arguments.
  const std::vector<Activation> acts = {Activation::kTanh, Activation::kSoftplus, Activation::kElu,
                                        Activation::kSilu, Activation::kSigmoid, Activation::kIdentity};
  std::vector<double> xs = {0.0, 1e-300, -1e-300, 1e-9, -1e-9, 1e-3, -1e-3, 0.3, -0.3, 0.6249, 0.6251, -0.6251,
                            1.0, -1.0, 2.5, -2.5, 7.0, -7.0, 19.0, -19.0, 30.0, -30.0, 39.0, -41.0};
  for (int k = -80; k <= 80; ++k) xs.push_back(0.1 * k + 0.0123);
  const VectorXd x = Eigen::Map<const VectorXd>(xs.data(), static_cast<Eigen::Index>(xs.size()));
  const double h = 1e-5;
  for (Activation a : acts) {
    BOOST_TEST_CONTEXT("activation " << ToString(a)) {
      const MatrixXd d = MlpDecoder::ActivationDerivatives(a, x);
      const MatrixXd dp = MlpDecoder::ActivationDerivatives(a, x.array() + h);
      const MatrixXd dm = MlpDecoder::ActivationDerivatives(a, x.array() - h);
      double worst_value = 0, worst_fd = 0;
      for (Eigen::Index i = 0; i < x.size(); ++i) {
        const double xi = x[i];
        double ref = xi;
        switch (a) {
          case Activation::kTanh: ref = std::tanh(xi); break;
          case Activation::kSigmoid: ref = 1.0 / (1.0 + std::exp(-xi)); break;
          case Activation::kSilu: ref = xi / (1.0 + std::exp(-xi)); break;
          case Activation::kSoftplus: ref = xi > 30 ? xi + std::log1p(std::exp(-xi)) : std::log1p(std::exp(xi)); break;
          case Activation::kElu: ref = xi > 0 ? xi : std::expm1(xi); break;
          case Activation::kIdentity: ref = xi; break;
        }
        worst_value = std::max(worst_value, std::abs(d(i, 0) - ref) / std::max(std::abs(ref), 1e-300));
        if (a == Activation::kElu && std::abs(xi) < 2 * h) continue;  // the kink of elu''
        for (int order = 1; order <= 3; ++order) {
          const double fd = (dp(i, order - 1) - dm(i, order - 1)) / (2 * h);
          worst_fd = std::max(worst_fd, std::abs(d(i, order) - fd) / std::max(1.0, std::abs(fd)));
        }
      }
      BOOST_TEST(worst_value < 4e-15);
      BOOST_TEST(worst_fd < 1e-8);
      std::cout << ToString(a) << ": value rel error " << worst_value << ", derivatives vs FD " << worst_fd << "\n";
      // NaN in, NaN out; far-out arguments stay finite.
      const MatrixXd n = MlpDecoder::ActivationDerivatives(a, V({std::nan(""), 800.0, -800.0, 1e300, -1e300}));
      for (int c = 0; c < 4; ++c) BOOST_TEST(std::isnan(n(0, c)));
      BOOST_TEST(n.bottomRows(4).allFinite());
    }
  }
}

namespace {
// s, s', s'', s''' of an activation in long double, from closed forms, and for each the size of its terms (the
// rounding errors of any double formula are relative to it: e.g. tanh''' = s1 (6 t^2 - 2) has a root where the two
// terms cancel).
void ActivationReference(Activation a, long double x, long double d[4], long double scale[4]) {
  const long double e = std::exp(-std::abs(x));
  const long double p = x >= 0 ? 1 / (1 + e) : e / (1 + e);  // sigmoid
  const long double q = x >= 0 ? e / (1 + e) : 1 / (1 + e);  // 1 - sigmoid
  const long double p1 = e / ((1 + e) * (1 + e));            // p' = p q
  const long double p2 = p1 * (q - p), p3 = p1 * (1 - 6 * p1);
  switch (a) {
    case Activation::kTanh: {
      const long double t = std::tanh(x), t1 = 4 * e * e / ((1 + e * e) * (1 + e * e));
      d[0] = t; d[1] = t1; d[2] = -2 * t * t1; d[3] = t1 * (6 * t * t - 2);
      scale[0] = std::abs(t); scale[1] = t1; scale[2] = 2 * std::abs(t) * t1; scale[3] = t1 * (6 * t * t + 2);
      return;
    }
    case Activation::kSigmoid:
      d[0] = p; d[1] = p1; d[2] = p2; d[3] = p3;
      scale[0] = p; scale[1] = p1; scale[2] = p1; scale[3] = p1 * (1 + 6 * p1);
      return;
    case Activation::kSoftplus:
      d[0] = std::log1p(e) + std::max(x, 0.0L); d[1] = p; d[2] = p1; d[3] = p2;
      scale[0] = d[0]; scale[1] = p; scale[2] = p1; scale[3] = p1;
      return;
    case Activation::kSilu:
      d[0] = x * p; d[1] = p + x * p1; d[2] = 2 * p1 + x * p2; d[3] = 3 * p2 + x * p3;
      scale[0] = std::abs(d[0]); scale[1] = p + std::abs(x * p1); scale[2] = 2 * p1 + std::abs(x) * p1;
      scale[3] = 3 * p1 + std::abs(x) * p1 * (1 + 6 * p1);
      return;
    case Activation::kElu:
      if (x > 0) {
        d[0] = x; d[1] = 1; d[2] = d[3] = 0;
      } else {
        d[0] = std::expm1(x); d[1] = d[2] = d[3] = std::exp(x);
      }
      for (int k = 0; k < 4; ++k) scale[k] = std::abs(d[k]);
      return;
    case Activation::kIdentity:
      d[0] = x; d[1] = 1; d[2] = d[3] = 0;
      for (int k = 0; k < 4; ++k) scale[k] = std::abs(d[k]);
      return;
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(activation_derivatives_match_long_double_references) {
  // s, s', s'', s''' from the shared SIMD kernels (the same for MlpField and MlpDecoder) against long double closed
  // forms over a wide range: [-40, 40] finely, the saturation regions out to +-800 and beyond, and tiny arguments.
  // Errors are relative to the size of each derivative's terms, with an absolute floor far below anything that
  // matters (tanh' is about 4 e^-2|x|, which underflows past |x| = 372).
  std::vector<double> xs;
  for (double x = -40; x <= 40; x += 0.0137) xs.push_back(x);
  for (double x = -800; x <= 800; x += 0.37) xs.push_back(x);
  for (double x = 1e-300; x < 2; x *= 1.7) {
    xs.push_back(x);
    xs.push_back(-x);
  }
  for (double x : {0.0, 0.3465735902799726, 0.625, 0.6931471805599453, 19.1, 354.0, 700.0, 710.0, 1e4, 1e300}) {
    xs.push_back(x);
    xs.push_back(-x);
  }
  const VectorXd x = Eigen::Map<const VectorXd>(xs.data(), static_cast<Eigen::Index>(xs.size()));
  const std::vector<Activation> acts = {Activation::kTanh, Activation::kSoftplus, Activation::kElu,
                                        Activation::kSilu, Activation::kSigmoid, Activation::kIdentity};
  for (Activation a : acts) {
    BOOST_TEST_CONTEXT("activation " << ToString(a)) {
      const MatrixXd d = MlpDecoder::ActivationDerivatives(a, x);
      double worst[4] = {0, 0, 0, 0};
      for (Eigen::Index i = 0; i < x.size(); ++i) {
        long double ref[4], scale[4];
        ActivationReference(a, x[i], ref, scale);
        for (int k = 0; k < 4; ++k) {
          const double e = static_cast<double>(std::abs(d(i, k) - ref[k]) / (scale[k] + 1e-290L));
          if (!(e <= worst[k])) worst[k] = e;  // NaN sticks
        }
      }
      for (int k = 0; k < 4; ++k) {
        BOOST_TEST(worst[k] < 2e-15, "derivative " << k << ": max relative error " << worst[k]);
      }
      std::cout << ToString(a) << ": max relative error of s, s', s'', s''' vs long double " << worst[0] << " "
                << worst[1] << " " << worst[2] << " " << worst[3] << "\n";
    }
  }
}

BOOST_AUTO_TEST_CASE(jacobian_and_second_and_acceleration_and_speed) {
  // The fused calls against the separate ones: MLP, closed-form and stacked decoders, a tensor metric (default
  // Metric::AccelerationAndSpeed) and a singular metric.
  Mlp mean = RandomMlp(2, 6, {16, 9}, TimeInput::kNone, Activation::kSilu, 41u);
  Mlp sd = RandomMlp(2, 6, {16, 9}, TimeInput::kNone, Activation::kElu, 42u);
  sd.output_activation = Activation::kSoftplus;
  auto m = std::make_shared<MlpDecoder>(mean);
  auto s = std::make_shared<MlpDecoder>(sd);
  std::vector<std::pair<std::string, std::shared_ptr<const Decoder>>> decoders = {
      {"mlp", m}, {"sphere", MakeStereographicSphereDecoder(2)}, {"stacked", std::make_shared<StackedDecoder>(m, s)}};
  const VectorXd z = V({0.35, -0.6}), u = V({-0.8, 1.3});
  for (const auto& [name, dec] : decoders) {
    BOOST_TEST_CONTEXT(name) {
      MatrixXd J;
      VectorXd f2;
      dec->JacobianAndSecond(z, u, &J, &f2);
      BOOST_TEST(MaxRel(J, dec->Jacobian(z)) < 1e-15);
      BOOST_TEST(MaxRel(f2, dec->SecondDirectional(z, u)) < 1e-14);
      const PullbackMetric metric(dec);
      VectorXd a1, a2;
      double speed2 = -1;
      BOOST_REQUIRE(metric.Acceleration(z, u, &a1, nullptr));
      BOOST_REQUIRE(metric.AccelerationAndSpeed(z, u, &a2, &speed2, nullptr));
      BOOST_TEST(MaxRel(a2, a1) < 1e-15);
      BOOST_TEST(std::abs(speed2 - u.dot(metric.Evaluate(z) * u)) < 1e-13 * speed2);
      BOOST_TEST(std::abs(speed2 - (J * u).squaredNorm()) < 1e-14 * speed2);
    }
  }
  // The stacked decoder's tangents against those of its two autodiff reference heads.
  const StackedDecoder stacked(m, s);
  const StackedDecoder stacked_ref(MakeAutodiffReferenceDecoder(mean), MakeAutodiffReferenceDecoder(sd));
  MatrixXd J, dJ, Jr, dJr;
  VectorXd f2, df2, f2r, df2r;
  stacked.Tangents(z, u, V({0.2, 0.9}), V({-1.1, 0.4}), &J, &dJ, &f2, &df2);
  stacked_ref.Tangents(z, u, V({0.2, 0.9}), V({-1.1, 0.4}), &Jr, &dJr, &f2r, &df2r);
  BOOST_TEST(MaxRel(J, Jr) < 1e-13);
  BOOST_TEST(MaxRel(f2, f2r) < 1e-12);
  BOOST_TEST(MaxRel(dJ, dJr) < 1e-12);
  BOOST_TEST(MaxRel(df2, df2r) < 1e-12);
  // Default implementation (tensor metric): Acceleration plus u^T M u.
  const TensorMetric poincare(MakePoincareHalfPlaneField());
  const VectorXd zp = V({0.3, 0.7});
  VectorXd a1, a2;
  double speed2 = -1;
  BOOST_REQUIRE(poincare.Acceleration(zp, u, &a1, nullptr));
  BOOST_REQUIRE(poincare.AccelerationAndSpeed(zp, u, &a2, &speed2, nullptr));
  BOOST_TEST(MaxRel(a2, a1) == 0.0);
  BOOST_TEST(std::abs(speed2 - u.squaredNorm() / (0.7 * 0.7)) < 1e-14 * speed2);
  std::string why;
  BOOST_TEST(!poincare.AccelerationAndSpeed(V({0.3, -0.7}), u, &a2, &speed2, &why));
  BOOST_TEST(why.find("outside the domain") != std::string::npos, why);
  // A singular metric is reported by the fused call as by Acceleration.
  MatrixXd W(3, 2);
  W << 1.0, 2.0, 0.5, 1.0, -1.0, -2.0;  // rank 1
  const PullbackMetric singular(MakeLinearDecoder(W, VectorXd::Zero(3)));
  why.clear();
  BOOST_TEST(!singular.AccelerationAndSpeed(V({0.1, 0.2}), V({1.0, 0.0}), &a2, &speed2, &why));
  BOOST_TEST(why.find("singular") != std::string::npos, why);
}

BOOST_AUTO_TEST_CASE(pullback_acceleration_tangent_matches_reference_in_small_and_large_dimension) {
  // PullbackMetric on MlpDecoder against PullbackMetric on the autodiff reference decoder, for d = 5 (metric on the
  // stack) and d = 18 (beyond the stack-allocated size), with the acceleration's tangent.
  for (int d : {5, 18}) {
    Mlp mlp = RandomMlp(d, 2 * d + 3, {24, 32}, TimeInput::kNone, Activation::kTanh, 77u + static_cast<unsigned>(d));
    mlp.output_activation = Activation::kSigmoid;
    const PullbackMetric fast(std::make_shared<MlpDecoder>(mlp));
    const PullbackMetric ref(MakeAutodiffReferenceDecoder(mlp));
    VectorXd z(d), u(d), dz(d), du(d);
    for (int i = 0; i < d; ++i) {
      z[i] = 0.3 * std::sin(1.0 + i);
      u[i] = std::cos(2.0 * i);
      dz[i] = std::sin(3.0 * i + 0.5);
      du[i] = 0.5 * std::cos(0.7 * i - 1.0);
    }
    BOOST_TEST_CONTEXT("d = " << d) {
      VectorXd a, da, ar, dar, a2;
      double speed2 = 0;
      BOOST_REQUIRE(fast.AccelerationTangent(z, u, dz, du, &a, &da, nullptr));
      BOOST_REQUIRE(ref.AccelerationTangent(z, u, dz, du, &ar, &dar, nullptr));
      BOOST_TEST(MaxRel(a, ar) < 1e-10);
      BOOST_TEST(MaxRel(da, dar) < 1e-10);
      BOOST_REQUIRE(fast.Acceleration(z, u, &a2, nullptr));
      BOOST_TEST(MaxRel(a2, a) < 1e-13);
      BOOST_REQUIRE(fast.AccelerationAndSpeed(z, u, &a2, &speed2, nullptr));
      BOOST_TEST(MaxRel(a2, a) < 1e-13);
      BOOST_TEST(std::abs(speed2 - u.dot(ref.Evaluate(z) * u)) < 1e-12 * speed2);
      BOOST_TEST(MaxRel(fast.Evaluate(z), ref.Evaluate(z)) < 1e-13);
      std::cout << "d = " << d << ": acceleration tangent vs reference " << MaxRel(da, dar) << "\n";
      // The whole Jacobian [da/dz | da/du] from one jet pass, against the reference metric's default (one
      // AccelerationTangent per coordinate direction), and its action on (dz, du) against the tangent.
      VectorXd aj, ajr;
      MatrixXd A, Ar;
      BOOST_REQUIRE(fast.AccelerationJacobian(z, u, &aj, &A, nullptr));
      BOOST_REQUIRE(ref.Metric::AccelerationJacobian(z, u, &ajr, &Ar, nullptr));
      BOOST_TEST(A.rows() == d);
      BOOST_TEST(A.cols() == 2 * d);
      BOOST_TEST(MaxRel(aj, a) < 1e-12);
      BOOST_TEST(MaxRel(A, Ar) < 1e-10);
      VectorXd dzu(2 * d);
      dzu << dz, du;
      BOOST_TEST(MaxRel(VectorXd(A * dzu), dar) < 1e-10);
      std::cout << "d = " << d << ": acceleration Jacobian vs reference " << MaxRel(A, Ar) << "\n";
    }
  }
}

BOOST_AUTO_TEST_CASE(acceleration_jacobian_matches_finite_differences_for_every_metric_kind) {
  // Pullback of an MLP (one jet pass), the stochastic metric of a stacked decoder (jets of both heads) and a closed
  // form (the default through AccelerationTangent): central differences of the acceleration (test only).
  Mlp mean = RandomMlp(2, 6, {12}, TimeInput::kNone, Activation::kTanh, 5u);
  mean.output_activation = Activation::kSigmoid;
  Mlp sd = RandomMlp(2, 6, {12}, TimeInput::kNone, Activation::kSilu, 6u);
  sd.output_activation = Activation::kSoftplus;
  const auto mean_decoder = std::make_shared<MlpDecoder>(mean);
  const std::vector<std::pair<std::string, std::shared_ptr<const Metric>>> metrics = {
      {"mlp", std::make_shared<PullbackMetric>(mean_decoder)},
      {"stacked", std::make_shared<PullbackMetric>(
                      std::make_shared<StackedDecoder>(mean_decoder, std::make_shared<MlpDecoder>(sd)))},
      {"sphere", std::make_shared<PullbackMetric>(MakeStereographicSphereDecoder(2))},
  };
  const VectorXd z = V({0.3, -0.4}), u = V({0.8, 0.5});
  const double h = 1e-5;
  for (const auto& [name, metric] : metrics) {
    BOOST_TEST_CONTEXT(name) {
      VectorXd a, a0;
      MatrixXd A;
      BOOST_REQUIRE(metric->AccelerationJacobian(z, u, &a, &A, nullptr));
      BOOST_REQUIRE(metric->Acceleration(z, u, &a0, nullptr));
      BOOST_TEST(MaxRel(a, a0) < 1e-12);
      MatrixXd fd(2, 4);
      for (int k = 0; k < 4; ++k) {
        const pushpull::testing::StateNeighbours n = pushpull::testing::PerturbState(z, u, k, h);
        VectorXd ap, am;
        BOOST_REQUIRE(metric->Acceleration(n.zp, n.up, &ap, nullptr));
        BOOST_REQUIRE(metric->Acceleration(n.zm, n.um, &am, nullptr));
        fd.col(k) = (ap - am) / (2 * h);
      }
      BOOST_TEST((A - fd).cwiseAbs().maxCoeff() < 1e-7 * (1 + A.cwiseAbs().maxCoeff()), name << ": " << A);
    }
  }
  // Outside the domain or at a singular metric, it fails with the reason, as Acceleration does.
  const PullbackMetric sphere(MakeStereographicSphereDecoder(2));
  VectorXd a;
  MatrixXd A;
  std::string why;
  BOOST_TEST(!sphere.AccelerationJacobian(V({NAN, 0.0}), u, &a, &A, &why));
  BOOST_TEST(why.find("non-finite") != std::string::npos, why);
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

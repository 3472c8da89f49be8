// Metrics: pullback and tensor-field accelerations, their tangents and Jacobians, stacked (stochastic) decoders,
// singular metrics and the -metric_min_rcond threshold.
#define BOOST_TEST_MODULE metric
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
#include "geodesic_test_helpers.hpp"
#include "test_support.hpp"

using namespace pushpull;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using namespace pushpull::geodesic_testing;
using pushpull::testing::MakeAutodiffReferenceDecoder;

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

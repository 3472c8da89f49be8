// Helpers shared by the geodesic test programs (test_exp_map, test_metric, test_mlp_decoder, test_shooting, ...):
// tolerances, finite differences and the closed-form cases. Include after <boost/test/unit_test.hpp>; the programs
// use them through `using namespace pushpull::geodesic_testing`.
#pragma once

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/geodesic.hpp"
#include "pushpull/log_map.hpp"
#include "pushpull/metric.hpp"

namespace pushpull::geodesic_testing {

using Eigen::MatrixXd;
using Eigen::VectorXd;

inline VectorXd V(std::initializer_list<double> x) {
  VectorXd v(static_cast<Eigen::Index>(x.size()));
  Eigen::Index i = 0;
  for (double e : x) v[i++] = e;
  return v;
}

inline double MaxAbs(const MatrixXd& a, const MatrixXd& b) {
  BOOST_REQUIRE_EQUAL(a.rows(), b.rows());
  BOOST_REQUIRE_EQUAL(a.cols(), b.cols());
  return (a - b).cwiseAbs().maxCoeff();
}

// Relative: max |a - b| / max(1, max |b|).
inline double MaxRel(const MatrixXd& a, const MatrixXd& b) {
  return MaxAbs(a, b) / std::max(1.0, b.cwiseAbs().maxCoeff());
}

inline GeodesicOptions Tol(double rtol) {
  GeodesicOptions o;
  o.ode.rtol = rtol;
  o.ode.atol = rtol * 1e-2;
  return o;
}

inline LogMapOptions ShootTol(double rtol) {
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
inline double IntegratedLength(const Metric& metric, const VectorXd& z0, const VectorXd& u) {
  GeodesicOptions g;
  g.ode.rtol = 1e-11;
  g.ode.atol = 1e-13;
  g.integrate_length = true;
  const ExpMapResult r = ExpMap(metric, z0, u, g);
  BOOST_REQUIRE_MESSAGE(r.usable(), r.message);
  return r.length;
}

// Central finite differences of a decoder (test only).
inline MatrixXd FdJacobian(const Decoder& f, const VectorXd& z, double h = 1e-6) {
  MatrixXd J(f.output_dim(), f.input_dim());
  for (int k = 0; k < f.input_dim(); ++k) {
    const VectorXd e = VectorXd::Unit(z.size(), k) * h;
    J.col(k) = (f.Value(z + e) - f.Value(z - e)) / (2 * h);
  }
  return J;
}
inline VectorXd FdSecond(const Decoder& f, const VectorXd& z, const VectorXd& u, double h = 1e-4) {
  return (f.Value(z + h * u) - 2 * f.Value(z) + f.Value(z - h * u)) / (h * h);
}

struct Case {
  std::string name;
  std::shared_ptr<const Metric> metric;
  VectorXd z0, z1;
  double distance;
};

inline std::vector<Case> ClosedFormCases() {
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

}  // namespace pushpull::geodesic_testing

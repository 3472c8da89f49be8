// Decoders and metric tensor fields written as templated functors (functor_decoder.hpp, functor_metric.hpp).
#define BOOST_TEST_MODULE functors
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

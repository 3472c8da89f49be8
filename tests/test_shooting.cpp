// The logarithm map by shooting on the closed-form geometries, and its failures as statuses.
#define BOOST_TEST_MODULE shooting
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

// A derivative checker for vector fields (in the manner of Ceres' GradientChecker): compares a field's
// Jacobian-vector products, divergence and Jacobian with central finite differences of its values, for users who
// hand-write derivatives.
#pragma once

#include <string>
#include <vector>

#include "pushpull/field.hpp"

namespace pushpull {

struct FieldCheckOptions {
  int num_points = 8;              // random points drawn from N(0, I)
  std::vector<double> times{0.0, 0.5, 1.0};
  double step = 1e-6;              // relative finite-difference step
  double tolerance = 1e-6;         // pass when every relative error is below this
  unsigned long long seed = 1;
};

struct FieldCheckResult {
  double max_jvp_error = 0;        // max over points and directions of |jvp - fd| / max(1, |fd|)
  double max_divergence_error = 0;
  double max_jacobian_error = 0;
  bool passed = false;
  std::string report;              // a few lines for humans
};

FieldCheckResult CheckFieldDerivatives(const VectorField& field, const FieldCheckOptions& options = {});

}  // namespace pushpull

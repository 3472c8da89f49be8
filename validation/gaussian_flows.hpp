// Closed-form Gaussian flows of docs/math.md section 2, for the validation suite and the tests (internal).
//
// Every case is an affine field whose flow map from the base time to the data time is x_d = Phi z + c, so the data
// density is N(c, Phi Phi^T) and the log-density of a sample is log N(z) - log|det Phi|.
#pragma once

#include <memory>
#include <string>

#include <Eigen/Core>

#include "pushpull/field.hpp"

namespace pushpull::validation {

struct AffineFlowCase {
  std::string name;
  std::string description;
  std::unique_ptr<VectorField> field;
  double base_time = 0;
  Eigen::MatrixXd Phi;  // flow map base -> data: x = Phi z + c
  Eigen::VectorXd c;
  double log_det_phi = 0;  // log|det Phi|, exact (tr A for e^A: Phi itself may underflow for stiff flows)

  // Closed forms for data points x (rows): the latent z = Phi^{-1}(x - c) and log p(x).
  RowMatrixXd Latent(const RowMatrixXd& x) const;
  Eigen::VectorXd LogDensity(const RowMatrixXd& x) const;
  // Closed forms for base draws z (rows): samples x = Phi z + c and their log-density.
  RowMatrixXd Samples(const RowMatrixXd& z) const;
  Eigen::VectorXd SampleLogDensity(const RowMatrixXd& z) const;
};

// G1: v = A x + b, A non-symmetric with tr A != 0. base_time 0 (flow matching) or 1 (FFJORD).
AffineFlowCase MakeG1(int dim, double base_time, unsigned seed);
// G2: conditional flow matching Gaussian path mu(t) = t m1, sigma(t) = 1 - (1 - sigma_min) t; base at t = 0.
AffineFlowCase MakeG2(int dim, double sigma_min, unsigned seed);
// G5: rectified flow from N(0, I) to N(m, S), S a full covariance; base at t = 0.
AffineFlowCase MakeG5(int dim, unsigned seed);
// G7: G1 with eigenvalues spread over decades: -1 ... -10^{decades} (stiff).
AffineFlowCase MakeG7(int dim, double decades, unsigned seed);

}  // namespace pushpull::validation

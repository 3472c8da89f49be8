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
  // Constant fields v = A x + b (G1, G7): A and b; empty otherwise.
  Eigen::MatrixXd A;
  Eigen::VectorXd b;
  bool optimal = false;  // the flow is the optimal (McCann) flow of its map (G3 from the base N(0, I))

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

// G3 from the engine's base N(0, I) at t = 0: the McCann path of the affine map T(z) = A z + c with A symmetric
// positive definite (the optimal map from N(0, I) to N(c, A^2)): v = (A - I) C_t^{-1} (x - t c) + c,
// C_t = (1 - t) I + t A.
AffineFlowCase MakeG3Standard(int dim, unsigned seed);

// Closed forms of the flow-versus-OT diagnostics (flow_transport.hpp, docs/transport.md) for base draws
// z ~ N(0, I): E K, E ||T(z) - z||^2, W2^2(N(0, I), N(c, Phi Phi^T)) and the curl integral (the same for every
// particle). Needs a constant field (A, b set) or an optimal one; throws std::invalid_argument otherwise.
struct FlowTransportClosedForm {
  double action = 0;
  double displacement = 0;
  double w2_squared = 0;
  double curl = 0;
};
FlowTransportClosedForm TransportClosedForm(const AffineFlowCase& c);

}  // namespace pushpull::validation

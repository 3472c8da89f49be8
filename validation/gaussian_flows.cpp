#include "gaussian_flows.hpp"

#include <Eigen/Dense>
#include <unsupported/Eigen/MatrixFunctions>
#include <cmath>
#include <stdexcept>
#include <numbers>
#include <random>

namespace pushpull::validation {
namespace {

Eigen::MatrixXd RandomMatrix(int n, std::mt19937_64& rng, double scale) {
  std::normal_distribution<double> normal(0.0, scale);
  return Eigen::MatrixXd::NullaryExpr(n, n, [&] { return normal(rng); });
}

Eigen::VectorXd RandomVector(int n, std::mt19937_64& rng, double scale) {
  std::normal_distribution<double> normal(0.0, scale);
  return Eigen::VectorXd::NullaryExpr(n, [&] { return normal(rng); });
}

// A symmetric positive definite matrix with eigenvalues in [lo, hi] and random eigenvectors.
Eigen::MatrixXd RandomSpd(int n, std::mt19937_64& rng, double lo, double hi) {
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(RandomMatrix(n, rng, 1.0));
  Eigen::MatrixXd Q = qr.householderQ();
  std::uniform_real_distribution<double> u(lo, hi);
  Eigen::VectorXd eig = Eigen::VectorXd::NullaryExpr(n, [&] { return u(rng); });
  return Q * eig.asDiagonal() * Q.transpose();
}

// e^{A} and B_1 b = int_0^1 e^{As} ds b (top-right block of exp([[A, b], [0, 0]])).
void AffineFlowMap(const Eigen::MatrixXd& A, const Eigen::VectorXd& b, double t, Eigen::MatrixXd& expA,
                   Eigen::VectorXd& Bb) {
  const int n = static_cast<int>(A.rows());
  Eigen::MatrixXd M = Eigen::MatrixXd::Zero(n + 1, n + 1);
  M.topLeftCorner(n, n) = A * t;
  M.topRightCorner(n, 1) = b * t;
  const Eigen::MatrixXd E = M.exp();
  expA = E.topLeftCorner(n, n);
  Bb = E.topRightCorner(n, 1);
}

AffineFlowCase AffineCase(std::string name, std::string description, const Eigen::MatrixXd& A,
                          const Eigen::VectorXd& b, double base_time) {
  AffineFlowCase c;
  c.name = std::move(name);
  c.description = std::move(description);
  const int n = static_cast<int>(A.rows());
  c.field = std::make_unique<AffineField>(
      n, [A](double) { return A; }, [b](double) { return b; }, c.description);
  c.base_time = base_time;
  c.A = A;
  c.b = b;
  Eigen::MatrixXd E;
  Eigen::VectorXd Bb;
  AffineFlowMap(A, b, 1.0, E, Bb);
  if (base_time == 0.0) {
    c.Phi = E;  // x_1 = e^A z + B_1 b
    c.c = Bb;
    c.log_det_phi = A.trace();
  } else {
    c.log_det_phi = -A.trace();
    const Eigen::MatrixXd Einv = E.inverse();  // x_0 = e^{-A} (z - B_1 b)
    c.Phi = Einv;
    c.c = -Einv * Bb;
  }
  return c;
}

double LogDetAbs(const Eigen::MatrixXd& M) {
  return Eigen::PartialPivLU<Eigen::MatrixXd>(M).matrixLU().diagonal().array().abs().log().sum();
}

}  // namespace

RowMatrixXd AffineFlowCase::Latent(const RowMatrixXd& x) const {
  const Eigen::MatrixXd shifted = (x.rowwise() - c.transpose()).transpose();
  return Phi.partialPivLu().solve(shifted).transpose();
}

Eigen::VectorXd AffineFlowCase::LogDensity(const RowMatrixXd& x) const {
  const RowMatrixXd z = Latent(x);
  const double d = static_cast<double>(Phi.rows());
  return ((-0.5 * z.rowwise().squaredNorm()).array() - 0.5 * d * std::log(2 * std::numbers::pi) - log_det_phi)
      .matrix();
}

RowMatrixXd AffineFlowCase::Samples(const RowMatrixXd& z) const {
  return ((Phi * z.transpose()).colwise() + c).transpose();
}

Eigen::VectorXd AffineFlowCase::SampleLogDensity(const RowMatrixXd& z) const {
  const double d = static_cast<double>(Phi.rows());
  return ((-0.5 * z.rowwise().squaredNorm()).array() - 0.5 * d * std::log(2 * std::numbers::pi) - log_det_phi)
      .matrix();
}

AffineFlowCase MakeG1(int dim, double base_time, unsigned seed) {
  std::mt19937_64 rng(seed);
  Eigen::MatrixXd A = RandomMatrix(dim, rng, 0.5 / std::sqrt(static_cast<double>(dim)));
  A.diagonal().array() += 0.3;  // tr A != 0
  const Eigen::VectorXd b = RandomVector(dim, rng, 1.0);
  return AffineCase("G1", "constant affine field v = A x + b (non-symmetric A, tr A != 0), d = " +
                              std::to_string(dim) + ", base at t = " + std::to_string(static_cast<int>(base_time)),
                    A, b, base_time);
}

AffineFlowCase MakeG7(int dim, double decades, unsigned seed) {
  std::mt19937_64 rng(seed);
  // A = V diag(-10^{k decades/(d-1)}) V^{-1} with a well-conditioned, non-orthogonal V.
  Eigen::MatrixXd V = Eigen::MatrixXd::Identity(dim, dim) + RandomMatrix(dim, rng, 0.2 / std::sqrt(dim + 0.0));
  Eigen::VectorXd eig(dim);
  for (int k = 0; k < dim; ++k) eig(k) = -std::pow(10.0, dim > 1 ? decades * k / (dim - 1) : 0.0);
  const Eigen::MatrixXd A = V * eig.asDiagonal() * V.inverse();
  const Eigen::VectorXd b = RandomVector(dim, rng, 1.0);
  return AffineCase("G7", "stiff affine field, eigenvalues -1 ... -1e" + std::to_string(static_cast<int>(decades)) +
                              ", d = " + std::to_string(dim),
                    A, b, 0.0);
}

AffineFlowCase MakeG2(int dim, double sigma_min, unsigned seed) {
  std::mt19937_64 rng(seed);
  const Eigen::VectorXd m1 = RandomVector(dim, rng, 2.0);
  AffineFlowCase c;
  c.name = "G2";
  c.description = "conditional flow matching path mu = t m1, sigma = 1 - (1 - sigma_min) t, d = " +
                  std::to_string(dim);
  const double s_min = sigma_min;
  auto sigma = [s_min](double t) { return 1.0 - (1.0 - s_min) * t; };
  const double dsigma = -(1.0 - s_min);
  c.field = std::make_unique<AffineField>(
      dim,
      [dim, sigma, dsigma](double t) {
        return Eigen::MatrixXd(Eigen::MatrixXd::Identity(dim, dim) * (dsigma / sigma(t)));
      },
      [m1, sigma, dsigma](double t) { return Eigen::VectorXd(m1 - (dsigma / sigma(t)) * t * m1); }, c.description);
  c.base_time = 0;
  c.Phi = Eigen::MatrixXd::Identity(dim, dim) * sigma(1.0);  // x_1 = m1 + sigma_min z
  c.c = m1;
  c.log_det_phi = LogDetAbs(c.Phi);
  return c;
}

AffineFlowCase MakeG5(int dim, unsigned seed) {
  std::mt19937_64 rng(seed);
  const Eigen::VectorXd m = RandomVector(dim, rng, 1.0);
  const Eigen::MatrixXd S = RandomSpd(dim, rng, 0.3, 2.0);
  AffineFlowCase c;
  c.name = "G5";
  c.description = "rectified flow from N(0, I) to N(m, S), full S, d = " + std::to_string(dim);
  auto A = [S, dim](double t) {
    const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(dim, dim);
    const Eigen::MatrixXd Sigma = (1 - t) * (1 - t) * I + t * t * S;
    return Eigen::MatrixXd((t * S - (1 - t) * I) * Sigma.inverse());
  };
  c.field = std::make_unique<AffineField>(
      dim, A, [A, m](double t) { return Eigen::VectorXd(m - A(t) * (t * m)); }, c.description);
  c.base_time = 0;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(S);
  c.Phi = es.operatorSqrt();  // x_1 = m + S^{1/2} z
  c.c = m;
  c.log_det_phi = LogDetAbs(c.Phi);
  return c;
}

}  // namespace pushpull::validation

namespace pushpull::validation {

AffineFlowCase MakeG3Standard(int dim, unsigned seed) {
  std::mt19937_64 rng(seed);
  const Eigen::MatrixXd A = RandomSpd(dim, rng, 0.4, 2.5);
  const Eigen::VectorXd c = RandomVector(dim, rng, 1.0);
  AffineFlowCase f;
  f.name = "G3";
  f.description = "optimal (McCann) flow from N(0, I) to N(c, A^2), A symmetric positive definite, d = " +
                  std::to_string(dim);
  const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(dim, dim);
  auto slope = [A, I](double t) { return Eigen::MatrixXd((A - I) * ((1 - t) * I + t * A).inverse()); };
  f.field = std::make_unique<AffineField>(
      dim, slope, [slope, c](double t) { return Eigen::VectorXd(c - slope(t) * (t * c)); }, f.description);
  f.base_time = 0;
  f.Phi = A;
  f.c = c;
  f.log_det_phi = std::log(A.determinant());
  f.optimal = true;
  return f;
}

FlowTransportClosedForm TransportClosedForm(const AffineFlowCase& c) {
  const int d = static_cast<int>(c.Phi.rows());
  const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(d, d);
  FlowTransportClosedForm r;
  // E ||(Phi - I) z + c||^2 over z ~ N(0, I).
  r.displacement = (c.Phi - I).squaredNorm() + c.c.squaredNorm();
  // W2^2(N(0, I), N(c, S)) = ||c||^2 + tr(I + S - 2 S^{1/2}), S = Phi Phi^T.
  const Eigen::MatrixXd S = c.Phi * c.Phi.transpose();
  const Eigen::MatrixXd S_half = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(S).operatorSqrt();
  r.w2_squared = c.c.squaredNorm() + (I + S - 2 * S_half).trace();
  if (c.optimal) {
    r.action = r.displacement;  // straight lines at constant speed
    r.curl = 0;                 // J = (A - I) C_t^{-1} is symmetric
    return r;
  }
  if (c.A.size() == 0) throw std::invalid_argument("TransportClosedForm: " + c.name + " is not a constant field");
  // Along a trajectory from the base time, w(s) = A x + b obeys w' = +-A w (sign of the direction of
  // integration), so K(z) = int_0^1 ||e^{B s} (A z + b)||^2 ds with B = A (base at 0) or -A (base at 1), and
  // E K = tr(G Q), Q = A A^T + b b^T, G = int_0^1 e^{B^T s} e^{B s} ds = F22^T F12 with
  // exp([[-B^T, I], [0, B]]) = [[F11, F12], [0, F22]] (Van Loan 1978).
  const Eigen::MatrixXd B = c.base_time == 0.0 ? c.A : Eigen::MatrixXd(-c.A);
  Eigen::MatrixXd M = Eigen::MatrixXd::Zero(2 * d, 2 * d);
  M.topLeftCorner(d, d) = -B.transpose();
  M.topRightCorner(d, d) = I;
  M.bottomRightCorner(d, d) = B;
  const Eigen::MatrixXd E = M.exp();
  const Eigen::MatrixXd G = E.bottomRightCorner(d, d).transpose() * E.topRightCorner(d, d);
  const Eigen::MatrixXd Q = c.A * c.A.transpose() + c.b * c.b.transpose();
  r.action = (G * Q).trace();
  r.curl = (c.A - c.A.transpose()).squaredNorm();  // J = A at every point and time
  return r;
}

}  // namespace pushpull::validation

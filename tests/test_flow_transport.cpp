// Flow-versus-OT diagnostics (flow_transport.hpp) and the curl quadrature of the pushforward engine, against the
// closed forms of the Gaussian flows G1 (non-symmetric constant field) and G3 (the optimal McCann flow).
#define BOOST_TEST_MODULE flow_transport
#include <boost/test/unit_test.hpp>

#include <Eigen/Dense>
#include <unsupported/Eigen/MatrixFunctions>

#include <algorithm>
#include <cmath>
#include <string>

#include "gaussian_flows.hpp"
#include "pushpull/flow_transport.hpp"
#include "pushpull/pushforward.hpp"

using namespace pushpull;
using validation::AffineFlowCase;

namespace {

PushforwardOptions Tight() {
  PushforwardOptions o;
  o.ode.type = "dopri5";
  o.ode.rtol = 1e-10;
  o.ode.atol = 1e-12;
  o.threads = 2;
  return o;
}

// int_0^1 e^{B^T s} e^{B s} ds by composite Gauss-Legendre quadrature (independent of the Van Loan form).
Eigen::MatrixXd GramByQuadrature(const Eigen::MatrixXd& B) {
  const double nodes[3] = {-std::sqrt(0.6), 0.0, std::sqrt(0.6)};
  const double weights[3] = {5.0 / 9, 8.0 / 9, 5.0 / 9};
  const int panels = 200;
  Eigen::MatrixXd G = Eigen::MatrixXd::Zero(B.rows(), B.cols());
  for (int p = 0; p < panels; ++p) {
    for (int k = 0; k < 3; ++k) {
      const double s = (p + 0.5 + 0.5 * nodes[k]) / panels;
      const Eigen::MatrixXd E = (B * s).exp();
      G += 0.5 * weights[k] / panels * E.transpose() * E;
    }
  }
  return G;
}

}  // namespace

// CVODES keeps uncontrolled quadratures out of the error test: adding the curl changes no other number. ARKODE
// carries quadratures as states and its RMS error norm counts them (zero weight, but one more entry), so adding
// any quadrature (-kinetic, -frobenius, -curl) moves its steps slightly: agreement within the tolerance.
BOOST_AUTO_TEST_CASE(curl_quadrature_changes_no_other_number) {
  const AffineFlowCase g = validation::MakeG1(3, 0.0, 5u);
  const RowMatrixXd z = DrawStandardNormal(40, 3, 9);
  for (const std::string type : {"bdf", "dopri5"}) {
    PushforwardOptions o = Tight();
    o.ode.type = type;
    o.ode.rtol = 1e-6;
    o.ode.atol = 1e-8;
    o.batch_size = 16;
    o.kinetic = true;
    o.frobenius = true;
    const PushforwardResult a = PushSamples(*g.field, g.base_time, z, o);
    o.curl = true;
    const PushforwardResult b = PushSamples(*g.field, g.base_time, z, o);
    const double tol = type == "bdf" ? 0.0 : 1e-5;
    for (Eigen::Index i = 0; i < z.rows(); ++i) {
      BOOST_TEST(std::abs(a.kinetic(i) - b.kinetic(i)) <= tol * a.kinetic(i), type);
      BOOST_TEST(std::abs(a.frobenius(i) - b.frobenius(i)) <= std::max(tol, 1e-14) * a.frobenius(i), type);
      BOOST_TEST(std::abs(a.log_density(i) - b.log_density(i)) <= std::max(tol, 1e-13), type);  // trace of J
      BOOST_TEST((a.endpoints.row(i) - b.endpoints.row(i)).norm() <= tol * (1 + a.endpoints.row(i).norm()), type);
      if (type == "bdf") BOOST_TEST(a.steps[static_cast<std::size_t>(i)] == b.steps[static_cast<std::size_t>(i)]);
    }
    // J = A everywhere: the curl integral is ||A - A^T||_F^2 over unit time, for the Hutchinson path as well.
    const double curl = (g.A - g.A.transpose()).squaredNorm();
    o.trace_type = "hutchinson";
    const PushforwardResult h = PushSamples(*g.field, g.base_time, z, o);
    for (Eigen::Index i = 0; i < z.rows(); ++i) {
      BOOST_TEST(std::abs(b.curl(i) - curl) <= 1e-9 * curl);
      BOOST_TEST(std::abs(h.curl(i) - curl) <= 1e-9 * curl);
    }
  }
}

BOOST_AUTO_TEST_CASE(van_loan_gram_matches_quadrature) {
  const AffineFlowCase g = validation::MakeG1(3, 0.0, 7u);
  Eigen::MatrixXd M = Eigen::MatrixXd::Zero(6, 6);
  M.topLeftCorner(3, 3) = -g.A.transpose();
  M.topRightCorner(3, 3) = Eigen::MatrixXd::Identity(3, 3);
  M.bottomRightCorner(3, 3) = g.A;
  const Eigen::MatrixXd E = M.exp();
  const Eigen::MatrixXd G = E.bottomRightCorner(3, 3).transpose() * E.topRightCorner(3, 3);
  BOOST_TEST((G - GramByQuadrature(g.A)).norm() <= 1e-10 * G.norm());
}

// G1, non-symmetric A: per-sample kinetic and curl integrals against their closed forms, the Monte Carlo means
// against E K, and the strict Benamou-Brenier inequalities.
BOOST_AUTO_TEST_CASE(g1_diagnostics_match_closed_forms_and_are_not_optimal) {
  for (const double base_time : {0.0, 1.0}) {
    const AffineFlowCase g = validation::MakeG1(2, base_time, 11u);
    const int n = 1500;
    const RowMatrixXd z = DrawStandardNormal(n, 2, 3);
    const FlowTransportDiagnostics r = ComputeFlowTransportDiagnostics(*g.field, g.base_time, z, Tight(), {});
    BOOST_REQUIRE(r.used == static_cast<std::size_t>(n));
    BOOST_REQUIRE(r.transport.usable());
    const Eigen::MatrixXd B = base_time == 0.0 ? g.A : Eigen::MatrixXd(-g.A);
    const Eigen::MatrixXd G = GramByQuadrature(B);
    const RowMatrixXd x = g.Samples(z);
    const double curl = (g.A - g.A.transpose()).squaredNorm();
    for (Eigen::Index i = 0; i < n; ++i) {
      const Eigen::VectorXd w = g.A * z.row(i).transpose() + g.b;
      const double K = w.dot(G * w);
      BOOST_TEST(std::abs(r.push.kinetic(i) - K) <= 1e-7 * K);
      BOOST_TEST(std::abs(r.push.curl(i) - curl) <= 1e-8 * curl);
      BOOST_TEST(std::abs(r.displacement_per_sample(i) - (x.row(i) - z.row(i)).squaredNorm()) <=
                 1e-8 * (1 + r.displacement_per_sample(i)));
      BOOST_TEST(r.push.kinetic(i) >= r.displacement_per_sample(i));  // Cauchy-Schwarz per trajectory
    }
    const validation::FlowTransportClosedForm cf = validation::TransportClosedForm(g);
    BOOST_TEST_MESSAGE("G1 base " << base_time << ": E K " << r.action.value << " +- " << r.action.standard_error
                                  << " (exact " << cf.action << "), E disp " << r.displacement.value << " +- "
                                  << r.displacement.standard_error << " (exact " << cf.displacement << "), W2^2 "
                                  << r.w2_squared.value << " +- " << r.w2_squared.standard_error << " (exact "
                                  << cf.w2_squared << "), curl " << r.curl.value << " (exact " << cf.curl << ")");
    BOOST_TEST(std::abs(r.action.value - cf.action) <= 4 * r.action.standard_error);
    BOOST_TEST(std::abs(r.displacement.value - cf.displacement) <= 4 * r.displacement.standard_error);
    BOOST_TEST(std::abs(r.curl.value - cf.curl) <= 1e-8 * cf.curl);
    BOOST_TEST(r.curl.standard_error <= 1e-8 * cf.curl);
    // The empirical W2^2 is at most the flow's coupling cost, and near the closed form (its bias is O(log n / n)
    // in 2-D, far below the standard error here).
    BOOST_TEST(r.w2_squared.value <= r.displacement.value * (1 + 1e-12));
    BOOST_TEST(std::abs(r.w2_squared.value - cf.w2_squared) <= 4 * r.w2_squared.standard_error);
    // Not optimal: E K > W2^2 by many standard errors, straightness < 1.
    BOOST_TEST(cf.action > cf.displacement);
    BOOST_TEST(cf.displacement > cf.w2_squared);
    const MeanEstimate gap = EstimateMean(r.push.kinetic - r.transport.u - r.transport.v);  // paired
    BOOST_TEST(std::abs(gap.value - (r.action.value - r.w2_squared.value)) <= 1e-9 * r.action.value);
    BOOST_TEST(gap.value > 4 * gap.standard_error);
    BOOST_TEST(r.straightness.value < 1 - 4 * r.straightness.standard_error);
    BOOST_TEST(std::abs(r.straightness.value - r.displacement.value / r.action.value) <= 1e-15);
  }
}

// G3, the optimal flow: K_i = ||T(z_i) - z_i||^2 per particle, curl 0, and the flow's pairing is the exact
// optimum of the empirical problem (T is the gradient of a convex function, so the pairing is cyclically monotone).
BOOST_AUTO_TEST_CASE(g3_optimal_flow_attains_every_equality) {
  const AffineFlowCase g = validation::MakeG3Standard(3, 21u);
  const int n = 400;
  const RowMatrixXd z = DrawStandardNormal(n, 3, 4);
  const FlowTransportDiagnostics r = ComputeFlowTransportDiagnostics(*g.field, g.base_time, z, Tight(), {});
  BOOST_REQUIRE(r.used == static_cast<std::size_t>(n));
  BOOST_REQUIRE(r.transport.usable());
  for (Eigen::Index i = 0; i < n; ++i) {
    BOOST_TEST(std::abs(r.push.kinetic(i) - r.displacement_per_sample(i)) <= 1e-8 * (1 + r.displacement_per_sample(i)));
    BOOST_TEST(std::abs(r.push.curl(i)) <= 1e-20);
  }
  BOOST_TEST(std::abs(r.w2_squared.value - r.displacement.value) <= 1e-9 * r.displacement.value);
  for (std::size_t k = 0; k < r.transport.rows.size(); ++k) BOOST_TEST(r.transport.rows[k] == r.transport.cols[k]);
  BOOST_TEST(std::abs(r.straightness.value - 1) <= 1e-8);
  const validation::FlowTransportClosedForm cf = validation::TransportClosedForm(g);
  BOOST_TEST(std::abs(cf.action - cf.w2_squared) <= 1e-12 * cf.action);
  BOOST_TEST(std::abs(r.action.value - cf.action) <= 4 * r.action.standard_error);
  BOOST_TEST(std::abs(r.w2_squared.value - cf.w2_squared) <= 4 * r.w2_squared.standard_error);
  // Optimal potentials paired by the flow sum to the pair costs, so the W2 standard error is the displacement's.
  BOOST_TEST(std::abs(r.w2_squared.standard_error - r.displacement.standard_error) <=
             1e-6 * r.displacement.standard_error);
}

BOOST_AUTO_TEST_CASE(mean_estimate_skips_failed_samples) {
  Eigen::VectorXd x(5);
  x << 1, 2, std::nan(""), 3, 4;
  const MeanEstimate e = EstimateMean(x);
  BOOST_TEST(e.value == 2.5);
  BOOST_TEST(std::abs(e.standard_error - std::sqrt(5.0 / 3 / 4)) <= 1e-15);
}

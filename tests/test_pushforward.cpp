#define BOOST_TEST_MODULE pushforward
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <iostream>
#include <stdexcept>
#include <string>

#include "gaussian_flows.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/functor_field.hpp"
#include "pushpull/pushforward.hpp"

using namespace pushpull;
using namespace pushpull::validation;

namespace {

struct Errors {
  double endpoint = 0;
  double logp = 0;
};

Errors DensityErrors(const AffineFlowCase& c, const PushforwardOptions& o, const RowMatrixXd& x) {
  const PushforwardResult r = ComputeDensity(*c.field, c.base_time, x, o);
  BOOST_REQUIRE_EQUAL(r.failed(), 0u);
  return {(r.endpoints - c.Latent(x)).cwiseAbs().maxCoeff(), (r.log_density - c.LogDensity(x)).cwiseAbs().maxCoeff()};
}

Errors SampleErrors(const AffineFlowCase& c, const PushforwardOptions& o, const RowMatrixXd& z) {
  const PushforwardResult r = PushSamples(*c.field, c.base_time, z, o);
  BOOST_REQUIRE_EQUAL(r.failed(), 0u);
  return {(r.endpoints - c.Samples(z)).cwiseAbs().maxCoeff(),
          (r.log_density - c.SampleLogDensity(z)).cwiseAbs().maxCoeff()};
}

PushforwardOptions Options(const std::string& method, double rtol) {
  PushforwardOptions o;
  o.ode.type = method;
  o.ode.rtol = rtol;
  o.ode.atol = rtol;
  o.batch_size = 16;
  o.threads = 1;
  return o;
}

// For each method: errors at three tolerances are below a multiple of the tolerance and fall as it falls.
void CheckConvergence(const AffineFlowCase& c, bool density) {
  const int d = static_cast<int>(c.Phi.rows());
  const RowMatrixXd pts = density ? c.Samples(DrawStandardNormal(40, d, 11)) : DrawStandardNormal(40, d, 12);
  const double scale = std::max(1.0, (density ? c.LogDensity(pts) : c.SampleLogDensity(pts)).cwiseAbs().maxCoeff());
  for (const std::string method : {"bdf", "adams", "dopri5", "esdirk"}) {
    std::vector<Errors> errors;
    for (double tol : {1e-4, 1e-6, 1e-8}) {
      const Errors e = density ? DensityErrors(c, Options(method, tol), pts) : SampleErrors(c, Options(method, tol), pts);
      BOOST_TEST_MESSAGE(c.name << " " << (density ? "density" : "sample") << " " << method << " tol " << tol
                                << ": endpoint " << e.endpoint << " logp " << e.logp);
      // The global error of a well-conditioned flow on [0, 1] stays within a multiple of the tolerance (relative to
      // the size of the log-density, which the quadrature error scales with).
      const double bound = 1000 * tol;
      BOOST_TEST(e.endpoint < bound, c.name << " " << method << " tol " << tol << " endpoint " << e.endpoint);
      BOOST_TEST(e.logp < bound * scale, c.name << " " << method << " tol " << tol << " logp " << e.logp);
      errors.push_back(e);
    }
    // Four decades tighter tolerance buys at least two decades smaller error, unless the error at the tightest
    // tolerance is already within 10x that tolerance (some methods integrate some cases almost exactly).
    const double floor = 10 * 1e-8;
    BOOST_TEST(errors[2].logp <= std::max(errors[0].logp / 100, floor * scale), c.name << " " << method);
    BOOST_TEST(errors[2].endpoint <= std::max(errors[0].endpoint / 100, floor), c.name << " " << method);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(g1_density_base_at_0) { CheckConvergence(MakeG1(3, 0.0, 1), true); }
BOOST_AUTO_TEST_CASE(g1_density_base_at_1_ffjord_convention) { CheckConvergence(MakeG1(3, 1.0, 2), true); }
BOOST_AUTO_TEST_CASE(g1_sampling) { CheckConvergence(MakeG1(4, 0.0, 3), false); }
BOOST_AUTO_TEST_CASE(g2_conditional_flow_matching) {
  CheckConvergence(MakeG2(2, 0.1, 4), true);
  CheckConvergence(MakeG2(5, 0.1, 5), false);
}
BOOST_AUTO_TEST_CASE(g5_rectified_flow_full_covariance) {
  CheckConvergence(MakeG5(3, 6), true);
  CheckConvergence(MakeG5(6, 7), false);
}

BOOST_AUTO_TEST_CASE(results_do_not_depend_on_thread_count) {
  const AffineFlowCase c = MakeG5(3, 21);
  const RowMatrixXd x = c.Samples(DrawStandardNormal(100, 3, 22));
  PushforwardOptions o = Options("bdf", 1e-7);
  o.batch_size = 8;
  o.kinetic = true;
  o.threads = 1;
  const PushforwardResult one = ComputeDensity(*c.field, c.base_time, x, o);
  o.threads = 3;
  const PushforwardResult three = ComputeDensity(*c.field, c.base_time, x, o);
  BOOST_TEST((one.log_density.array() == three.log_density.array()).all());
  BOOST_TEST((one.endpoints.array() == three.endpoints.array()).all());
  BOOST_TEST((one.kinetic.array() == three.kinetic.array()).all());
  BOOST_TEST(one.nfe == three.nfe);
}

BOOST_AUTO_TEST_CASE(batching_never_loosens_a_samples_accuracy) {
  const AffineFlowCase c = MakeG5(4, 31);
  const RowMatrixXd x = c.Samples(DrawStandardNormal(64, 4, 32));
  for (int batch : {1, 64}) {
    PushforwardOptions o = Options("dopri5", 1e-6);
    o.batch_size = batch;
    const PushforwardResult r = ComputeDensity(*c.field, c.base_time, x, o);
    const double err = (r.log_density - c.LogDensity(x)).cwiseAbs().maxCoeff();
    BOOST_TEST_MESSAGE("batch " << batch << " max logp error " << err);
    BOOST_TEST(err < 1e-4);
  }
}

BOOST_AUTO_TEST_CASE(hutchinson_estimates_are_unbiased_within_their_standard_error) {
  const AffineFlowCase c = MakeG1(4, 0.0, 41);
  const int n = 2000;
  const RowMatrixXd x = c.Samples(DrawStandardNormal(n, 4, 42));
  for (const std::string dist : {"rademacher", "gaussian"}) {
    PushforwardOptions o = Options("dopri5", 1e-8);
    o.trace_type = "hutchinson";
    o.trace_dist = dist;
    o.trace_probes = 2;
    o.seed = 7;
    const PushforwardResult r = ComputeDensity(*c.field, c.base_time, x, o);
    BOOST_REQUIRE_EQUAL(r.failed(), 0u);
    const Eigen::VectorXd err = r.log_density - c.LogDensity(x);
    const double mean = err.mean();
    const double sd = std::sqrt((err.array() - mean).square().sum() / (n - 1));
    const double se = sd / std::sqrt(static_cast<double>(n));
    BOOST_TEST_MESSAGE(dist << ": mean error " << mean << " sd " << sd << " se " << se);
    BOOST_TEST(sd > 1e-3);                    // the estimator is stochastic ...
    BOOST_TEST(std::abs(mean) < 4 * se);      // ... and unbiased
    // Same seed, same estimates: the probes are fixed per sample.
    const PushforwardResult again = ComputeDensity(*c.field, c.base_time, x, o);
    BOOST_TEST((again.log_density.array() == r.log_density.array()).all());
  }
}

BOOST_AUTO_TEST_CASE(kinetic_energy_of_a_constant_speed_flow) {
  // G2 with sigma_min = 1 is a pure translation by m1: every particle moves at speed |m1|, K = |m1|^2.
  const AffineFlowCase c = MakeG2(3, 1.0, 51);
  const RowMatrixXd z = DrawStandardNormal(10, 3, 52);
  PushforwardOptions o = Options("bdf", 1e-9);
  o.kinetic = true;
  o.frobenius = true;
  const PushforwardResult r = PushSamples(*c.field, c.base_time, z, o);
  BOOST_REQUIRE_EQUAL(r.failed(), 0u);
  const double expected = c.c.squaredNorm();
  BOOST_TEST((r.kinetic.array() - expected).abs().maxCoeff() < 1e-6 * expected);
  BOOST_TEST(r.frobenius.cwiseAbs().maxCoeff() < 1e-12);
}

BOOST_AUTO_TEST_CASE(a_failing_sample_is_reported_and_the_batch_continues) {
  // v = x^2 (1-D) blows up at t = 1/x0 for x0 > 0: samples starting at x0 = 2 cannot reach t = 1.
  AffineField unused(1, [](double) { return Eigen::MatrixXd::Zero(1, 1); },
                     [](double) { return Eigen::VectorXd::Zero(1); });
  struct Blowup : VectorField {
    int dim() const override { return 1; }
    std::string description() const override { return "x^2"; }
    void Evaluate(double, const BlockRef& x, RowMatrixXd& v) const override { v = x.array().square().matrix(); }
    void EvaluateJvp(double, const BlockRef& x, const BlockRef& dx, RowMatrixXd& v, RowMatrixXd& jv) const override {
      v = x.array().square().matrix();
      jv = (2 * x.array().replicate(1, dx.cols()) * dx.array()).matrix();
    }
  } field;
  RowMatrixXd z(4, 1);
  z << 0.1, 2.0, -0.5, 0.3;
  PushforwardOptions o = Options("bdf", 1e-6);
  o.batch_size = 4;
  o.ode.max_steps = 2000;
  const PushforwardResult r = PushSamples(field, 0.0, z, o);
  BOOST_TEST(r.failed() == 1u);
  BOOST_TEST(!r.status[1].usable());
  BOOST_TEST(r.status[1].computed());
  BOOST_TEST(!r.status[1].message.empty());
  BOOST_TEST_MESSAGE("failure message: " << r.status[1].message);
  BOOST_TEST(r.status[0].success());
  BOOST_TEST(r.status[0].message.empty());
  // The summary counts the statuses and carries the run's integrator totals.
  const RunSummary summary = r.Summary("sample");
  BOOST_TEST(summary.items == 4u);
  BOOST_TEST(summary.failed == 1u);
  BOOST_TEST_REQUIRE(summary.statuses.size() == 2u);
  BOOST_TEST(summary.statuses[0].name == "success");
  BOOST_TEST(summary.statuses[0].count == 3u);
  BOOST_TEST(summary.statuses[1].value == r.status[1].value);
  BOOST_TEST(summary.statuses[1].name == std::string(ToString(r.status[1].code())));
  BOOST_TEST(summary.statuses[1].count == 1u);
  BOOST_TEST(summary.ode.steps == r.totals.steps);
  BOOST_TEST(summary.ode.rhs_evals > 0);
  const std::string brief = summary.BriefReport();
  BOOST_TEST(brief.find("4 samples, 1 failed (" + summary.statuses[1].name + " 1)") != std::string::npos, brief);
  const std::string full = summary.FullReport();
  BOOST_TEST(full.find("sample 1: " + r.status[1].message) != std::string::npos, full);
  BOOST_TEST(full.find(std::to_string(r.totals.rhs_evals)) != std::string::npos, full);
  BOOST_TEST(std::abs(r.endpoints(0, 0) - 0.1 / (1 - 0.1)) < 1e-4);  // x(t) = x0 / (1 - x0 t)
  BOOST_TEST(std::abs(r.endpoints(2, 0) - (-0.5 / 1.5)) < 1e-4);
}

// v = x, written by a user whose code throws once x > 1 (in the right-hand side and in the Jacobian evaluations of
// the implicit methods): the samples that get there fail with the exception's message, the others finish.
struct ThrowingGrowth {
  static double ValueOf(double x) { return x; }
  template <class J>
  static double ValueOf(const J& x) {
    return x.a;
  }
  template <class T>
  void operator()(const T* x, const T&, T* v) const {
    if (ValueOf(x[0]) > 1.0) throw std::runtime_error("the user's field exploded");
    v[0] = x[0];
  }
};

BOOST_AUTO_TEST_CASE(an_exception_in_the_field_fails_its_sample_and_the_batch_continues) {
  const auto field = MakeFunctorField<1>(ThrowingGrowth{}, "throwing growth");
  RowMatrixXd z(4, 1);
  z << 0.1, 0.5, -0.3, 0.2;  // x(1) = e x0: only 0.5 passes x = 1
  for (const std::string method : {"bdf", "adams", "dopri5", "esdirk"}) {
    for (bool density : {false, true}) {
      PushforwardOptions o = Options(method, 1e-8);
      o.batch_size = 4;
      const PushforwardResult r = density ? ComputeDensity(*field, 1.0, z, o) : PushSamples(*field, 0.0, z, o);
      BOOST_TEST(r.failed() == 1u, method);
      BOOST_TEST(!r.status[1].usable(), method);
      BOOST_TEST(r.status[1].message.find("the user's field exploded") != std::string::npos,
                 method << ": " << r.status[1].message);
      for (int i : {0, 2, 3}) {
        BOOST_TEST_REQUIRE(r.status[static_cast<std::size_t>(i)].success(),
                           method << ": " << r.status[static_cast<std::size_t>(i)].message);
        // Samples pushed from t = 0 to 1, and data points at t = 0 (the base at t = 1): x0 e either way.
        const double expected = z(i, 0) * std::exp(1.0);
        BOOST_TEST(std::abs(r.endpoints(i, 0) - expected) < 1e-6, method << " sample " << i);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_inputs_are_refused) {
  const AffineFlowCase c = MakeG1(3, 0.0, 61);
  PushforwardOptions o = Options("bdf", 1e-6);
  BOOST_CHECK_THROW(ComputeDensity(*c.field, 0.0, RowMatrixXd::Zero(4, 2), o), InputError);
  RowMatrixXd x = RowMatrixXd::Zero(4, 3);
  x(2, 1) = std::nan("");
  BOOST_CHECK_THROW(ComputeDensity(*c.field, 0.0, x, o), InputError);
  BOOST_CHECK_THROW(ComputeDensity(*c.field, 0.5, RowMatrixXd::Zero(4, 3), o), InputError);
  o.ode.rtol = -1;
  BOOST_CHECK_THROW(ComputeDensity(*c.field, 0.0, RowMatrixXd::Zero(4, 3), o), InputError);
}

BOOST_AUTO_TEST_CASE(logdet_check_agrees_with_the_divergence_integral) {
  // Closed form: G5 (time-dependent), where both equal log|det Phi| of the flow map.
  const AffineFlowCase c = MakeG5(3, 71);
  const RowMatrixXd z = DrawStandardNormal(20, 3, 72);
  for (double tol : {1e-5, 1e-8}) {
    PushforwardOptions o = Options("dopri5", tol);
    o.logdet_check = true;
    const PushforwardResult r = PushSamples(*c.field, c.base_time, z, o);
    BOOST_REQUIRE_EQUAL(r.failed(), 0u);
    const double diff = r.logdet_difference.cwiseAbs().maxCoeff();
    const double vs_closed_form = (r.logdet.array() - c.log_det_phi).abs().maxCoeff();
    BOOST_TEST_MESSAGE("tol " << tol << ": |logdet - divergence integral| " << diff << ", |logdet - closed form| "
                              << vs_closed_form);
    BOOST_TEST(diff < 100 * tol);
    BOOST_TEST(vs_closed_form < 100 * tol);
  }
}

BOOST_AUTO_TEST_CASE(trajectories_follow_the_closed_form_path) {
  // G2: x_t = t m1 + sigma(t) z with sigma(t) = 1 - (1 - sigma_min) t.
  const double sigma_min = 0.1;
  const AffineFlowCase c = MakeG2(2, sigma_min, 81);
  const RowMatrixXd z = DrawStandardNormal(12, 2, 82);
  PushforwardOptions o = Options("bdf", 1e-9);
  o.save_times = {0.75, 0.0, 0.25, 1.0};  // unordered on purpose
  const PushforwardResult r = PushSamples(*c.field, c.base_time, z, o);
  BOOST_REQUIRE_EQUAL(r.failed(), 0u);
  const std::size_t T = o.save_times.size();
  double worst = 0;
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    for (std::size_t k = 0; k < T; ++k) {
      const double t = o.save_times[k];
      for (int j = 0; j < 2; ++j) {
        const double expected = t * c.c(j) + (1 - (1 - sigma_min) * t) * z(i, j);
        worst = std::max(worst, std::abs(r.trajectories[(static_cast<std::size_t>(i) * T + k) * 2 + j] - expected));
      }
    }
  }
  BOOST_TEST(worst < 1e-6);
}

BOOST_AUTO_TEST_CASE(gmres_linear_solver_matches_the_closed_form) {
  // Matrix-free GMRES on exact Jacobian-vector products with the block-Jacobi preconditioner, for both implicit
  // methods, at two tolerances.
  const AffineFlowCase c = MakeG5(4, 91);
  const RowMatrixXd x = c.Samples(DrawStandardNormal(30, 4, 92));
  for (const std::string method : {"bdf", "esdirk"}) {
    std::vector<double> errors;
    for (double tol : {1e-5, 1e-9}) {
      PushforwardOptions o = Options(method, tol);
      o.ode.linear_solver = "gmres";
      const Errors e = DensityErrors(c, o, x);
      BOOST_TEST_MESSAGE(method << " gmres tol " << tol << ": logp " << e.logp << " endpoint " << e.endpoint);
      BOOST_TEST(e.logp < 1000 * tol);
      errors.push_back(e.logp);
    }
    BOOST_TEST(errors[1] < errors[0] / 100, method);
  }
}

BOOST_AUTO_TEST_CASE(research_code_registers_its_own_trace_estimator) {
  // A user estimator: the exact divergence through the field's Jacobian (a stand-in for, e.g., a variance-reduced
  // estimator). Selected by name like the built-in ones.
  struct JacobianTrace : TraceEstimator {
    void Evaluate(const VectorField& field, double t, const BlockRef& x, RowMatrixXd& v, Eigen::VectorXd& div,
                  Eigen::VectorXd*) override {
      RowMatrixXd jac;
      field.EvaluateJacobian(t, x, v, jac);
      const int d = field.dim();
      div.resize(x.rows());
      for (Eigen::Index i = 0; i < x.rows(); ++i) {
        div(i) = 0;
        for (int r = 0; r < d; ++r) div(i) += jac(i, r * d + r);
      }
    }
  };
  TraceEstimators().Register("jacobian_trace", "test estimator", [] { return std::make_unique<JacobianTrace>(); });
  const AffineFlowCase c = MakeG5(3, 101);
  const RowMatrixXd x = c.Samples(DrawStandardNormal(10, 3, 102));
  PushforwardOptions o = Options("dopri5", 1e-9);
  o.trace_type = "jacobian_trace";
  const Errors e = DensityErrors(c, o, x);
  BOOST_TEST(e.logp < 1e-6);
  o.trace_type = "no_such_estimator";
  BOOST_CHECK_THROW(ComputeDensity(*c.field, c.base_time, x, o), InputError);
}

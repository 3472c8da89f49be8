// The transport cases of `pushpull validate` (docs/transport.md, "Validation"): exact OT against brute force and
// the 1-D monotone coupling, the empirical W2^2 of Gaussian samples against the closed form, the MMD^2 estimator
// against its closed form (bias, variance estimate, permutation level), and the flow-versus-OT diagnostics of G1
// and G3 against theirs.
//
// Every pass threshold is an explicit constant below or stated where the check is made.
#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>
#include <numeric>
#include <random>
#include <sstream>

#include "gaussian_flows.hpp"
#include "pushpull/flow_transport.hpp"
#include "pushpull/optimal_transport.hpp"
#include "pushpull/two_sample.hpp"
#include "validation.hpp"

namespace pushpull::validation {
namespace {

// --- Pass thresholds ------------------------------------------------------------------------------------------
// Exact solvers against brute force / each other: relative to the cost scale (round-off of sums of n costs).
constexpr double kExactRelTol = 1e-11;
// Statistical agreement: within this many standard errors.
constexpr double kStandardErrors = 4.0;
// The MMD^2 variance estimate against the spread over replicates (relative), from the issue.
constexpr double kVarianceBand = 0.15;
// Integration tolerance (rtol = atol) of the flow diagnostics cases, and the per-trajectory agreement demanded of
// quantities that are exact per particle (K_i = ||T(z_i) - z_i||^2 for G3, the curl of G1): this times it.
constexpr double kFlowTolerance = 1e-9;
constexpr double kAccuracyFactor = 100.0;

std::string Fmt(double v) {
  std::ostringstream s;
  s.precision(4);
  s << v;
  return s.str();
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

PointMatrix Normal(int n, const Eigen::VectorXd& mean, const Eigen::MatrixXd& cov_sqrt, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  const Eigen::Index d = mean.size();
  PointMatrix x(n, d);
  for (int i = 0; i < n; ++i) {
    Eigen::VectorXd z(d);
    for (Eigen::Index j = 0; j < d; ++j) z(j) = normal(rng);
    x.row(i) = (mean + cov_sqrt * z).transpose();
  }
  return x;
}

// A "band" check: passes when |value| <= threshold (value may be signed).
Check AbsCheck(std::string name, std::string method, double value, double threshold, std::string detail) {
  return MakeCheck(std::move(name), std::move(method), 0, std::abs(value), "<=", threshold, std::move(detail));
}

// ---- OT-exact --------------------------------------------------------------------------------------------------

double BruteForce(const PointMatrix& C) {
  const Eigen::Index n = C.rows();
  std::vector<int> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  double best = INFINITY;
  do {
    double s = 0;
    for (Eigen::Index i = 0; i < n; ++i) s += C(i, p[static_cast<std::size_t>(i)]);
    best = std::min(best, s);
  } while (std::next_permutation(p.begin(), p.end()));
  return best / static_cast<double>(n);
}

void RunExact(CaseReport& report, const Settings& settings) {
  std::mt19937_64 rng(settings.seed + 101);
  const bool full = settings.level == "full";
  for (const std::string cost_name : {"sqeuclidean", "euclidean"}) {
    const TransportCost cost = ParseTransportCost(cost_name);
    // Brute force over permutations for n <= 7 (8 on the full level), both solvers.
    for (const std::string solver : {"assignment", "network_simplex"}) {
      const auto t0 = std::chrono::steady_clock::now();
      double worst = 0, worst_gap = 0, worst_violation = 0;
      int failed = 0, instances = 0;
      for (int n = 2; n <= (full ? 8 : 7); ++n) {
        for (int rep = 0; rep < (full ? 5 : 3); ++rep) {
          const int d = 1 + (rep % 3);
          const PointMatrix x = Normal(n, Eigen::VectorXd::Zero(d), Eigen::MatrixXd::Identity(d, d), rng);
          const PointMatrix y = Normal(n, Eigen::VectorXd::Constant(d, 0.5), Eigen::MatrixXd::Identity(d, d), rng);
          ExactTransportOptions o;
          o.cost = cost_name;
          o.solver = solver;
          o.threads = 1;
          const ExactTransportResult r = SolveExactTransport(x, y, {}, {}, o);
          ++instances;
          if (!r.usable()) {
            ++failed;
            continue;
          }
          const PointMatrix C = TransportCostMatrix(x, y, cost, 1);
          const double scale = r.certificate.cost_scale;
          worst = std::max(worst, std::abs(r.cost - BruteForce(C)) / scale);
          worst_gap = std::max(worst_gap, r.certificate.duality_gap / scale);
          worst_violation = std::max(worst_violation, r.certificate.max_reduced_cost_violation / scale);
        }
      }
      SweepRow row;
      row.method = solver;
      row.kind = std::string("brute force, ") + cost_name;
      row.dimension = 3;
      row.failed = failed;
      row.Set("max_rel_cost_error", worst);
      row.Set("max_rel_duality_gap", std::max(worst_gap, worst_violation));
      row.seconds = Seconds(t0);
      report.sweep.push_back(row);
      const std::string what = std::to_string(instances) + " instances, n = 2.." + (full ? "8" : "7") + ", " +
                               cost_name;
      report.checks.push_back(MakeCheck("solves succeed (" + cost_name + ")", solver, 0, failed, "<=", 0, what));
      report.checks.push_back(MakeCheck("cost = brute force over permutations (" + cost_name + ")", solver, 0, worst,
                                        "<=", kExactRelTol, "max |cost - brute force| / max C over " + what));
      report.checks.push_back(MakeCheck("certificate: duality gap and reduced-cost violation (" + cost_name + ")",
                                        solver, 0, std::max(worst_gap, worst_violation), "<=", kExactRelTol,
                                        "relative to max C, " + what));
    }
    // 1-D: the sorted matching is optimal for a convex cost; both solvers at larger n, and against each other.
    const int n = full ? 1000 : 200;
    const PointMatrix x = Normal(n, Eigen::VectorXd::Zero(1), Eigen::MatrixXd::Identity(1, 1), rng);
    const PointMatrix y = Normal(n, Eigen::VectorXd::Constant(1, 1.0), Eigen::MatrixXd::Constant(1, 1, 0.5), rng);
    std::vector<double> xs(x.data(), x.data() + n), ys(y.data(), y.data() + n);
    std::sort(xs.begin(), xs.end());
    std::sort(ys.begin(), ys.end());
    double sorted = 0;
    for (int i = 0; i < n; ++i) {
      const double g = std::abs(xs[static_cast<std::size_t>(i)] - ys[static_cast<std::size_t>(i)]);
      sorted += (cost == TransportCost::kEuclidean ? g : g * g) / n;
    }
    double costs[2] = {0, 0};
    int k = 0;
    for (const std::string solver : {"assignment", "network_simplex"}) {
      const auto t0 = std::chrono::steady_clock::now();
      ExactTransportOptions o;
      o.cost = cost_name;
      o.solver = solver;
      const ExactTransportResult r = SolveExactTransport(x, y, {}, {}, o);
      costs[k++] = r.usable() ? r.cost : std::nan("");
      const double err = std::abs(r.cost - sorted) / r.certificate.cost_scale;
      SweepRow row;
      row.method = solver;
      row.kind = std::string("1-D sorted, ") + cost_name;
      row.dimension = 1;
      row.failed = r.usable() ? 0 : 1;
      row.Set("max_rel_cost_error", r.usable() ? err : INFINITY);
      row.Set("max_rel_duality_gap", r.certificate.duality_gap / r.certificate.cost_scale);
      row.seconds = Seconds(t0);
      report.sweep.push_back(row);
      report.checks.push_back(MakeCheck("1-D cost = sorted matching (" + cost_name + ")", solver, 0,
                                        r.usable() ? err : INFINITY, "<=", kExactRelTol,
                                        "n = " + std::to_string(n) + ", relative to max C"));
    }
    report.checks.push_back(MakeCheck("assignment = network simplex, 1-D (" + cost_name + ")", "network_simplex", 0,
                                      std::abs(costs[0] - costs[1]) / std::max(costs[0], 1e-300), "<=",
                                      kExactRelTol, "relative difference, n = " + std::to_string(n)));
  }
}

// ---- OT-sinkhorn ------------------------------------------------------------------------------------------------

// The debiased Sinkhorn divergence tends to the exact W2^2 of the same points as epsilon falls.
void RunSinkhorn(CaseReport& report, const Settings& settings) {
  const bool full = settings.level == "full";
  const int n = full ? 300 : 120;
  std::mt19937_64 rng(settings.seed + 404);
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  PointMatrix x(n, 2), y(n, 2);
  for (int i = 0; i < n; ++i) {
    x(i, 0) = unif(rng);
    x(i, 1) = unif(rng);
    y(i, 0) = unif(rng) + 0.3;
    y(i, 1) = unif(rng);
  }
  const ExactTransportResult exact = SolveExactTransport(x, y, {}, {}, {});
  const std::vector<double> epsilons = full ? std::vector<double>{1e-1, 3e-2, 1e-2, 3e-3, 1e-3}
                                            : std::vector<double>{1e-1, 3e-2, 1e-2, 3e-3};
  double previous = INFINITY;
  bool decreasing = true;
  for (const double eps : epsilons) {
    const auto t0 = std::chrono::steady_clock::now();
    SinkhornOptions o;
    o.epsilon = eps;
    o.max_iterations = 50000;
    const SinkhornResult r = SolveSinkhorn(x, y, {}, {}, o);
    const double err = std::abs(r.divergence - exact.cost) / exact.cost;
    decreasing = decreasing && err < previous;
    previous = err;
    SweepRow row;
    row.method = "sinkhorn";
    row.kind = "S_eps, eps = " + Fmt(eps);
    row.dimension = 2;
    row.tolerance = eps;
    row.failed = r.usable() ? 0 : 1;
    row.Set("estimate", r.divergence);
    row.Set("closed_form", exact.cost);
    row.Set("max_rel_cost_error", err);
    row.seconds = Seconds(t0);
    report.sweep.push_back(row);
    report.checks.push_back(MakeCheck("Sinkhorn converges (eps = " + Fmt(eps) + ")", "sinkhorn", eps,
                                      r.usable() ? r.xy.marginal_violation : INFINITY, "<=", o.tol,
                                      "L1 marginal violation of OT_eps(a, b) within 50000 iterations, n = " +
                                          std::to_string(n) + (r.usable() ? "" : ": " + r.message)));
  }
  report.checks.push_back(MakeCheck("|S_eps - W2^2| falls with eps", "sinkhorn", 0, decreasing ? 0 : 1, "<=", 0,
                                    "relative error at each eps below the one at the previous, larger eps"));
  // The agreement demanded at the smallest eps: 2% at eps = 3e-3 (quick), 1% at eps = 1e-3 (full); W2^2 is about
  // 0.07 here, so eps / W2^2 is 4% and 1.4%.
  const double band = full ? 0.01 : 0.02;
  report.checks.push_back(MakeCheck("S_eps = exact W2^2 at the smallest eps", "sinkhorn", 0, previous, "<=", band,
                                    "relative error at eps = " + Fmt(epsilons.back()) + "; exact W2^2 " +
                                        Fmt(exact.cost) + " (assignment)"));
  report.checks.push_back(MakeCheck("the exact reference is certified", "sinkhorn", 0,
                                    exact.usable() ? exact.certificate.duality_gap / exact.certificate.cost_scale
                                                   : INFINITY,
                                    "<=", kExactRelTol, "duality gap / max C of the assignment"));
}

// ---- OT-gaussian-w2 --------------------------------------------------------------------------------------------

Eigen::MatrixXd SpdSqrt(const Eigen::MatrixXd& S) {
  return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(S).operatorSqrt();
}

void RunGaussianW2(CaseReport& report, const Settings& settings) {
  const int d = 2;
  Eigen::VectorXd m1(d), m2(d);
  m1 << 0.0, 0.0;
  m2 << 1.0, -0.5;
  Eigen::MatrixXd S1(d, d), S2(d, d);
  S1 << 1.0, 0.3, 0.3, 0.8;
  S2 << 0.6, -0.2, -0.2, 1.5;
  const Eigen::MatrixXd S1h = SpdSqrt(S1);
  const double exact = (m1 - m2).squaredNorm() + (S1 + S2 - 2 * SpdSqrt(S1h * S2 * S1h)).trace();
  const std::vector<int> sizes = settings.level == "full" ? std::vector<int>{250, 500, 1000, 2000}
                                                          : std::vector<int>{200, 400, 800};
  const int replicates = 4;
  std::mt19937_64 rng(settings.seed + 202);
  std::vector<double> log_n, log_err;
  for (const int n : sizes) {
    const auto t0 = std::chrono::steady_clock::now();
    double mean_abs = 0, worst_z = 0, mean_value = 0, mean_se = 0;
    int failed = 0;
    for (int rep = 0; rep < replicates; ++rep) {
      const PointMatrix x = Normal(n, m1, S1h, rng);
      const PointMatrix y = Normal(n, m2, SpdSqrt(S2), rng);
      const ExactTransportResult r = SolveExactTransport(x, y, {}, {}, {});
      if (!r.usable()) {
        ++failed;
        continue;
      }
      // Two independent samples: Var ~ Var u(X) / n + Var v(Y) / m (del Barrio and Loubes 2019).
      const double su = EstimateMean(r.u).standard_error, sv = EstimateMean(r.v).standard_error;
      const double se = std::sqrt(su * su + sv * sv);
      mean_abs += std::abs(r.cost - exact) / replicates;
      mean_value += r.cost / replicates;
      mean_se += se / replicates;
      worst_z = std::max(worst_z, std::abs(r.cost - exact) / se);
    }
    SweepRow row;
    row.method = "assignment";
    row.kind = "W2^2 of samples";
    row.dimension = d;
    row.failed = failed;
    row.Set("estimate", mean_value);
    row.Set("closed_form", exact);
    row.Set("standard_error", mean_se);
    row.Set("mean_abs_error", mean_abs);
    row.Set("error_in_standard_errors", worst_z);
    row.Set("points", n);
    row.seconds = Seconds(t0);
    report.sweep.push_back(row);
    log_n.push_back(std::log(n));
    log_err.push_back(std::log(mean_abs));
    report.checks.push_back(MakeCheck("solves succeed", "assignment", 0, failed, "<=", 0, "n = " + std::to_string(n)));
    report.checks.push_back(MakeCheck("empirical W2^2 = closed form within 4 SE (n = " + std::to_string(n) + ")",
                                      "assignment", 0, worst_z, "<=", kStandardErrors,
                                      "worst |W2^2_n - W2^2| / SE over " + std::to_string(replicates) +
                                          " replicates; W2^2 = " + Fmt(exact)));
  }
  // The rate: least-squares slope of log(mean |error|) against log n (reported; about -1/2 expected).
  const double mx = std::accumulate(log_n.begin(), log_n.end(), 0.0) / log_n.size();
  const double my = std::accumulate(log_err.begin(), log_err.end(), 0.0) / log_err.size();
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < log_n.size(); ++i) {
    sxy += (log_n[i] - mx) * (log_err[i] - my);
    sxx += (log_n[i] - mx) * (log_n[i] - mx);
  }
  const double slope = sxy / sxx;
  report.checks.push_back(MakeCheck("error falls as n grows (rate reported)", "assignment", 0, slope, "<=", 0,
                                    "fitted slope of log mean |W2^2_n - W2^2| against log n = " + Fmt(slope) +
                                        " (n^-1/2 expected from the fluctuations)"));
}

// ---- MMD-gaussian ----------------------------------------------------------------------------------------------

// Folded-normal mean E|N(mu, s^2)|.
double FoldedMean(double mu, double s) {
  return s * std::sqrt(2 / std::numbers::pi) * std::exp(-mu * mu / (2 * s * s)) +
         mu * (1 - 2 * 0.5 * std::erfc(mu / (s * std::sqrt(2.0))));
}

void RunMmd(CaseReport& report, const Settings& settings) {
  const bool full = settings.level == "full";
  const int d = 2;
  Eigen::VectorXd m1 = Eigen::VectorXd::Zero(d), m2(d);
  m2 << 0.4, 0.0;
  Eigen::MatrixXd S1 = Eigen::MatrixXd::Identity(d, d), S2(d, d);
  S2 << 1.3, 0.2, 0.2, 0.9;
  std::mt19937_64 rng(settings.seed + 303);
  // Unbiasedness and the variance estimate: R replicates at n = 120, m = 150, bandwidths 0.5, 1, 2 (fixed centre 1).
  {
    const auto t0 = std::chrono::steady_clock::now();
    const int R = full ? 1600 : 800, n = 120, m = 150;
    TwoSampleOptions o;
    o.bandwidth = 1.0;
    o.bandwidth_levels = 1;
    o.permutations = 0;
    o.energy = false;
    o.threads = 1;
    const int L = 3;
    std::vector<Eigen::VectorXd> values(L, Eigen::VectorXd(R)), variances(L, Eigen::VectorXd(R));
    std::vector<double> h(L);
    for (int r = 0; r < R; ++r) {
      const PointMatrix x = Normal(n, m1, S1, rng), y = Normal(m, m2, SpdSqrt(S2), rng);
      const TwoSampleResult t = CompareSamples(x, y, o);
      for (int l = 0; l < L; ++l) {
        values[l](r) = t.mmd[static_cast<std::size_t>(l)].value;
        variances[l](r) = t.mmd[static_cast<std::size_t>(l)].variance;
        h[l] = t.mmd[static_cast<std::size_t>(l)].bandwidth;
      }
    }
    for (int l = 0; l < L; ++l) {
      const double exact = GaussianMmd2(m1, S1, m2, S2, h[l]);
      const MeanEstimate mean = EstimateMean(values[l]);
      const double spread = (values[l].array() - mean.value).square().sum() / (R - 1);
      const double estimated = variances[l].mean();
      SweepRow row;
      row.method = "u-statistic";
      row.kind = "MMD^2, h = " + Fmt(h[l]);
      row.dimension = d;
      row.Set("estimate", mean.value);
      row.Set("closed_form", exact);
      row.Set("standard_error", mean.standard_error);
      row.Set("error_in_standard_errors", std::abs(mean.value - exact) / mean.standard_error);
      row.Set("variance_ratio", estimated / spread);
      row.seconds = Seconds(t0) / L;
      report.sweep.push_back(row);
      report.checks.push_back(MakeCheck("MMD^2 unbiased (h = " + Fmt(h[l]) + ")", "u-statistic", 0,
                                        std::abs(mean.value - exact) / mean.standard_error, "<=", kStandardErrors,
                                        "|mean over " + std::to_string(R) + " replicates - closed form " +
                                            Fmt(exact) + "| / SE"));
      // The spread's own relative standard error is sqrt(2 / (R - 1)) (about 5% at R = 800).
      report.checks.push_back(AbsCheck("variance estimate = spread over replicates (h = " + Fmt(h[l]) + ")",
                                       "u-statistic", estimated / spread - 1, kVarianceBand,
                                       "mean estimated variance " + Fmt(estimated) + " against the spread " +
                                           Fmt(spread) + " (relative difference)"));
    }
  }
  // The energy distance in 1-D against its closed form.
  {
    const auto t0 = std::chrono::steady_clock::now();
    const int R = full ? 800 : 400, n = 100, m = 80;
    const double a = 0.0, sa = 1.0, b = 0.5, sb = 1.4;
    const double exact =
        2 * FoldedMean(a - b, std::sqrt(sa * sa + sb * sb)) - FoldedMean(0, std::sqrt(2.0) * sa) -
        FoldedMean(0, std::sqrt(2.0) * sb);
    TwoSampleOptions o;
    o.bandwidth = 1.0;
    o.bandwidth_levels = 0;
    o.permutations = 0;
    o.threads = 1;
    Eigen::VectorXd values(R);
    for (int r = 0; r < R; ++r) {
      const PointMatrix x = Normal(n, Eigen::VectorXd::Constant(1, a), Eigen::MatrixXd::Constant(1, 1, sa), rng);
      const PointMatrix y = Normal(m, Eigen::VectorXd::Constant(1, b), Eigen::MatrixXd::Constant(1, 1, sb), rng);
      values(r) = CompareSamples(x, y, o).energy.value;
    }
    const MeanEstimate mean = EstimateMean(values);
    SweepRow row;
    row.method = "u-statistic";
    row.kind = "energy distance";
    row.dimension = 1;
    row.Set("estimate", mean.value);
    row.Set("closed_form", exact);
    row.Set("standard_error", mean.standard_error);
    row.Set("error_in_standard_errors", std::abs(mean.value - exact) / mean.standard_error);
    row.seconds = Seconds(t0);
    report.sweep.push_back(row);
    report.checks.push_back(MakeCheck("energy distance unbiased (1-D)", "u-statistic", 0,
                                      std::abs(mean.value - exact) / mean.standard_error, "<=", kStandardErrors,
                                      "closed form " + Fmt(exact) + ", " + std::to_string(R) + " replicates"));
  }
  // The permutation test holds its level under the null: rejections at alpha = 0.1 within 4 binomial SE.
  {
    const auto t0 = std::chrono::steady_clock::now();
    const int R = full ? 400 : 150, n = 30;
    TwoSampleOptions o;
    o.bandwidth_levels = 0;
    o.permutations = 99;
    o.threads = 1;
    const double alpha = 0.1;
    int rejected_mmd = 0, rejected_energy = 0;
    for (int r = 0; r < R; ++r) {
      const PointMatrix x = Normal(n, m1, S1, rng), y = Normal(n, m1, S1, rng);
      o.seed = static_cast<std::int64_t>(settings.seed % 100000) + r;
      const TwoSampleResult t = CompareSamples(x, y, o);
      rejected_mmd += t.mmd[0].p_value <= alpha;
      rejected_energy += t.energy.p_value <= alpha;
    }
    const double se = std::sqrt(alpha * (1 - alpha) / R);
    for (const auto& [name, rejected] : {std::pair<std::string, int>{"MMD^2", rejected_mmd},
                                         std::pair<std::string, int>{"energy", rejected_energy}}) {
      const double rate = static_cast<double>(rejected) / R;
      SweepRow row;
      row.method = "permutation";
      row.kind = name + " under the null";
      row.dimension = d;
      row.Set("rejection_rate", rate);
      row.Set("error_in_standard_errors", std::abs(rate - alpha) / se);
      row.seconds = Seconds(t0) / 2;
      report.sweep.push_back(row);
      report.checks.push_back(MakeCheck("permutation test level (" + name + ")", "permutation", 0,
                                        std::abs(rate - alpha) / se, "<=", kStandardErrors,
                                        "rejection rate " + Fmt(rate) + " at alpha = 0.1 over " + std::to_string(R) +
                                            " null replicates (n = m = 30, 99 permutations)"));
    }
  }
}

// ---- FLOW-OT-G1, FLOW-OT-G3 ------------------------------------------------------------------------------------

void RunFlow(CaseReport& report, const Settings& settings, bool optimal) {
  const bool full = settings.level == "full";
  const std::vector<int> dims = full ? std::vector<int>{2, 3, 5} : std::vector<int>{2, 3};
  const std::string method = settings.methods.empty() ? "dopri5" : settings.methods.back();
  for (const int d : dims) {
    const auto t0 = std::chrono::steady_clock::now();
    const unsigned seed = static_cast<unsigned>(settings.seed + 31u * static_cast<unsigned>(d));
    AffineFlowCase g = optimal ? MakeG3Standard(d, seed) : MakeG1(d, 0.0, seed);
    const FlowTransportClosedForm cf = TransportClosedForm(g);
    if (settings.wrap_field) g.field = settings.wrap_field(std::move(g.field));
    const VectorField* field = g.field.get();
    const int n = full ? 2000 : 400;
    PushforwardOptions o = settings.solver;
    o.ode.type = method;
    o.ode.rtol = o.ode.atol = kFlowTolerance;
    const RowMatrixXd z = DrawStandardNormal(static_cast<std::size_t>(n), d, settings.seed + 5);
    const FlowTransportDiagnostics r = ComputeFlowTransportDiagnostics(*field, g.base_time, z, o, {});
    SweepRow row;
    row.method = method;
    row.kind = optimal ? "G3 diagnostics" : "G1 diagnostics";
    row.dimension = d;
    row.tolerance = kFlowTolerance;
    row.failed = static_cast<int>(r.samples - r.used) + (r.transport.usable() ? 0 : 1);
    row.Set("action", r.action.value);
    row.Set("action_closed_form", cf.action);
    row.Set("displacement", r.displacement.value);
    row.Set("w2_squared", r.w2_squared.value);
    row.Set("w2_squared_closed_form", cf.w2_squared);
    row.Set("straightness", r.straightness.value);
    row.Set("curl", r.curl.value);
    row.Set("curl_closed_form", cf.curl);
    row.seconds = Seconds(t0);
    report.sweep.push_back(row);
    const std::string dim = " (d = " + std::to_string(d) + ")";
    auto within = [&](const std::string& name, const MeanEstimate& e, double exact) {
      report.checks.push_back(MakeCheck(name + " = closed form within 4 SE" + dim, method, kFlowTolerance,
                                        std::abs(e.value - exact) / e.standard_error, "<=", kStandardErrors,
                                        Fmt(e.value) + " +- " + Fmt(e.standard_error) + " against " + Fmt(exact) +
                                            ", n = " + std::to_string(n)));
    };
    report.checks.push_back(MakeCheck("integrations and the exact OT succeed" + dim, method, kFlowTolerance,
                                      row.failed, "<=", 0, std::to_string(r.used) + " of " + std::to_string(n)));
    within("E K", r.action, cf.action);
    within("E ||T(z) - z||^2", r.displacement, cf.displacement);
    if (optimal || d == 2) {
      // G3: the flow's pairing is optimal, so W2^2_n is the mean displacement, unbiased. Otherwise the standard
      // error leaves out the bias of the empirical W2^2, which is below it only in 2-D (O(log n / n)); in d >= 3 it
      // decays like n^(-2/d) and is reported, not tested.
      within("empirical W2^2", r.w2_squared, cf.w2_squared);
    }
    report.checks.push_back(MakeCheck("empirical W2^2 <= mean displacement" + dim, method, kFlowTolerance,
                                      r.w2_squared.value - r.displacement.value, "<=",
                                      kExactRelTol * r.displacement.value,
                                      "W2^2_n " + Fmt(r.w2_squared.value) + " (closed form W2^2 " +
                                          Fmt(cf.w2_squared) + "), mean displacement " +
                                          Fmt(r.displacement.value)));
    double worst_pair = 0;  // per trajectory: K_i >= D_i (= for G3)
    for (Eigen::Index i = 0; i < n; ++i) {
      const double K = r.push.kinetic(i), D = r.displacement_per_sample(i);
      worst_pair = std::max(worst_pair, optimal ? std::abs(K - D) / (1 + D) : std::max(0.0, D - K) / (1 + D));
    }
    report.checks.push_back(MakeCheck(std::string(optimal ? "K_i = ||T(z_i) - z_i||^2" : "K_i >= ||T(z_i) - z_i||^2") +
                                          " per trajectory" + dim,
                                      method, kFlowTolerance, worst_pair, "<=", kAccuracyFactor * kFlowTolerance,
                                      "worst relative violation over the trajectories"));
    if (optimal) {
      report.checks.push_back(MakeCheck("curl integral = 0" + dim, method, kFlowTolerance, r.curl.value, "<=",
                                        kAccuracyFactor * kFlowTolerance, "mean int ||J - J^T||_F^2 dt"));
      report.checks.push_back(MakeCheck(
          "flow pairing optimal: empirical W2^2 = mean displacement" + dim, method, kFlowTolerance,
          std::abs(r.w2_squared.value - r.displacement.value) / r.displacement.value, "<=", kExactRelTol * 100,
          "T is the gradient of a convex function: the identity pairing is cyclically monotone"));
    } else {
      report.checks.push_back(MakeCheck("curl integral = ||A - A^T||_F^2" + dim, method, kFlowTolerance,
                                        std::abs(r.curl.value - cf.curl) / cf.curl, "<=",
                                        kAccuracyFactor * kFlowTolerance, "relative error, exact " + Fmt(cf.curl)));
      // Paired: W2^2_n = mean_i (u_i + v_i) exactly (strong duality), so E K - W2^2 is estimated by the mean of
      // K_i - u_i - v_i, whose standard error removes the common fluctuation of the two.
      MeanEstimate gap;
      if (r.transport.usable() && r.used == r.samples) {
        gap = EstimateMean(r.push.kinetic - r.transport.u - r.transport.v);
      }
      report.checks.push_back(MakeCheck("E K > W2^2 (not optimal)" + dim, method, kFlowTolerance,
                                        gap.value / gap.standard_error, ">=", kStandardErrors,
                                        "mean of K_i - u_i - v_i = " + Fmt(gap.value) + " +- " +
                                            Fmt(gap.standard_error) + " in SE; closed forms " + Fmt(cf.action) +
                                            " > " + Fmt(cf.w2_squared)));
    }
  }
}

class TransportCase : public Case {
 public:
  TransportCase(std::string name, std::string description, std::function<void(CaseReport&, const Settings&)> run)
      : name_(std::move(name)), description_(std::move(description)), run_(std::move(run)) {}
  std::string description() const override { return description_; }
  CaseReport Run(const Settings& settings) override {
    CaseReport report;
    report.name = name_;
    report.description = description_;
    run_(report, settings);
    return report;
  }

 private:
  std::string name_, description_;
  std::function<void(CaseReport&, const Settings&)> run_;
};

}  // namespace

void RegisterTransportCases(Registry<Case>& registry) {
  struct Spec {
    std::string name, description;
    std::function<void(CaseReport&, const Settings&)> run;
  };
  const std::vector<Spec> specs = {
      {"OT-exact", "exact OT: assignment and network simplex against brute force over permutations and the 1-D "
                   "sorted matching, with their certificates",
       RunExact},
      {"OT-sinkhorn", "the debiased Sinkhorn divergence tends to the exact W2^2 of the same points as eps falls",
       RunSinkhorn},
      {"OT-gaussian-w2", "empirical W2^2 between samples of two 2-D Gaussians against the closed form as n grows",
       RunGaussianW2},
      {"MMD-gaussian", "MMD^2 and energy distance U-statistics against their Gaussian closed forms; variance "
                       "estimates; permutation test level under the null",
       RunMmd},
      {"FLOW-OT-G3", "flow-versus-OT diagnostics of the optimal (McCann) flow G3: E K = E||T(z) - z||^2 = W2^2, "
                     "curl 0",
       [](CaseReport& r, const Settings& s) { RunFlow(r, s, true); }},
      {"FLOW-OT-G1", "flow-versus-OT diagnostics of G1 (non-symmetric A): E K, curl ||A - A^T||_F^2, E K > W2^2",
       [](CaseReport& r, const Settings& s) { RunFlow(r, s, false); }},
  };
  for (const auto& s : specs) {
    registry.Register(s.name, s.description, [s]() -> std::unique_ptr<Case> {
      auto c = std::make_unique<TransportCase>(s.name, s.description, s.run);
      return c;
    });
  }
}

}  // namespace pushpull::validation

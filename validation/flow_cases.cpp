// The pushforward cases G1 ... G7 of docs/math.md section 2, registered as `pushpull validate` cases.
//
// Every check below states its pass threshold where it is made. Thresholds are deliberately explicit constants of
// the validation suite (not solver settings): they say what "agrees with the closed form" means here.
#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>
#include <random>
#include <sstream>

#include "gaussian_flows.hpp"
#include "pushpull/options.hpp"
#include "pushpull/pushforward.hpp"
#include "validation.hpp"

namespace pushpull::validation {
namespace {

// --- Pass thresholds ------------------------------------------------------------------------------------------
// Global error of a solve relative to its tolerance (errors scale with the size of the solution).
constexpr double kAccuracyFactor = 100.0;
// Acceptance band of the fitted log-log slope of error against tolerance. Ideal tolerance proportionality is 1;
// the lower end allows for low-dimensional cases whose errors at loose tolerances are already far below the
// tolerance (the curve then flattens), while a solve that does not converge (slope ~ 0) still fails.
constexpr double kSlopeMin = 0.3, kSlopeMax = 1.7;
// Statistical checks: agreement within this many standard errors.
constexpr double kStandardErrors = 4.0;
// Hutchinson spread against the estimator's known standard deviation (relative).
constexpr double kSpreadBand = 0.15;
// Stiff case: BDF must need at least this many times fewer right-hand-side evaluations.
constexpr double kStiffAdvantage = 10.0;

std::string Fmt(double v) {
  std::ostringstream s;
  s.precision(3);
  s << v;
  return s.str();
}

// A flow with closed forms for everything the engine computes.
struct ClosedFormFlow {
  std::string description;
  std::unique_ptr<VectorField> field;
  double base_time = 0;
  int dim = 0;
  bool density_runs = true;  // false for G7: the reversed stiff flow is unstable
  std::function<RowMatrixXd(const RowMatrixXd&)> latent, samples;
  std::function<Eigen::VectorXd(const RowMatrixXd&)> log_density, sample_log_density;
  Eigen::VectorXd mean;  // closed-form mean and covariance of the data distribution
  Eigen::MatrixXd cov;
};

ClosedFormFlow FromAffine(std::shared_ptr<AffineFlowCase> c) {
  ClosedFormFlow f;
  f.description = c->description;
  f.base_time = c->base_time;
  f.dim = static_cast<int>(c->Phi.rows());
  f.latent = [c](const RowMatrixXd& x) { return c->Latent(x); };
  f.samples = [c](const RowMatrixXd& z) { return c->Samples(z); };
  f.log_density = [c](const RowMatrixXd& x) { return c->LogDensity(x); };
  f.sample_log_density = [c](const RowMatrixXd& z) { return c->SampleLogDensity(z); };
  f.mean = c->c;
  f.cov = c->Phi * c->Phi.transpose();
  f.field = std::move(c->field);
  return f;
}

// --- G3 and G4 as affine flows ---------------------------------------------------------------------------------

Eigen::MatrixXd SpdSqrt(const Eigen::MatrixXd& S) { return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(S).operatorSqrt(); }

Eigen::MatrixXd RandomSpd(int n, std::mt19937_64& rng, double lo, double hi) {
  std::normal_distribution<double> normal(0.0, 1.0);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(Eigen::MatrixXd::NullaryExpr(n, n, [&] { return normal(rng); }));
  Eigen::MatrixXd Q = qr.householderQ();
  std::uniform_real_distribution<double> u(lo, hi);
  Eigen::VectorXd e = Eigen::VectorXd::NullaryExpr(n, [&] { return u(rng); });
  return Q * e.asDiagonal() * Q.transpose();
}

struct G3Data {
  Eigen::VectorXd m0, m1;
  Eigen::MatrixXd S0, S1, A;
  double w2sq = 0;
};

// McCann interpolation between N(m0, S0) and N(m1, S1). The engine's base is N(0, I) at t = 0; the affine flow map
// T(x) = m1 + A (x - m0) pushes it to N(m1 - A m0, A A^T), which is the closed form for density runs; the kinetic
// checks start particles from N(m0, S0) itself.
std::pair<ClosedFormFlow, G3Data> MakeG3(int d, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  G3Data g;
  g.m0 = Eigen::VectorXd::NullaryExpr(d, [&] { return normal(rng); });
  g.m1 = Eigen::VectorXd::NullaryExpr(d, [&] { return normal(rng); });
  g.S0 = RandomSpd(d, rng, 0.5, 2.0);
  g.S1 = RandomSpd(d, rng, 0.3, 2.5);
  const Eigen::MatrixXd S0h = SpdSqrt(g.S0);
  const Eigen::MatrixXd S0hi = S0h.inverse();
  const Eigen::MatrixXd middle = SpdSqrt(S0h * g.S1 * S0h);
  g.A = S0hi * middle * S0hi;
  g.w2sq = (g.m0 - g.m1).squaredNorm() + (g.S0 + g.S1 - 2 * middle).trace();
  auto c = std::make_shared<AffineFlowCase>();
  c->name = "G3";
  c->description = "optimal transport (McCann path) between two full-covariance Gaussians, d = " + std::to_string(d);
  const Eigen::MatrixXd A = g.A, I = Eigen::MatrixXd::Identity(d, d);
  const Eigen::VectorXd m0 = g.m0, m1 = g.m1;
  // v = (m1 - m0) + (A - I) C_t^{-1} (x - m_t), C_t = (1 - t) I + t A, m_t = (1 - t) m0 + t m1.
  auto slope = [A, I](double t) { return Eigen::MatrixXd((A - I) * ((1 - t) * I + t * A).inverse()); };
  c->field = std::make_unique<AffineField>(
      d, slope,
      [slope, m0, m1](double t) { return Eigen::VectorXd((m1 - m0) - slope(t) * ((1 - t) * m0 + t * m1)); },
      c->description);
  c->base_time = 0;
  c->Phi = A;
  c->c = m1 - A * m0;
  c->log_det_phi = std::log(std::abs(A.determinant()));
  return {FromAffine(c), g};
}

// Variance-preserving diffusion probability-flow ODE for data N(m, S), diffusion time s in [0, 1]; the engine's
// base lives at s = 1. Everything commutes with S, so the flow map is x_s = m_s + Sigma_s^{1/2} S^{-1/2} (x_0 - m).
ClosedFormFlow MakeG4(int d, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  const Eigen::VectorXd m = Eigen::VectorXd::NullaryExpr(d, [&] { return normal(rng); });
  const Eigen::MatrixXd S = RandomSpd(d, rng, 0.2, 2.0);
  const double beta_min = 0.1, beta_max = 20.0;
  const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(d, d);
  auto beta = [=](double s) { return beta_min + s * (beta_max - beta_min); };
  auto alpha = [=](double s) { return std::exp(-0.5 * (beta_min * s + 0.5 * (beta_max - beta_min) * s * s)); };
  auto sigma = [=](double s) {
    const double a = alpha(s);
    return Eigen::MatrixXd(a * a * S + (1 - a * a) * I);
  };
  auto c = std::make_shared<AffineFlowCase>();
  c->name = "G4";
  c->description = "variance-preserving diffusion probability-flow ODE, data N(m, S) with full S, d = " +
                   std::to_string(d);
  c->field = std::make_unique<AffineField>(
      d, [=](double s) { return Eigen::MatrixXd(-0.5 * beta(s) * (I - sigma(s).inverse())); },
      [=](double s) { return Eigen::VectorXd(-0.5 * beta(s) * (sigma(s).inverse() * (alpha(s) * m))); },
      c->description);
  c->base_time = 1;
  // Base z at s = 1 maps to x_0 = m + S^{1/2} Sigma_1^{-1/2} (z - alpha_1 m).
  c->Phi = SpdSqrt(S) * SpdSqrt(sigma(1.0)).inverse();
  c->c = m - c->Phi * (alpha(1.0) * m);
  c->log_det_phi = std::log(std::abs(c->Phi.determinant()));
  return FromAffine(c);
}

// --- G6: the nonlinear Gaussian-to-uniform map ----------------------------------------------------------------

double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }
double NormalPdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi); }

// Solves (1 - t) x0 + t Phi(x0) = x for x0 (strictly increasing in x0) by Newton steps safeguarded by bisection.
// Returns NaN when there is no solution (t = 1 and x outside (0, 1)).
double SolveG6(double x, double t) {
  double lo = -60, hi = 60;
  auto f = [&](double x0) { return (1 - t) * x0 + t * NormalCdf(x0) - x; };
  if (f(lo) > 0 || f(hi) < 0) return std::nan("");
  double x0 = std::clamp(x, lo, hi);
  for (int it = 0; it < 200; ++it) {
    const double fx = f(x0);
    if (fx == 0) return x0;
    if (fx < 0) lo = x0; else hi = x0;
    const double slope = (1 - t) + t * NormalPdf(x0);
    double next = x0 - fx / slope;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (std::abs(next - x0) <= 1e-16 * std::max(1.0, std::abs(x0)) || hi - lo <= 1e-15) return next;
    x0 = next;
  }
  return x0;
}

class G6Field : public VectorField {
 public:
  int dim() const override { return 1; }
  std::string description() const override { return "x_t = (1 - t) x0 + t Phi(x0)"; }
  void Evaluate(double t, const BlockRef& x, RowMatrixXd& v) const override {
    v.resize(x.rows(), 1);
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      const double x0 = SolveG6(x(i, 0), t);
      v(i, 0) = NormalCdf(x0) - x0;
    }
  }
  void EvaluateJvp(double t, const BlockRef& x, const BlockRef& dx, RowMatrixXd& v, RowMatrixXd& jv) const override {
    v.resize(x.rows(), 1);
    jv.resize(x.rows(), dx.cols());
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      const double x0 = SolveG6(x(i, 0), t);
      v(i, 0) = NormalCdf(x0) - x0;
      const double p = NormalPdf(x0);
      const double dvdx = (p - 1) / ((1 - t) + t * p);
      for (Eigen::Index k = 0; k < dx.cols(); ++k) jv(i, k) = dvdx * dx(i, k);
    }
  }
};

ClosedFormFlow MakeG6() {
  ClosedFormFlow f;
  f.description = "nonlinear 1-D map x_t = (1 - t) x0 + t Phi(x0), N(0, 1) to uniform(0, 1)";
  f.field = std::make_unique<G6Field>();
  f.base_time = 0;
  f.dim = 1;
  f.latent = [](const RowMatrixXd& x) {
    RowMatrixXd z(x.rows(), 1);
    for (Eigen::Index i = 0; i < x.rows(); ++i) z(i, 0) = SolveG6(x(i, 0), 1.0);
    return z;
  };
  f.samples = [](const RowMatrixXd& z) { return RowMatrixXd(z.unaryExpr([](double v) { return NormalCdf(v); })); };
  f.log_density = [](const RowMatrixXd& x) { return Eigen::VectorXd(Eigen::VectorXd::Zero(x.rows())); };
  f.sample_log_density = [](const RowMatrixXd& z) { return Eigen::VectorXd(Eigen::VectorXd::Zero(z.rows())); };
  f.mean = Eigen::VectorXd::Constant(1, 0.5);
  f.cov = Eigen::MatrixXd::Constant(1, 1, 1.0 / 12.0);
  return f;
}

// --- The runner --------------------------------------------------------------------------------------------------

struct RunOutcome {
  SweepRow row;
  PushforwardResult result;
};

RowMatrixXd DataPoints(const ClosedFormFlow& f, std::size_t n, std::uint64_t seed) {
  if (f.dim == 1 && f.mean.size() == 1 && f.cov(0, 0) == 1.0 / 12.0) {
    // G6: data points inside (0, 1), away from the ends where Phi^{-1} is ill-conditioned.
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.05, 0.95);
    RowMatrixXd x(static_cast<Eigen::Index>(n), 1);
    for (std::size_t i = 0; i < n; ++i) x(static_cast<Eigen::Index>(i), 0) = u(rng);
    return x;
  }
  return f.samples(DrawStandardNormal(n, f.dim, seed));
}

RunOutcome Solve(const ClosedFormFlow& f, const VectorField& field, const PushforwardOptions& o, bool density,
                 const RowMatrixXd& pts) {
  RunOutcome out;
  out.result = density ? ComputeDensity(field, f.base_time, pts, o) : PushSamples(field, f.base_time, pts, o);
  const PushforwardResult& r = out.result;
  const RowMatrixXd end = density ? f.latent(pts) : f.samples(pts);
  const Eigen::VectorXd logp = density ? f.log_density(pts) : f.sample_log_density(pts);
  SweepRow& row = out.row;
  row.method = o.ode.type;
  row.kind = o.trace_type;
  row.dimension = f.dim;
  row.tolerance = o.ode.rtol;
  row.failed = static_cast<int>(r.failed());
  row.error_metric = "max_error_logp";
  row.cost_metric = "nfe_per_sample";
  double sum_x = 0, sum_p = 0, nfe = 0, steps = 0, max_x = 0, max_p = 0;
  int ok = 0;
  for (Eigen::Index i = 0; i < pts.rows(); ++i) {
    nfe += static_cast<double>(r.nfe[static_cast<std::size_t>(i)]);
    steps += static_cast<double>(r.steps[static_cast<std::size_t>(i)]);
    if (!r.status[static_cast<std::size_t>(i)].usable()) continue;
    const double ex = (r.endpoints.row(i) - end.row(i)).cwiseAbs().maxCoeff();
    const double ep = std::abs(r.log_density(i) - logp(i));
    max_x = std::max(max_x, ex);
    max_p = std::max(max_p, ep);
    sum_x += ex;
    sum_p += ep;
    ++ok;
  }
  if (row.failed > 0) max_x = max_p = std::numeric_limits<double>::infinity();
  row.Set("max_error_endpoint", max_x);
  row.Set("mean_error_endpoint", ok ? sum_x / ok : std::nan(""));
  row.Set("max_error_logp", max_p);
  row.Set("mean_error_logp", ok ? sum_p / ok : std::nan(""));
  row.Set("nfe_per_sample", nfe / static_cast<double>(pts.rows()));
  row.Set("steps_per_sample", steps / static_cast<double>(pts.rows()));
  row.seconds = r.seconds;
  return out;
}


// Least-squares slope of log10(error) against log10(tolerance), over errors above round-off.
std::pair<double, int> FitSlope(const std::vector<double>& tols, const std::vector<double>& errs, double floor) {
  std::vector<std::pair<double, double>> pts;
  for (std::size_t i = 0; i < tols.size(); ++i) {
    if (std::isfinite(errs[i]) && errs[i] > floor) pts.emplace_back(std::log10(tols[i]), std::log10(errs[i]));
  }
  if (pts.size() < 2) return {std::nan(""), static_cast<int>(pts.size())};
  double mx = 0, my = 0;
  for (auto& p : pts) {
    mx += p.first;
    my += p.second;
  }
  mx /= static_cast<double>(pts.size());
  my /= static_cast<double>(pts.size());
  double sxy = 0, sxx = 0;
  for (auto& p : pts) {
    sxy += (p.first - mx) * (p.second - my);
    sxx += (p.first - mx) * (p.first - mx);
  }
  return {sxy / sxx, static_cast<int>(pts.size())};
}

struct CaseSpec {
  std::string name;
  std::string description;
  std::vector<int> quick_dims, full_dims;
  std::function<ClosedFormFlow(int dim, unsigned seed)> make;
  bool hutchinson_variance = false;  // constant Jacobian: the estimator's spread is known (G1)
  bool kinetic = false;              // G3
  bool stiff = false;                // G7
};

class FlowCase : public Case {
 public:
  explicit FlowCase(CaseSpec spec) : spec_(std::move(spec)) {}
  std::string description() const override { return spec_.description; }

  CaseReport Run(const Settings& settings) override {
    CaseReport report;
    report.name = spec_.name;
    report.description = spec_.description;
    const bool full = settings.level == "full";
    std::vector<double> tols = settings.tolerances;
    if (tols.empty()) {
      tols = full ? std::vector<double>{1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10}
                  : std::vector<double>{1e-4, 1e-6, 1e-8};
    }
    std::vector<std::string> methods = settings.methods;
    if (methods.empty()) methods = OdeIntegrators().Names();
    const std::size_t n_points = full ? 256 : 64;
    const std::vector<int>& dims = full ? spec_.full_dims : spec_.quick_dims;
    for (std::size_t di = 0; di < dims.size(); ++di) {
      const int d = dims[di];
      ClosedFormFlow f = spec_.make(d, static_cast<unsigned>(settings.seed + 17u * static_cast<unsigned>(d)));
      std::unique_ptr<VectorField> field = std::move(f.field);
      if (settings.wrap_field) field = settings.wrap_field(std::move(field));
      const bool density = f.density_runs;
      const RowMatrixXd pts = density ? DataPoints(f, n_points, settings.seed + 1)
                                      : DrawStandardNormal(spec_.stiff ? 8 : n_points, d, settings.seed + 1);
      const Eigen::VectorXd ref_logp = density ? f.log_density(pts) : f.sample_log_density(pts);
      const double scale = std::max(1.0, ref_logp.cwiseAbs().maxCoeff());
      const std::string dim_note = " (d = " + std::to_string(d) + ", " + (density ? "density" : "sampling") + ")";
      std::map<std::string, std::map<double, double>> nfe_by;  // method -> tol -> NFE per sample
      std::map<std::string, std::map<double, bool>> failed_by;
      for (const auto& method : methods) {
        std::vector<double> errs;
        for (double tol : tols) {
          // Quick level: on the stiff case the non-stiff methods run at the loosest tolerance only (their cost is
          // set by stability, not accuracy, and runs to minutes at every tolerance).
          if (spec_.stiff && !full && (method == "adams" || method == "dopri5") && tol != tols.front()) continue;
          PushforwardOptions o = settings.solver;
          o.ode.type = method;
          o.ode.rtol = tol;
          o.ode.atol = tol;
          o.trace_type = "exact";
          const RunOutcome run = Solve(f, *field, o, density, pts);
          report.sweep.push_back(run.row);
          errs.push_back(run.row.Get("max_error_logp"));
          // A failed run records the work it spent before giving up: a lower bound on its cost.
          nfe_by[method][tol] = run.row.Get("nfe_per_sample");
          failed_by[method][tol] = run.row.failed > 0;
          if (spec_.stiff && method != "bdf" && method != "esdirk") continue;  // explicit/non-stiff: cost only
          const double bound = kAccuracyFactor * tol;
          std::string detail = "max |log p error| over " + std::to_string(pts.rows()) + " points" + dim_note;
          if (run.row.failed) detail += "; " + std::to_string(run.row.failed) + " failed: " +
                                        std::find_if(run.result.status.begin(), run.result.status.end(),
                                                     [](const SampleStatus& s) { return !s.usable(); })
                                            ->message;
          report.checks.push_back(MakeCheck("log-density error", method, tol, run.row.Get("max_error_logp"), "<=",
                                            bound * scale, detail));
          report.checks.push_back(MakeCheck("end-point error", method, tol, run.row.Get("max_error_endpoint"), "<=",
                                            bound * std::max(1.0, pts.cwiseAbs().maxCoeff()),
                                            "max |end point error|" + dim_note));
        }
        if (spec_.stiff && method != "bdf" && method != "esdirk") continue;
        const auto [slope, used] = FitSlope(tols, errs, 1e-12 * scale);
        if (used >= 2) {
          Check c = MakeCheck("error falls with tolerance", method, 0, slope, "in", kSlopeMin,
                              "fitted log-log slope of max log-density error against tolerance over " +
                                  std::to_string(used) + " tolerances; band [" + Fmt(kSlopeMin) + ", " +
                                  Fmt(kSlopeMax) + "]" + dim_note);
          c.passed = slope >= kSlopeMin && slope <= kSlopeMax;
          report.checks.push_back(c);
        } else {
          const double worst = *std::max_element(errs.begin(), errs.end());
          report.checks.push_back(MakeCheck("error falls with tolerance", method, 0, worst, "<=", 1e-9 * scale,
                                            "errors at round-off for every tolerance (exact for this method)" +
                                                dim_note));
        }
      }
      if (spec_.stiff) {
        for (double tol : tols) {
          const double bdf = nfe_by["bdf"][tol];
          for (const std::string other : {"adams", "dopri5"}) {
            if (!nfe_by.count(other) || !nfe_by[other].count(tol)) continue;
            const double ratio = nfe_by[other][tol] / bdf;
            report.checks.push_back(MakeCheck(
                "BDF beats " + other + " on the stiff flow", "bdf", tol, ratio, ">=", kStiffAdvantage,
                "NFE per sample of " + other + " / bdf: " + Fmt(nfe_by[other][tol]) + " / " + Fmt(bdf) +
                    (failed_by[other][tol] ? " (" + other + " gave up at the step limit: the ratio is a lower bound)"
                                           : "") +
                    dim_note));
          }
        }
      }
      if (di != 0) continue;  // the statistical checks run in the first dimension of the case
      const std::string ref_method = spec_.stiff ? "bdf" : "dopri5";
      const double tight = tols.back();
      // Hutchinson: unbiased, with the known spread where the Jacobian is constant.
      if (!spec_.stiff) {
        const std::size_t n_hutch = full ? 4000 : 1000;
        const RowMatrixXd hp = density ? DataPoints(f, n_hutch, settings.seed + 2)
                                       : DrawStandardNormal(n_hutch, d, settings.seed + 2);
        for (const std::string dist : {"rademacher", "gaussian"}) {
          PushforwardOptions o = settings.solver;
          o.ode.type = ref_method;
          o.ode.rtol = o.ode.atol = tight;
          o.trace_type = "hutchinson";
          o.trace_dist = dist;
          o.trace_probes = 1;
          o.seed = settings.seed + 3;
          const RunOutcome run = Solve(f, *field, o, density, hp);
          SweepRow row = run.row;
          row.kind = "hutchinson-" + dist;
          row.error_metric.clear();  // not part of the tolerance sweep
          row.cost_metric.clear();
          report.sweep.push_back(row);
          const Eigen::VectorXd exact = density ? f.log_density(hp) : f.sample_log_density(hp);
          const Eigen::VectorXd err = run.result.log_density - exact;
          const double mean = err.mean();
          const double sd = std::sqrt((err.array() - mean).square().sum() / static_cast<double>(err.size() - 1));
          const double se = sd / std::sqrt(static_cast<double>(err.size()));
          const double floor = kAccuracyFactor * tight * scale;
          report.checks.push_back(MakeCheck("Hutchinson unbiased (" + dist + ")", ref_method, tight, std::abs(mean),
                                            "<=", kStandardErrors * se + floor,
                                            "|mean error| of " + std::to_string(err.size()) +
                                                " per-sample estimates against " + Fmt(kStandardErrors) +
                                                " standard errors (" + Fmt(se) + ") + integration floor" + dim_note));
          if (spec_.hutchinson_variance) {
            // Constant Jacobian A: the estimate of int tr A dt over the unit interval is eps^T A eps.
            RowMatrixXd v, jac;
            field->EvaluateJacobian(0.0, RowMatrixXd::Zero(1, d), v, jac);
            const Eigen::MatrixXd A = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic,
                                                                      Eigen::RowMajor>>(jac.data(), d, d);
            const Eigen::MatrixXd As = 0.5 * (A + A.transpose());
            const double var = dist == "gaussian" ? 2 * As.squaredNorm()
                                                  : 2 * (As.squaredNorm() - As.diagonal().squaredNorm());
            if (var <= 0) {
              // d = 1 with Rademacher probes: eps^2 = 1, the estimate is exact and must not scatter.
              report.checks.push_back(MakeCheck("Hutchinson spread (" + dist + ")", ref_method, tight, sd, "<=",
                                                floor, "estimator exact here (known sd 0): sd of the errors" +
                                                           dim_note));
              continue;
            }
            const double ratio = sd / std::sqrt(var);
            Check c = MakeCheck("Hutchinson spread (" + dist + ")", ref_method, tight, ratio, "in", 1.0 - kSpreadBand,
                                "sd of the estimates / the estimator's known sd " + Fmt(std::sqrt(var)) +
                                    "; band 1 +- " + Fmt(kSpreadBand) + dim_note);
            c.passed = std::isfinite(ratio) && std::abs(ratio - 1.0) <= kSpreadBand;
            report.checks.push_back(c);
          }
        }
      }
      // Jacobi's formula: log|det| of the flow map from the variational equations equals the divergence integral.
      if (!spec_.stiff) {
        PushforwardOptions o = settings.solver;
        o.ode.type = ref_method;
        o.ode.rtol = o.ode.atol = tight;
        o.logdet_check = true;
        const PushforwardResult r = density ? ComputeDensity(*field, f.base_time, pts, o)
                                            : PushSamples(*field, f.base_time, pts, o);
        const double worst = r.failed() ? std::numeric_limits<double>::infinity()
                                        : r.logdet_difference.cwiseAbs().maxCoeff();
        report.checks.push_back(MakeCheck("logdet check (Jacobi's formula)", ref_method, tight, worst, "<=",
                                          kAccuracyFactor * tight * scale,
                                          "max |log|det| from CVODES forward sensitivities - divergence integral| "
                                          "over " + std::to_string(pts.rows()) + " points" + dim_note));
      }
      // The sampled pushforward has the closed-form mean and covariance.
      {
        const std::size_t n_mom = full ? 8000 : 2000;
        const RowMatrixXd z = DrawStandardNormal(n_mom, d, settings.seed + 4);
        PushforwardOptions o = settings.solver;
        o.ode.type = ref_method;
        o.ode.rtol = o.ode.atol = tight;
        const PushforwardResult r = PushSamples(*field, f.base_time, z, o);
        const Eigen::VectorXd mean = r.endpoints.colwise().mean().transpose();
        const RowMatrixXd centred = r.endpoints.rowwise() - mean.transpose();
        const Eigen::MatrixXd cov = centred.transpose() * centred / static_cast<double>(n_mom - 1);
        double worst = 0;
        for (int i = 0; i < d; ++i) {
          worst = std::max(worst, std::abs(mean(i) - f.mean(i)) / std::sqrt(f.cov(i, i) / n_mom));
          for (int j = 0; j <= i; ++j) {
            const double se = std::sqrt((f.cov(i, i) * f.cov(j, j) + f.cov(i, j) * f.cov(i, j)) / n_mom);
            // For the uniform (G6) the normal-theory standard error of the variance is replaced by its own.
            const double se_used = d == 1 && spec_.name == "G6" ? std::sqrt((1.0 / 80 - 1.0 / 144) / n_mom) : se;
            worst = std::max(worst, std::abs(cov(i, j) - f.cov(i, j)) / se_used);
          }
        }
        report.checks.push_back(MakeCheck("sample mean and covariance", ref_method, tight, worst, "<=",
                                          kStandardErrors + 0.5,
                                          "largest deviation in standard errors over the mean and covariance "
                                          "entries of " + std::to_string(n_mom) + " samples" + dim_note));
      }
      if (spec_.kinetic) kinetic_check_(report, settings, *field, d, tight, full);
    }
    return report;
  }

  std::function<void(CaseReport&, const Settings&, const VectorField&, int, double, bool)> kinetic_check_;

 private:
  CaseSpec spec_;
};

}  // namespace

void RegisterFlowCases(Registry<Case>& registry) {
  auto add = [&](CaseSpec spec, std::function<void(FlowCase&)> extra = {}) {
    registry.Register(spec.name, spec.description, [spec, extra]() {
      auto c = std::make_unique<FlowCase>(spec);
      if (extra) extra(*c);
      return c;
    });
  };
  add({"G1", "constant affine field v = A x + b, non-symmetric A with tr A != 0", {2, 16}, {1, 2, 4, 8, 16, 32},
       [](int d, unsigned seed) { return FromAffine(std::make_shared<AffineFlowCase>(MakeG1(d, 0.0, seed))); },
       true, false, false});
  add({"G2", "Gaussian probability path of conditional flow matching (sigma_min = 0.1)", {1, 16},
       {1, 2, 4, 8, 16, 32},
       [](int d, unsigned seed) { return FromAffine(std::make_shared<AffineFlowCase>(MakeG2(d, 0.1, seed))); },
       false, false, false});
  add({"G3", "optimal transport between two Gaussians with full covariances (McCann path)", {2, 8},
       {1, 2, 4, 8, 16}, [](int d, unsigned seed) { return MakeG3(d, seed).first; }, false, true, false},
      [](FlowCase& c) {
        c.kinetic_check_ = [](CaseReport& report, const Settings& settings, const VectorField& field, int d,
                              double tol, bool full) {
          const G3Data g = MakeG3(d, static_cast<unsigned>(settings.seed + 17u * static_cast<unsigned>(d))).second;
          const std::size_t n = full ? 4000 : 1000;
          // Particles from N(m0, S0).
          const RowMatrixXd z = DrawStandardNormal(n, d, settings.seed + 5);
          const Eigen::MatrixXd L = g.S0.llt().matrixL();
          const RowMatrixXd x0 = ((L * z.transpose()).colwise() + g.m0).transpose();
          PushforwardOptions o = settings.solver;
          o.ode.type = "dopri5";
          o.ode.rtol = o.ode.atol = tol;
          o.kinetic = true;
          o.ode.control_regularizers = true;
          const PushforwardResult r = PushSamples(field, 0.0, x0, o);
          double worst = 0;
          for (std::size_t i = 0; i < n; ++i) {
            const Eigen::VectorXd x = x0.row(static_cast<Eigen::Index>(i)).transpose();
            const double expected = (g.m1 + g.A * (x - g.m0) - x).squaredNorm();
            worst = std::max(worst, std::abs(r.kinetic(static_cast<Eigen::Index>(i)) - expected) /
                                        std::max(1.0, expected));
          }
          report.checks.push_back(MakeCheck("kinetic energy per particle = |T(x0) - x0|^2", "dopri5", tol, worst,
                                            "<=", kAccuracyFactor * tol,
                                            "largest relative error over " + std::to_string(n) + " particles (d = " +
                                                std::to_string(d) + ")"));
          const double mean = r.kinetic.mean();
          const double sd = std::sqrt((r.kinetic.array() - mean).square().sum() / static_cast<double>(n - 1));
          const double se = sd / std::sqrt(static_cast<double>(n));
          report.checks.push_back(MakeCheck("mean kinetic energy = W2^2 (Benamou-Brenier equality)", "dopri5", tol,
                                            std::abs(mean - g.w2sq) / se, "<=", kStandardErrors,
                                            "|E K - W2^2| in standard errors; E K = " + Fmt(mean) +
                                                ", W2^2 = " + Fmt(g.w2sq) + " (d = " + std::to_string(d) + ")"));
        };
      });
  add({"G4", "variance-preserving diffusion probability-flow ODE for Gaussian data with a full covariance", {2, 8},
       {1, 2, 4, 8, 16}, [](int d, unsigned seed) { return MakeG4(d, seed); }, false, false, false});
  add({"G5", "rectified flow (independent coupling) from N(0, I) to a full-covariance Gaussian", {2, 16},
       {1, 2, 4, 8, 16, 32},
       [](int d, unsigned seed) { return FromAffine(std::make_shared<AffineFlowCase>(MakeG5(d, seed))); }, false,
       false, false});
  add({"G6", "nonlinear map of N(0, 1) onto uniform(0, 1): x_t = (1 - t) x0 + t Phi(x0)", {1}, {1},
       [](int, unsigned) { return MakeG6(); }, false, false, false});
  add({"G7", "stiff affine flow, eigenvalues -1 ... -1e5 (five decades); BDF must beat explicit methods", {3},
       {3, 6},
       [](int d, unsigned seed) {
         ClosedFormFlow f = FromAffine(std::make_shared<AffineFlowCase>(MakeG7(d, 5.0, seed)));
         f.density_runs = false;
         return f;
       },
       false, false, true});
}

}  // namespace pushpull::validation

// Exact optimal transport: options (-ot_*), input checks, the cost matrix, the certificate and the choice of solver.
// The solvers are in assignment.cpp and network_simplex.cpp; Sinkhorn in sinkhorn.cpp.
#include "pushpull/optimal_transport.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <string>

#include "pushpull/errors.hpp"
#include "pushpull/options.hpp"
#include "pushpull/parallel.hpp"
#include "transport_internal.hpp"

namespace pushpull {

namespace {

// Rows per work item of the parallel loops (a fixed partition: results do not depend on the thread count).
constexpr std::int64_t kRowBlock = 64;

std::string Num(double v) {
  std::ostringstream os;
  os.precision(6);
  os << v;
  return os.str();
}

}  // namespace

const char* ToString(TransportCost cost) {
  return cost == TransportCost::kEuclidean ? "euclidean" : "sqeuclidean";
}
const char* OptimalCostName(TransportCost cost) { return cost == TransportCost::kEuclidean ? "W1" : "W2^2"; }

TransportCost ParseTransportCost(std::string_view name) {
  if (name == "sqeuclidean") return TransportCost::kSquaredEuclidean;
  if (name == "euclidean") return TransportCost::kEuclidean;
  throw InputError("unknown transport cost '" + std::string(name) + "' (valid: sqeuclidean, euclidean)");
}

const char* ToString(TransportStatus status) {
  switch (status) {
    case TransportStatus::kSuccess: return "success";
    case TransportStatus::kCertificateFailed: return "certificate_failed";
    case TransportStatus::kIterationLimit: return "iteration_limit";
    case TransportStatus::kInfeasible: return "infeasible";
    case TransportStatus::kNumericalFailure: return "numerical_failure";
  }
  return "unknown";
}
bool Usable(TransportStatus status) { return status == TransportStatus::kSuccess; }

void ExactTransportOptions::SetFromOptions(OptionsDatabase& db, std::string_view prefix) {
  const std::string p(prefix);
  db.SetSection("Exact optimal transport" + (p.empty() ? std::string() : " (prefix '" + p + "')"));
  db.Enum(prefix, "ot_cost", cost,
          "Ground cost: sqeuclidean = ||x - y||^2 (the optimum is W2^2), euclidean = ||x - y|| (the optimum is W1)",
          "ExactTransportOptions::cost", {"sqeuclidean", "euclidean"});
  db.Enum(prefix, "ot_solver", solver,
          "Exact solver: assignment = Jonker-Volgenant (equal sizes, uniform weights); network_simplex = LEMON's "
          "network simplex in integer arithmetic (any weights); auto = assignment when it applies",
          "ExactTransportOptions::solver", {"auto", "assignment", "network_simplex"});
  db.Real(prefix, "ot_certificate_rtol", certificate_rtol,
          "The result is 'success' when the duality gap and the largest reduced-cost violation max(0, u_i + v_j - "
          "C_ij) are at most this times max C_ij, else 'certificate_failed'",
          "ExactTransportOptions::certificate_rtol", RealBounds::Positive());
  db.Real(prefix, "ot_marginal_tol", marginal_tol,
          "The result is 'success' only when the plan's marginals match the weights within this (max norm)",
          "ExactTransportOptions::marginal_tol", RealBounds::Positive());
  db.Real(prefix, "ot_weight_tol", weight_tol,
          "Weights must sum to 1 within this (then they are renormalised); otherwise the input is refused",
          "ExactTransportOptions::weight_tol", RealBounds::Positive());
  db.Int(prefix, "ot_mass_bits", mass_bits,
         "Network simplex with non-uniform weights: masses are rounded to integers summing to 2^ot_mass_bits",
         "ExactTransportOptions::mass_bits", IntBounds{20, 60});
  db.Int(prefix, "ot_cost_bits", cost_bits,
         "Network simplex: costs are rounded to integers on a grid of max C / 2^ot_cost_bits (lowered to "
         "60 - ceil(log2(n + m)) so that LEMON's 64-bit potentials cannot overflow)",
         "ExactTransportOptions::cost_bits", IntBounds{8, 56});
  db.Int(prefix, "ot_threads", threads, "Worker threads for the cost matrix and the certificate; 0 = all cores",
         "ExactTransportOptions::threads", IntBounds::AtLeast(0));
}

std::string ExactTransportOptions::Validate() const {
  ExactTransportOptions copy = *this;
  return CheckDeclared([&](OptionsDatabase& db) { copy.SetFromOptions(db); });
}

PointMatrix TransportCostMatrix(const PointMatrix& x, const PointMatrix& y, TransportCost cost, int threads) {
  const std::int64_t n = x.rows(), m = y.rows(), d = x.cols();
  PointMatrix c(n, m);
  // y transposed: one contiguous array per coordinate, so the loop over j vectorises.
  const PointMatrix yc = y.transpose();  // row-major d x m: coordinate k of all points contiguous
  const std::int64_t blocks = (n + kRowBlock - 1) / kRowBlock;
  ParallelForOrdered(static_cast<std::size_t>(blocks), threads, [&](int, std::size_t block) {
    const std::int64_t i0 = static_cast<std::int64_t>(block) * kRowBlock, i1 = std::min(n, i0 + kRowBlock);
    for (std::int64_t i = i0; i < i1; ++i) {
      double* ci = c.data() + i * m;
      std::fill(ci, ci + m, 0.0);
      for (std::int64_t k = 0; k < d; ++k) {
        const double xk = x(i, k);
        const double* yk = yc.data() + k * m;
        for (std::int64_t j = 0; j < m; ++j) {
          const double t = xk - yk[j];
          ci[j] += t * t;
        }
      }
      if (cost == TransportCost::kEuclidean) {
        for (std::int64_t j = 0; j < m; ++j) ci[j] = std::sqrt(ci[j]);
      }
    }
  });
  return c;
}

TransportCertificate ComputeTransportCertificate(const PointMatrix& cost, const Eigen::VectorXd& a,
                                                 const Eigen::VectorXd& b, const std::vector<std::int64_t>& rows,
                                                 const std::vector<std::int64_t>& cols,
                                                 const std::vector<double>& masses, const Eigen::VectorXd& u,
                                                 const Eigen::VectorXd& v, int threads) {
  TransportCertificate cert;
  const std::int64_t n = cost.rows(), m = cost.cols();
  cert.cost_scale = cost.size() > 0 ? cost.maxCoeff() : 0.0;
  Eigen::VectorXd row_mass = Eigen::VectorXd::Zero(n), col_mass = Eigen::VectorXd::Zero(m);
  for (std::size_t k = 0; k < masses.size(); ++k) {
    cert.primal += masses[k] * cost(rows[k], cols[k]);
    row_mass[rows[k]] += masses[k];
    col_mass[cols[k]] += masses[k];
  }
  cert.dual = a.dot(u) + b.dot(v);
  cert.duality_gap = std::abs(cert.primal - cert.dual);
  cert.max_marginal_violation =
      std::max((row_mass - a).cwiseAbs().maxCoeff(), (col_mass - b).cwiseAbs().maxCoeff());
  const std::int64_t blocks = (n + kRowBlock - 1) / kRowBlock;
  std::vector<double> block_max(static_cast<std::size_t>(blocks), 0.0);
  ParallelForOrdered(static_cast<std::size_t>(blocks), threads, [&](int, std::size_t block) {
    const std::int64_t i0 = static_cast<std::int64_t>(block) * kRowBlock, i1 = std::min(n, i0 + kRowBlock);
    double worst = 0.0;
    const double* vd = v.data();
    for (std::int64_t i = i0; i < i1; ++i) {
      const double* ci = cost.data() + i * m;
      const double ui = u[i];
      for (std::int64_t j = 0; j < m; ++j) worst = std::max(worst, ui + vd[j] - ci[j]);
    }
    block_max[block] = worst;
  });
  for (const double w : block_max) cert.max_reduced_cost_violation = std::max(cert.max_reduced_cost_violation, w);
  return cert;
}

namespace {

Eigen::VectorXd CheckWeights(const Eigen::VectorXd& w, std::int64_t count, const char* name, double tol) {
  if (w.size() == 0) return Eigen::VectorXd::Constant(count, 1.0 / static_cast<double>(count));
  if (w.size() != count) {
    throw InputError(std::string(name) + " weights: " + std::to_string(w.size()) + " values for " +
                     std::to_string(count) + " points");
  }
  for (Eigen::Index i = 0; i < w.size(); ++i) {
    if (!std::isfinite(w[i]) || w[i] < 0) {
      throw InputError(std::string(name) + " weights: entry " + std::to_string(i) + " is " + Num(w[i]) +
                       " (must be finite and >= 0)");
    }
  }
  const double s = w.sum();
  if (!(std::abs(s - 1.0) <= tol)) {
    throw InputError(std::string(name) + " weights sum to " + Num(s) + ", not 1 (within -ot_weight_tol " + Num(tol) +
                     ")");
  }
  return w / s;
}

}  // namespace

ExactTransportResult SolveExactTransportCost(const PointMatrix& cost, const Eigen::VectorXd& a_in,
                                             const Eigen::VectorXd& b_in, const ExactTransportOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (const std::string problem = options.Validate(); !problem.empty()) throw InputError(problem);
  const std::int64_t n = cost.rows(), m = cost.cols();
  if (n == 0 || m == 0) throw InputError("exact transport: empty point set (" + std::to_string(n) + " x " +
                                         std::to_string(m) + " cost matrix)");
  if (!cost.allFinite()) throw InputError("exact transport: the cost matrix has non-finite entries");
  const Eigen::VectorXd a = CheckWeights(a_in, n, "source", options.weight_tol);
  const Eigen::VectorXd b = CheckWeights(b_in, m, "target", options.weight_tol);
  const bool uniform = n == m && a_in.size() == 0 && b_in.size() == 0;
  bool uniform_equal = uniform;
  if (!uniform && n == m) {
    uniform_equal = (a.array() == a[0]).all() && (b.array() == b[0]).all() && a[0] == b[0];
  }

  ExactTransportResult r;
  r.cost_type = ParseTransportCost(options.cost);
  r.cost_name = OptimalCostName(r.cost_type);
  std::string solver = options.solver;
  if (solver == "auto") solver = uniform_equal ? "assignment" : "network_simplex";
  if (solver == "assignment" && !uniform_equal) {
    throw InputError("-ot_solver assignment needs equal-size sets with uniform weights (got " + std::to_string(n) +
                     " and " + std::to_string(m) + " points" + (n == m ? ", non-uniform weights" : "") +
                     "); use network_simplex or auto");
  }
  r.solver = solver;
  if (solver == "assignment") {
    std::vector<std::int64_t> row_to_col;
    r.iterations = transport_detail::SolveAssignment(cost, row_to_col, r.u, r.v);
    const double mass = 1.0 / static_cast<double>(n);
    r.rows.resize(static_cast<std::size_t>(n));
    r.cols = row_to_col;
    r.masses.assign(static_cast<std::size_t>(n), mass);
    for (std::int64_t i = 0; i < n; ++i) r.rows[static_cast<std::size_t>(i)] = i;
  } else {
    auto ns = transport_detail::SolveNetworkSimplex(cost, a, b, options.mass_bits, options.cost_bits);
    r.cost_bits_used = ns.cost_bits_used;
    if (ns.status != TransportStatus::kSuccess) {
      r.status = ns.status;
      r.message = ns.message;
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return r;
    }
    r.rows = std::move(ns.rows);
    r.cols = std::move(ns.cols);
    r.masses = std::move(ns.masses);
    r.u = std::move(ns.u);
    r.v = std::move(ns.v);
  }
  r.certificate = ComputeTransportCertificate(cost, a, b, r.rows, r.cols, r.masses, r.u, r.v, options.threads);
  r.cost = r.certificate.primal;
  const TransportCertificate& c = r.certificate;
  const double tol = options.certificate_rtol * std::max(c.cost_scale, 0.0);
  if (!std::isfinite(c.primal) || !std::isfinite(c.dual) || !r.u.allFinite() || !r.v.allFinite()) {
    r.status = TransportStatus::kNumericalFailure;
    r.message = "non-finite cost or potentials from the " + solver + " solver";
  } else if (c.duality_gap > tol || c.max_reduced_cost_violation > tol) {
    r.status = TransportStatus::kCertificateFailed;
    r.message = "certificate: duality gap " + Num(c.duality_gap) + ", max reduced-cost violation " +
                Num(c.max_reduced_cost_violation) + " exceed -ot_certificate_rtol * max C = " + Num(tol) +
                (solver == "network_simplex" ? " (raise -ot_cost_bits for a finer cost grid)" : "");
  } else if (c.max_marginal_violation > options.marginal_tol) {
    r.status = TransportStatus::kCertificateFailed;
    r.message = "certificate: marginal violation " + Num(c.max_marginal_violation) + " exceeds -ot_marginal_tol " +
                Num(options.marginal_tol) + " (raise -ot_mass_bits)";
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

ExactTransportResult SolveExactTransport(const PointMatrix& x, const PointMatrix& y, const Eigen::VectorXd& a,
                                         const Eigen::VectorXd& b, const ExactTransportOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (x.cols() != y.cols()) {
    throw InputError("exact transport: source points have dimension " + std::to_string(x.cols()) +
                     ", target points " + std::to_string(y.cols()));
  }
  if (!x.allFinite() || !y.allFinite()) throw InputError("exact transport: non-finite point coordinates");
  const TransportCost type = ParseTransportCost(options.cost);
  const PointMatrix c = TransportCostMatrix(x, y, type, options.threads);
  ExactTransportResult r = SolveExactTransportCost(c, a, b, options);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace pushpull

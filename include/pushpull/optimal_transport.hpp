// Optimal transport between two weighted point sets: exact (assignment or network simplex) and entropic (Sinkhorn).
//
// Problem: points x_1..x_n and y_1..y_m in R^d (one point per row), weights a (n) and b (m), each non-negative and
// summing to 1 (empty = uniform), and a ground cost C_ij = ||x_i - y_j||^2 ("sqeuclidean", the optimum is W2^2) or
// ||x_i - y_j|| ("euclidean", the optimum is W1). Exact OT: min <P, C> over plans P >= 0 with P 1 = a, P^T 1 = b.
//
// Exact solvers (-ot_solver):
//   assignment       equal-size sets with uniform weights: the optimal plan is a permutation matrix / n. Jonker-
//                    Volgenant (column reduction, reduction transfer, augmenting row reduction, then shortest
//                    augmenting paths on a dense row-major cost matrix). Exact in floating point (no epsilon).
//   network_simplex  any weights: LEMON's network simplex on the complete bipartite graph, run in exact integer
//                    arithmetic: masses are rounded to integers summing to 2^-ot_mass_bits (uniform weights exactly,
//                    as m and n units), costs to integers on a grid of max C / 2^bits (bits = -ot_cost_bits, lowered
//                    when n + m would let LEMON's potentials overflow); the plan is optimal for the rounded
//                    problem, and the certificate measures it against the double-precision costs.
//   auto (default)   assignment when n == m and both weights are uniform, else network_simplex.
// Every exact result carries a certificate computed from scratch in double precision on the original costs and
// weights: primal <P, C>, dual sum a_i u_i + sum b_j v_j, duality gap |primal - dual|, the largest reduced-cost
// violation max(0, u_i + v_j - C_ij) over all (i, j), and the largest marginal violation. The result is kSuccess
// when gap and violation are within -ot_certificate_rtol times max C and the marginals within -ot_marginal_tol;
// otherwise kCertificateFailed (the plan and potentials are still returned). Nothing stops early silently.
//
// Entropic OT (Sinkhorn, log domain): min <P, C> + eps KL(P | a b^T), with epsilon scaling (eps from max C down to
// -sinkhorn_epsilon by the factor -sinkhorn_scaling) and the debiased Sinkhorn divergence
// S_eps = OT_eps(a, b) - (OT_eps(a, a) + OT_eps(b, b)) / 2, which tends to the exact OT cost as eps -> 0.
// A solve that does not reach -sinkhorn_tol (L1 marginal violation) within -sinkhorn_max_iterations returns
// kIterationLimit with the violation reached; it never falls back to anything else.
//
// Invalid input (different dimensions, negative or non-finite weights, weights not summing to 1 within
// -ot_weight_tol, empty sets, non-finite coordinates) throws InputError naming the argument and the value.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

namespace pushpull {

class OptionsDatabase;

// Points, one per row (the layout of HDF5 point datasets and of RowMatrixXd in field.hpp).
using PointMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

enum class TransportCost { kSquaredEuclidean, kEuclidean };
const char* ToString(TransportCost cost);  // "sqeuclidean", "euclidean"
// The name of the optimal value: "W2^2" for kSquaredEuclidean, "W1" for kEuclidean.
const char* OptimalCostName(TransportCost cost);
TransportCost ParseTransportCost(std::string_view name);  // throws InputError naming the value

// How a solve ended. Codes are stable (stored in HDF5 `status`).
enum class TransportStatus {
  kSuccess = 0,            // exact: certificate within tolerance; Sinkhorn: marginals within -sinkhorn_tol
  kCertificateFailed = 1,  // exact: the solver finished but the certificate exceeds -ot_certificate_rtol
  kIterationLimit = 2,     // Sinkhorn: -sinkhorn_max_iterations reached before -sinkhorn_tol
  kInfeasible = 3,         // network simplex reported no feasible flow (should not happen for valid weights)
  kNumericalFailure = 4,   // non-finite potentials or costs appeared
};
const char* ToString(TransportStatus status);
bool Usable(TransportStatus status);  // kSuccess only

// Options of the exact solvers (-ot_*).
struct ExactTransportOptions {
  std::string cost = "sqeuclidean";  // -ot_cost: sqeuclidean | euclidean
  std::string solver = "auto";       // -ot_solver: auto | assignment | network_simplex
  double certificate_rtol = 1e-9;    // -ot_certificate_rtol: gap and reduced-cost violation <= this * max C
  double marginal_tol = 1e-12;       // -ot_marginal_tol: max |P 1 - a|, |P^T 1 - b| for kSuccess
  double weight_tol = 1e-9;          // -ot_weight_tol: |sum a - 1| and |sum b - 1| accepted (then renormalised)
  int mass_bits = 50;                // -ot_mass_bits: network simplex masses as integers summing to 2^mass_bits
  int cost_bits = 46;                // -ot_cost_bits: network simplex costs as integers up to 2^cost_bits
  int threads = 0;                   // -ot_threads: cost matrix and certificate workers; 0 = all cores

  void SetFromOptions(OptionsDatabase& db, std::string_view prefix = "");
  std::string Validate() const;  // empty when valid, else the error SetFromOptions would give
};

struct TransportCertificate {
  double primal = 0;                     // <P, C>
  double dual = 0;                       // sum a_i u_i + sum b_j v_j
  double duality_gap = 0;                // |primal - dual|
  double max_reduced_cost_violation = 0; // max over all (i, j) of max(0, u_i + v_j - C_ij)
  double max_marginal_violation = 0;     // max(|P 1 - a|_inf, |P^T 1 - b|_inf)
  double cost_scale = 0;                 // max C_ij: the scale the relative tolerances refer to
};

struct ExactTransportResult {
  TransportStatus status = TransportStatus::kSuccess;
  std::string message;  // empty on success; otherwise what failed and what to change
  bool usable() const { return Usable(status); }

  std::string solver;   // "assignment" or "network_simplex"
  TransportCost cost_type = TransportCost::kSquaredEuclidean;
  std::string cost_name;  // "W2^2" or "W1"
  double cost = 0;        // the optimal value <P, C> (= certificate.primal)
  // The plan in sparse form (at most n + m - 1 entries; n for an assignment): P(rows[k], cols[k]) = masses[k].
  std::vector<std::int64_t> rows, cols;
  std::vector<double> masses;
  // Dual potentials: u_i + v_j <= C_ij, with equality on the support of the plan.
  Eigen::VectorXd u, v;
  TransportCertificate certificate;
  std::int64_t iterations = 0;  // assignment: shortest-path steps; network simplex: not reported by LEMON (0)
  int cost_bits_used = 0;       // network simplex: the cost grid actually used
  double seconds = 0;           // wall time of the solve (cost matrix included)
};

// Solves exact OT between the rows of x (n x d) and y (m x d) with weights a, b (empty = uniform).
ExactTransportResult SolveExactTransport(const PointMatrix& x, const PointMatrix& y, const Eigen::VectorXd& a,
                                         const Eigen::VectorXd& b, const ExactTransportOptions& options = {});
// Same on a given dense cost matrix (n x m, row-major); cost_type then only names the result.
ExactTransportResult SolveExactTransportCost(const PointMatrix& cost, const Eigen::VectorXd& a,
                                             const Eigen::VectorXd& b, const ExactTransportOptions& options = {});

// The dense cost matrix C_ij (row-major), computed directly from differences (no |x|^2 + |y|^2 - 2 x.y
// cancellation), in parallel over row blocks.
PointMatrix TransportCostMatrix(const PointMatrix& x, const PointMatrix& y, TransportCost cost, int threads = 0);

// The certificate of a plan and potentials on a cost matrix (what SolveExactTransport reports).
TransportCertificate ComputeTransportCertificate(const PointMatrix& cost, const Eigen::VectorXd& a,
                                                 const Eigen::VectorXd& b, const std::vector<std::int64_t>& rows,
                                                 const std::vector<std::int64_t>& cols,
                                                 const std::vector<double>& masses, const Eigen::VectorXd& u,
                                                 const Eigen::VectorXd& v, int threads = 0);

// ---- Entropic OT ---------------------------------------------------------------------------------------------

struct SinkhornOptions {
  std::string cost = "sqeuclidean";  // -sinkhorn_cost
  double epsilon = 1e-2;             // -sinkhorn_epsilon: the final regularisation (cost units, absolute)
  double scaling = 0.5;              // -sinkhorn_scaling: eps_{k+1} = scaling * eps_k from max C (1 = no scaling)
  double tol = 1e-9;                 // -sinkhorn_tol: L1 marginal violation |P^T 1 - b|_1 at the final epsilon
  double stage_tol = 1e-3;           // -sinkhorn_stage_tol: the same test ends each intermediate epsilon stage
  bool overrelaxation = true;        // -sinkhorn_overrelaxation: SOR with omega adapted from the observed rate
  int overrelaxation_window = 20;    // -sinkhorn_overrelaxation_window: iterations per rate measurement
  double overrelaxation_max = 1.95;  // -sinkhorn_overrelaxation_max: omega at most (< 2)
  int max_iterations = 10000;        // -sinkhorn_max_iterations: iterations at the final epsilon
  int stage_max_iterations = 100;    // -sinkhorn_stage_max_iterations: iterations at each intermediate epsilon
  bool debiased = true;              // -sinkhorn_debiased: also solve OT_eps(a, a), OT_eps(b, b) for S_eps
  int threads = 0;                   // -sinkhorn_threads: 0 = all cores
  // -sinkhorn_thread_min_entries: cost-matrix entries each thread must get per sweep for the sweeps to be split over
  // threads (smaller problems use fewer threads, down to the calling thread alone; see ThreadsForWork)
  double thread_min_entries = 262144;
  // Not an option: when set, called after every marginal test with (solve: 0 = OT_eps(a, b), 1 = OT_eps(a, a),
  // 2 = OT_eps(b, b); epsilon of the stage; iterations of that solve so far; L1 marginal violation), on the calling
  // thread. For convergence traces (bench_transport).
  std::function<void(int solve, double epsilon, int iterations, double violation)> monitor;

  void SetFromOptions(OptionsDatabase& db, std::string_view prefix = "");
  std::string Validate() const;
};

// One entropic problem OT_eps(a, b).
struct SinkhornSolve {
  TransportStatus status = TransportStatus::kSuccess;
  std::string message;
  double transport_cost = 0;     // <P, C> of the entropic plan
  double entropic_cost = 0;      // the dual value sum a_i f_i + sum b_j g_j = OT_eps at convergence
  double marginal_violation = 0; // L1 violation of the marginals (row + column; the column one is 0 without
                                 // over-relaxation: exact after a g update)
  int iterations = 0;            // all iterations, epsilon stages included
  int stages = 0;                // epsilon values visited
  Eigen::VectorXd f, g;          // dual potentials (log-domain scalings times eps)
};

struct SinkhornResult {
  TransportStatus status = TransportStatus::kSuccess;  // the worst of the solves
  std::string message;
  bool usable() const { return Usable(status); }
  double epsilon = 0;
  std::string cost_name;   // "W2^2" or "W1" (what the divergence approximates)
  SinkhornSolve xy;        // OT_eps(a, b)
  SinkhornSolve xx, yy;    // OT_eps(a, a), OT_eps(b, b) (debiased only)
  // Debiased Sinkhorn divergence OT_eps(a, b) - (OT_eps(a, a) + OT_eps(b, b)) / 2 (NaN when not debiased).
  double divergence = std::numeric_limits<double>::quiet_NaN();
  double seconds = 0;
};

SinkhornResult SolveSinkhorn(const PointMatrix& x, const PointMatrix& y, const Eigen::VectorXd& a,
                             const Eigen::VectorXd& b, const SinkhornOptions& options = {});

}  // namespace pushpull

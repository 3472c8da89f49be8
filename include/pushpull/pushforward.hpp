// The pushforward engine: exact log-densities and samples of continuous normalizing flows (docs/math.md section 1).
//
// Problem: a velocity field v(x, t) on t in [0, 1] and the base time t_b (0 or 1) where N(0, I) lives.
//   Density of data points x: integrate dx/dt = v, da/dt = div v from t_d = 1 - t_b to t_b with a(t_d) = 0;
//     z = x(t_b), log p(x) = log N(z; 0, I) + a(t_b).
//   Sampling from base draws z: integrate from t_b to t_d with a(t_b) = 0; x = x(t_d),
//     log p(x) = log N(z; 0, I) - a(t_d).
// Kinetic energy K = int ||v||^2 dt, Jacobian Frobenius norm F = int ||dv/dx||_F^2 dt and the curl integral
// R = int ||dv/dx - (dv/dx)^T||_F^2 dt (absolute time) are carried as extra quadratures on request (in that order,
// after the divergence; requesting R changes no other number unless -ode_control_regularizers is on).
//
// Samples are integrated in blocks of `batch_size` as one ODE system (the field runs as matrix-matrix products),
// blocks are spread over `threads` workers, and results are bitwise identical for every thread count. A block whose
// integration fails is retried sample by sample with a smaller initial step; a sample that still fails is marked
// with its status and reason, and the batch continues.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "pushpull/field.hpp"
#include "pushpull/item_status.hpp"
#include "pushpull/monitor.hpp"
#include "pushpull/ode.hpp"
#include "pushpull/registry.hpp"
#include "pushpull/run_summary.hpp"

namespace pushpull {

class OptionsDatabase;

struct PushforwardOptions {
  OdeOptions ode;
  std::string trace_type = "exact";        // exact | hutchinson
  int trace_probes = 1;                     // Hutchinson probes per sample (held fixed along the trajectory)
  std::string trace_dist = "rademacher";   // rademacher | gaussian
  std::uint64_t seed = 0;                   // probes (and, for `sample`, base draws) derive from it
  bool kinetic = false;                     // carry K = int ||v||^2 dt
  bool frobenius = false;                   // carry F = int ||dv/dx||_F^2 dt
  bool curl = false;                        // carry R = int ||dv/dx - (dv/dx)^T||_F^2 dt (full Jacobian)
  int batch_size = 64;                      // samples integrated as one system
  int threads = 0;                          // workers; 0 = all cores
  double retry_initial_step = 1e-6;         // initial step of the one retry of a failed sample
  bool logdet_check = false;                // also integrate the variational equations (Jacobi's formula)
  std::vector<double> save_times;           // store x(t) at these times (trajectories)

  // Declares -<prefix>ode_* (all of OdeOptions; -<prefix>ode_monitor only with `monitor`: a program that installs
  // the step printer reads it) and the pushforward's own options, each checked against its declared bound.
  void SetFromOptions(OptionsDatabase& db, std::string_view prefix = "", bool monitor = false);
  // Empty when valid; otherwise the error SetFromOptions would give for these values (under ode.prefix).
  std::string Validate() const;
};

// A divergence estimator (registry -trace_type). One object serves one block of samples for one solve: Prepare is
// called once before the solve (draw anything that must stay fixed along the trajectories, e.g. Hutchinson probes,
// from a generator seeded per sample so results do not depend on batching), then Evaluate at every quadrature
// evaluation. Evaluate fills v (N x d), div (N) and, when `frobenius` is not null, ||dv/dx||_F^2 (N) or an unbiased
// estimate of it.
class TraceEstimator {
 public:
  virtual ~TraceEstimator() = default;
  virtual void Prepare(std::size_t first_sample, int count, int dim, const PushforwardOptions& options) {
    (void)first_sample, (void)count, (void)dim, (void)options;
  }
  virtual void Evaluate(const VectorField& field, double t, const BlockRef& x, RowMatrixXd& v, Eigen::VectorXd& div,
                        Eigen::VectorXd* frobenius) = 0;
  // With -curl: as Evaluate, and curl(i) = ||dv/dx - (dv/dx)^T||_F^2 of row i from the full Jacobian. The default
  // calls Evaluate and evaluates the Jacobian once more; "exact" gets everything from one Jacobian evaluation.
  virtual void EvaluateWithCurl(const VectorField& field, double t, const BlockRef& x, RowMatrixXd& v,
                                Eigen::VectorXd& div, Eigen::VectorXd* frobenius, Eigen::VectorXd& curl);
};
// ||J - J^T||_F^2 of each row of a Jacobian block (row i: J(r, c) = jac(i, r d + c)).
void CurlNorms(const RowMatrixXd& jac, int dim, Eigen::VectorXd& curl);
using TraceEstimatorRegistry = Registry<TraceEstimator>;
// "exact" (d tangent directions) and "hutchinson" (-trace_probes, -trace_dist, -seed); research code may add more.
TraceEstimatorRegistry& TraceEstimators();

struct PushforwardResult {
  int dim = 0;
  RowMatrixXd endpoints;              // N x d: the latent z (density runs) or the samples x (sampling runs)
  RowMatrixXd starts;                 // N x d: the points the integration started from
  Eigen::VectorXd log_density;        // N
  Eigen::VectorXd kinetic;            // N, when requested
  Eigen::VectorXd frobenius;          // N, when requested
  Eigen::VectorXd curl;               // N, when requested: int ||dv/dx - (dv/dx)^T||_F^2 dt
  Eigen::VectorXd divergence_integral;  // N: a = int_{t0}^{t1} div v dt along the trajectory (log|det| of the map)
  Eigen::VectorXd logdet;             // N, with logdet_check: log|det dx(t1)/dx(t0)| from the variational equations
  Eigen::VectorXd logdet_difference;  // N, with logdet_check: logdet - divergence_integral
  std::vector<std::int64_t> nfe;      // field evaluations of the sample's block (each evaluates all its samples)
  std::vector<std::int64_t> steps;    // integrator steps of the sample's block
  // Per sample: the OdeStatus (numeric value as stored in HDF5, -1 while not computed) and its message (empty on
  // success; otherwise what failed and what to change).
  std::vector<SampleStatus> status;
  std::vector<double> trajectories;   // N x T x d (row-major) at save_times, when requested
  OdeStats totals;                    // integrator statistics summed over every block and retry
  double seconds = 0;

  std::size_t size() const { return status.size(); }
  std::size_t failed() const;  // samples whose status is not usable
  // Counts by status, the totals and the time, for BriefReport / FullReport and WriteSummary (status_output.hpp).
  // `item` names one item in the reports ("sample", or "point" for the data points of a density run).
  RunSummary Summary(std::string task = "pushforward", std::string item = "sample") const;
};

// Called in sample order as soon as rows [first, first + count) are final (for streaming output), on the thread that
// called ComputeDensity / PushSamples (the blocks run on ParallelForOrdered, parallel.hpp). An exception thrown by a
// hook (or by a block) stops the run and reaches the caller after every worker has stopped.
using RowsDone = std::function<void(const PushforwardResult& partial, std::size_t first, std::size_t count)>;

struct PushforwardHooks {
  RowsDone rows_done;
  MonitorList<ProgressEvent>* progress = nullptr;
  std::function<void(const OdeStepEvent&)> step_monitor;  // steps of the first block
  // A resumed run: samples [0, first_row) are already done elsewhere; they are neither computed nor passed to
  // rows_done (their slots of the result stay NaN / "not computed"). A multiple of batch_size, or N. Every other
  // sample's result does not depend on it (blocks, seeds and probes are fixed by the sample index).
  std::size_t first_row = 0;
};

// Log-densities of data points (N x d).
PushforwardResult ComputeDensity(const VectorField& field, double base_time, const RowMatrixXd& points,
                                 const PushforwardOptions& options, const PushforwardHooks& hooks = {});
// Samples pushed forward from base draws z (N x d).
PushforwardResult PushSamples(const VectorField& field, double base_time, const RowMatrixXd& base_points,
                              const PushforwardOptions& options, const PushforwardHooks& hooks = {});
// N x d standard normal draws, deterministic in (seed, row): row i does not depend on N.
RowMatrixXd DrawStandardNormal(std::size_t n, int dim, std::uint64_t seed);
// log N(z; 0, I) of each row.
Eigen::VectorXd StandardNormalLogDensity(const RowMatrixXd& z);

}  // namespace pushpull

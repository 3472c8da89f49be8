// ODE integrators (registry `-ode_type`): CVODES BDF and Adams, ARKODE Dormand-Prince 5(4) and an ESDIRK method.
//
// An OdeSystem has states y (error-controlled, taking part in the Newton iteration of implicit methods) and
// quadratures q with q' = g(t, y) that never feed back into y (the log-density accumulator, the kinetic energy and
// Jacobian Frobenius integrals). CVODES integrates them as true quadratures, outside the Newton system; ARKODE
// carries them as extra states whose Newton coupling is exact (they enter the Newton matrix as identity rows).
//
// The states form `num_blocks()` independent blocks (the samples of a batch) of `block_size()` components: the
// Newton matrix I - gamma J is block diagonal and is factored block by block (never one dense (B d)^2 matrix),
// and the tolerances are divided by sqrt(num_blocks()) so that CVODE's weighted RMS error test bounds each
// block's own error: batching never loosens one sample's accuracy.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pushpull/registry.hpp"

namespace pushpull {

class OptionsDatabase;

// Which of the OdeOptions a user reads, and so declares under its prefix: an option nothing reads is not declared
// (the geodesic integrators have no regularizer quadratures, and the shots' variational integration has its own
// linear solver and needs CVODES).
struct OdeOptionSet {
  std::vector<std::string> types;    // the -ode_type choices; empty = every registered integrator
  bool linear_solver = true;         // -ode_linear_solver: read by the OdeIntegrators' implicit methods
  bool control_regularizers = true;  // -ode_control_regularizers: read by systems with controllable quadratures
  bool monitor = false;              // -ode_monitor: read by a program that installs a step printer (the CLI)
};

struct OdeOptions {
  std::string type = "bdf";             // registry name: bdf, adams, dopri5, esdirk (or one registered by the user)
  std::string linear_solver = "dense";  // implicit methods: dense (block-diagonal LU) or gmres (matrix-free)
  double rtol = 1e-6;                   // relative tolerance
  double atol = 1e-8;                   // absolute tolerance
  std::int64_t max_steps = 100000;      // steps allowed per integration
  int max_order = 0;                    // 0: the method's default (BDF 5, Adams 12)
  double initial_step = 0;              // 0: the solver's own estimate
  double max_step = 0;                  // 0: unlimited
  double nonlinear_convergence = 0.1;   // implicit methods' nonlinear convergence test coefficient (SUNDIALS' 0.1)
  bool control_regularizers = false;    // kinetic/Frobenius integrals take part in error control
  bool monitor = false;                 // print every step of the first block (-ode_monitor; OdeOptionSet::monitor)
  // The prefix these options are declared under (-<prefix>ode_rtol ...); SetFromOptions sets it, and messages
  // (Validate, Advice) name the options with it.
  std::string prefix;

  // Declares the options `-<prefix>ode_rtol` etc. that `set` says the user reads, applies values from the
  // database (each checked against its declared bound) and checks the constraints between them.
  void SetFromOptions(OptionsDatabase& db, std::string_view prefix = "", const OdeOptionSet& set = {});
  // Empty when valid; otherwise the error SetFromOptions would give for these values (under `prefix`).
  std::string Validate(const OdeOptionSet& set = {}) const;
};

// Right-hand sides follow the SUNDIALS contract: return 0 on success, > 0 for a recoverable failure (the solver
// retries with a smaller step: use it for non-finite field values), < 0 for an unrecoverable failure.
class OdeSystem {
 public:
  virtual ~OdeSystem() = default;
  virtual int num_blocks() const = 0;
  virtual int block_size() const = 0;  // states per block; num_states = num_blocks * block_size
  virtual int quadratures_per_block() const = 0;
  // Whether quadrature k of each block takes part in error control.
  virtual bool quadrature_controlled(int k) const = 0;

  // ydot = f(t, y); qdot = g(t, y) when qdot is not null. Both laid out block by block.
  virtual int Rhs(double t, const double* y, double* ydot, double* qdot) = 0;
  // The Jacobian blocks df/dy: num_blocks row-major block_size x block_size matrices.
  virtual int JacobianBlocks(double t, const double* y, double* blocks) = 0;
  // Jv = (df/dy) v.
  virtual int Jvp(double t, const double* y, const double* v, double* Jv) = 0;
  // Jv[j] = (df/dy) v[j] for m directions at the same y (forward sensitivities). The default calls Jvp for each;
  // systems that share work between directions override it.
  virtual int JvpMany(double t, const double* y, int m, const double* const* v, double* const* Jv) {
    for (int j = 0; j < m; ++j) {
      const int rc = Jvp(t, y, v[j], Jv[j]);
      if (rc != 0) return rc;
    }
    return 0;
  }
  // Gradient of quadrature k of each block with respect to that block's states (for ARKODE's implicit
  // methods, where quadratures are carried as states): num_blocks row-major (quadratures_per_block x block_size)
  // matrices. Return a negative value if not available (the Newton matrix then omits the coupling; the iteration
  // still converges because quadratures do not feed back).
  virtual int QuadratureGradients(double, const double*, double*) { return -1; }
};

enum class OdeStatus {
  kSuccess = 0,
  kTooMuchWork,          // -ode_max_steps reached
  kTooMuchAccuracy,      // tolerances below what float64 can give
  kErrorTestFailures,    // repeated error-test failures (step size underflow, often a singular field)
  kConvergenceFailures,  // repeated Newton convergence failures
  kRhsFailure,           // the field returned non-finite values that smaller steps did not cure
  kSetupFailure,         // the linear solver or its setup failed (singular Newton matrix)
  kOtherFailure,
};
const char* ToString(OdeStatus status);
// Whether an integration with this status produced a usable result: kSuccess only (ItemStatus, item_status.hpp).
inline bool Usable(OdeStatus status) { return status == OdeStatus::kSuccess; }
// A sentence on likely causes and the options to change, named with the prefix they were declared under
// (OdeOptions::prefix: -bvp_ode_rtol for a failed shot); `set` is what that prefix declares, so that the advice
// names only options that exist.
std::string Advice(OdeStatus status, std::string_view prefix = "", const OdeOptionSet& set = {});

struct OdeStats {
  std::int64_t steps = 0;
  std::int64_t rhs_evals = 0;          // evaluations of f for all blocks at once
  std::int64_t jacobian_evals = 0;
  std::int64_t linear_setups = 0;
  std::int64_t newton_iters = 0;
  std::int64_t newton_failures = 0;
  std::int64_t error_test_failures = 0;
  double last_step = 0;
  void Add(const OdeStats& o);
};

// Called after every internal step when -ode_monitor is on.
struct OdeStepEvent {
  double t = 0;
  double h = 0;
  std::int64_t step = 0;
  int order = 0;
};

struct OdeOutput {
  std::vector<double> times;                // requested output times inside (t0, t1], increasing in the
                                            // direction of integration
  std::function<void(std::size_t index, double t, const double* y, const double* q)> callback;
};

class OdeIntegrator {
 public:
  virtual ~OdeIntegrator() = default;
  // Integrates from t0 to t1 (t1 < t0 allowed). y and q hold the initial values and receive the final ones.
  // Never throws for numerical failure: returns the status and, in *message, what happened. An exception thrown
  // by the system's functions (a user's field or metric) stops the integration too: it is caught before it reaches
  // the C library, the status is a failure and *message ends with "an exception in <the callback>: <what()>".
  virtual OdeStatus Integrate(OdeSystem& system, double t0, double t1, double* y, double* q,
                              const OdeOutput* output, OdeStats* stats, std::string* message) = 0;
  std::function<void(const OdeStepEvent&)> step_monitor;  // optional
};

// Integrates the states together with `num_directions` variational (forward sensitivity) equations
// S' = (df/dy) S with CVODES and its forward-sensitivity module (options.type "adams": Adams with fixed-point
// iteration for states and sensitivities; any other type: BDF with Newton): `S` holds num_directions vectors of
// num_blocks * block_size entries (initial values in, final values out). Quadratures are not integrated.
// With `control_sensitivities` the sensitivities take part in error control (tolerances estimated from the state
// tolerances); without, they are integrated on the steps the states choose (cheaper per step, less accurate).
OdeStatus IntegrateVariational(OdeSystem& system, const OdeOptions& options, double t0, double t1, double* y,
                               int num_directions, double* S, OdeStats* stats, std::string* message,
                               bool control_sensitivities = true);

using OdeIntegratorRegistry = Registry<OdeIntegrator, const OdeOptions&>;
// The registry behind -ode_type: bdf, adams, dopri5, esdirk; research code may register its own.
OdeIntegratorRegistry& OdeIntegrators();

}  // namespace pushpull

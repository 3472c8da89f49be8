#include <cmath>

#include "pushpull/errors.hpp"
#include "pushpull/ode.hpp"
#include "pushpull/options.hpp"

namespace pushpull {

void OdeOptions::SetFromOptions(OptionsDatabase& db, std::string_view prefix) {
  db.SetSection("ODE integrator (prefix '" + std::string(prefix) + "')");
  db.Enum(prefix, "ode_type", type, "Integration method", "OdeOptions::type", OdeIntegrators().Names());
  db.Enum(prefix, "ode_linear_solver", linear_solver,
          "Newton linear solver of implicit methods: dense = block-diagonal LU of the exact per-sample Jacobians; "
          "gmres = matrix-free GMRES on exact Jacobian-vector products, block-Jacobi preconditioned",
          "OdeOptions::linear_solver", {"dense", "gmres"});
  db.Real(prefix, "ode_rtol", rtol, "Relative tolerance (per sample, whatever the batch size)", "OdeOptions::rtol",
          RealBounds::Positive());
  db.Real(prefix, "ode_atol", atol, "Absolute tolerance (per sample, whatever the batch size)", "OdeOptions::atol",
          RealBounds::Positive());
  db.Int(prefix, "ode_max_steps", max_steps, "Maximum number of steps of one integration", "OdeOptions::max_steps",
         IntBounds::AtLeast(1));
  db.Int(prefix, "ode_max_order", max_order, "Maximum order of BDF (<= 5) or Adams (<= 12); 0 = method default",
         "OdeOptions::max_order", {0, 12});
  db.Real(prefix, "ode_initial_step", initial_step, "Initial step size; 0 = the solver's estimate",
          "OdeOptions::initial_step", RealBounds::NonNegative());
  db.Real(prefix, "ode_max_step", max_step, "Maximum step size; 0 = unlimited", "OdeOptions::max_step",
          RealBounds::NonNegative());
  db.Real(prefix, "ode_nonlin_conv_coef", nonlinear_convergence,
          "Coefficient of the nonlinear convergence test of the implicit methods (CVODES bdf and adams, ARKODE "
          "esdirk): the corrector iteration stops once its error estimate is below this fraction of the local error "
          "tolerance; larger = fewer right-hand-side evaluations per step, slightly less accurate steps",
          "OdeOptions::nonlinear_convergence", RealBounds::Positive());
  db.Bool(prefix, "ode_control_regularizers", control_regularizers,
          "Whether the kinetic-energy and Jacobian-Frobenius integrals take part in error control",
          "OdeOptions::control_regularizers");
  db.Bool(prefix, "ode_monitor", monitor, "Print every step of the first block of samples to stderr",
          "OdeOptions::monitor");
  const std::string problem = Validate();
  if (!problem.empty()) throw InputError("option -" + std::string(prefix) + problem);
}

std::string OdeOptions::Validate() const {
  if (!(rtol > 0)) return "ode_rtol: " + FormatReal(rtol) + " must be > 0";
  if (!(atol > 0)) return "ode_atol: " + FormatReal(atol) + " must be > 0";
  if (max_steps < 1) return "ode_max_steps: " + std::to_string(max_steps) + " must be >= 1";
  if (!(nonlinear_convergence > 0)) {
    return "ode_nonlin_conv_coef: " + FormatReal(nonlinear_convergence) + " must be > 0";
  }
  if (type == "bdf" && max_order > 5) return "ode_max_order: " + std::to_string(max_order) + " exceeds 5 for bdf";
  if (max_order < 0 || max_order > 12) return "ode_max_order: " + std::to_string(max_order) + " must be in [0, 12]";
  if (initial_step < 0) return "ode_initial_step: must be >= 0";
  if (max_step < 0) return "ode_max_step: must be >= 0";
  if (max_step > 0 && initial_step > max_step) {
    return "ode_initial_step: " + FormatReal(initial_step) + " exceeds -ode_max_step " + FormatReal(max_step);
  }
  if (linear_solver != "dense" && linear_solver != "gmres") {
    return "ode_linear_solver: '" + linear_solver + "' must be dense or gmres";
  }
  return {};
}

const char* ToString(OdeStatus status) {
  switch (status) {
    case OdeStatus::kSuccess: return "success";
    case OdeStatus::kTooMuchWork: return "too_much_work";
    case OdeStatus::kTooMuchAccuracy: return "too_much_accuracy";
    case OdeStatus::kErrorTestFailures: return "error_test_failures";
    case OdeStatus::kConvergenceFailures: return "convergence_failures";
    case OdeStatus::kRhsFailure: return "field_failure";
    case OdeStatus::kSetupFailure: return "linear_solver_failure";
    case OdeStatus::kOtherFailure: return "solver_failure";
  }
  return "?";
}

std::string Advice(OdeStatus status) {
  switch (status) {
    case OdeStatus::kSuccess: return "";
    case OdeStatus::kTooMuchWork:
      return "the step limit was reached: raise -ode_max_steps, loosen -ode_rtol/-ode_atol, or use -ode_type bdf "
             "if the flow is stiff";
    case OdeStatus::kTooMuchAccuracy:
      return "the tolerances are below what float64 allows at this scale: raise -ode_rtol/-ode_atol";
    case OdeStatus::kErrorTestFailures:
      return "repeated error-test failures with the minimum step: the field may be singular or discontinuous "
             "here; check the model near this point";
    case OdeStatus::kConvergenceFailures:
      return "repeated Newton convergence failures: try -ode_linear_solver dense, a smaller -ode_max_step, or an "
             "explicit method (-ode_type dopri5) if the flow is not stiff";
    case OdeStatus::kRhsFailure:
      return "the field returned non-finite values that smaller steps did not cure: the trajectory left the "
             "region where the model is finite";
    case OdeStatus::kSetupFailure:
      return "the Newton matrix could not be factored (singular): try -ode_type adams or dopri5";
    case OdeStatus::kOtherFailure: return "the integrator failed; rerun with -ode_monitor to see the steps";
  }
  return "";
}

void OdeStats::Add(const OdeStats& o) {
  steps += o.steps;
  rhs_evals += o.rhs_evals;
  jacobian_evals += o.jacobian_evals;
  linear_setups += o.linear_setups;
  newton_iters += o.newton_iters;
  newton_failures += o.newton_failures;
  error_test_failures += o.error_test_failures;
  last_step = o.last_step;
}

}  // namespace pushpull

#include <algorithm>
#include <cmath>

#include "pushpull/errors.hpp"
#include "pushpull/ode.hpp"
#include "pushpull/options.hpp"

namespace pushpull {

void OdeOptions::SetFromOptions(OptionsDatabase& db, std::string_view p, const OdeOptionSet& set) {
  prefix = std::string(p);
  db.SetSection("ODE integrator (prefix '" + prefix + "')");
  db.Enum(p, "ode_type", type, "Integration method", "OdeOptions::type",
          set.types.empty() ? OdeIntegrators().Names() : set.types);
  if (set.linear_solver) {
    db.Enum(p, "ode_linear_solver", linear_solver,
            "Newton linear solver of implicit methods: dense = block-diagonal LU of the exact per-sample Jacobians; "
            "gmres = matrix-free GMRES on exact Jacobian-vector products, block-Jacobi preconditioned",
            "OdeOptions::linear_solver", {"dense", "gmres"});
  }
  db.Real(p, "ode_rtol", rtol, "Relative tolerance (per sample, whatever the batch size)", "OdeOptions::rtol",
          RealBounds::Positive());
  db.Real(p, "ode_atol", atol, "Absolute tolerance (per sample, whatever the batch size)", "OdeOptions::atol",
          RealBounds::Positive());
  db.Int(p, "ode_max_steps", max_steps, "Maximum number of steps of one integration", "OdeOptions::max_steps",
         IntBounds::AtLeast(1));
  db.Int(p, "ode_max_order", max_order, "Maximum order of BDF (<= 5) or Adams (<= 12); 0 = method default",
         "OdeOptions::max_order", {0, 12});
  db.Real(p, "ode_initial_step", initial_step, "Initial step size; 0 = the solver's estimate",
          "OdeOptions::initial_step", RealBounds::NonNegative());
  db.Real(p, "ode_max_step", max_step, "Maximum step size; 0 = unlimited", "OdeOptions::max_step",
          RealBounds::NonNegative());
  db.Real(p, "ode_nonlin_conv_coef", nonlinear_convergence,
          "Coefficient of the nonlinear convergence test of the implicit methods (CVODES bdf and adams, ARKODE "
          "esdirk): the corrector iteration stops once its error estimate is below this fraction of the local error "
          "tolerance; larger = fewer right-hand-side evaluations per step, slightly less accurate steps",
          "OdeOptions::nonlinear_convergence", RealBounds::Positive());
  if (set.control_regularizers) {
    db.Bool(p, "ode_control_regularizers", control_regularizers,
            "Whether the kinetic-energy and Jacobian-Frobenius integrals take part in error control",
            "OdeOptions::control_regularizers");
  }
  if (set.monitor) {
    db.Bool(p, "ode_monitor", monitor, "Print every step of the first block of samples to stderr",
            "OdeOptions::monitor");
  }
  // The constraints between options (each option's own bound is in its declaration above).
  if (type == "bdf" && max_order > 5) {
    throw InputError("option -" + prefix + "ode_max_order: " + std::to_string(max_order) +
                     " exceeds 5, the highest order of -" + prefix + "ode_type bdf");
  }
  if (max_step > 0 && initial_step > max_step) {
    throw InputError("option -" + prefix + "ode_initial_step: " + FormatReal(initial_step) + " exceeds -" + prefix +
                     "ode_max_step " + FormatReal(max_step));
  }
}

std::string OdeOptions::Validate(const OdeOptionSet& set) const {
  OdeOptions copy = *this;
  return CheckDeclared([&](OptionsDatabase& db) { copy.SetFromOptions(db, prefix, set); });
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

std::string Advice(OdeStatus status, std::string_view prefix, const OdeOptionSet& set) {
  const std::string o = "-" + std::string(prefix) + "ode_";
  const auto allowed = [&](const char* type) {
    return set.types.empty() ? OdeIntegrators().Has(type)
                             : std::find(set.types.begin(), set.types.end(), type) != set.types.end();
  };
  switch (status) {
    case OdeStatus::kSuccess: return "";
    case OdeStatus::kTooMuchWork:
      return "the step limit was reached: raise " + o + "max_steps, loosen " + o + "rtol/" + o + "atol" +
             (allowed("bdf") ? ", or use " + o + "type bdf if the flow is stiff" : std::string());
    case OdeStatus::kTooMuchAccuracy:
      return "the tolerances are below what float64 allows at this scale: raise " + o + "rtol/" + o + "atol";
    case OdeStatus::kErrorTestFailures:
      return "repeated error-test failures with the minimum step: the field may be singular or discontinuous "
             "here; check the model near this point";
    case OdeStatus::kConvergenceFailures: {
      std::string advice = "repeated Newton convergence failures: try ";
      if (set.linear_solver) advice += o + "linear_solver dense, ";
      advice += "a smaller " + o + "max_step";
      if (allowed("dopri5")) {
        advice += ", or an explicit method (" + o + "type dopri5) if the flow is not stiff";
      } else if (allowed("adams")) {
        advice += ", or " + o + "type adams (fixed-point iteration) if the flow is not stiff";
      }
      return advice;
    }
    case OdeStatus::kRhsFailure:
      return "the field returned non-finite values that smaller steps did not cure: the trajectory left the "
             "region where the model is finite";
    case OdeStatus::kSetupFailure:
      return "the Newton matrix could not be factored (singular): try " + o + "type adams" +
             (allowed("dopri5") ? std::string(" or dopri5") : std::string());
    case OdeStatus::kOtherFailure:
      return set.monitor ? "the integrator failed; rerun with " + o + "monitor to see the steps"
                         : std::string("the integrator failed");
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

// RAII ownership of SUNDIALS objects, the one place that creates a SUNContext (SUNDIALS 7 changes its
// signature), and the checks of SUNDIALS return codes. Internal to the solvers.
#pragma once

#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sundials/sundials_linearsolver.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/callback_barrier.hpp"
#include "pushpull/ode.hpp"

namespace pushpull::sundials {

// Every SUNDIALS call's return code goes through Check: a negative flag (a failed call) throws std::runtime_error
// naming the function and the flag, as `flag_name` spells it (CVodeGetReturnFlagName, CVodeGetLinReturnFlagName,
// ARKStepGetReturnFlagName, ...: SUNDIALS 6 allocates the name, which is freed here). Set-up and query calls fail
// only on a programming error or an exhausted memory, never for a numerical reason: the integration stops there.
// The time-stepping calls themselves (CVode, ARKStepEvolve) return their flag to the integrator, which maps it to a
// status.
inline void Check(int flag, const char* function, char* (*flag_name)(long int)) {
  if (flag >= 0) return;
  char* name = flag_name(flag);
  const std::string spelled = name ? name : "an unknown flag";
  std::free(name);
  throw std::runtime_error(std::string("SUNDIALS: ") + function + " failed with " + spelled + " (" +
                           std::to_string(flag) + ")");
}
// The same for a constructor (N_VNew_Serial, CVodeCreate, SUNLinSol_SPGMR, ...), which returns null on failure.
template <class T>
T* CheckCreated(T* created, const char* function) {
  if (!created) throw std::runtime_error(std::string("SUNDIALS: ") + function + " failed (out of memory?)");
  return created;
}
// Calls `function(args...)` and checks its return code with the flag names of `flag_name`.
#define PUSHPULL_SUNDIALS_CALL(flag_name, function, ...) \
  ::pushpull::sundials::Check(function(__VA_ARGS__), #function, flag_name)

// The failure code the callbacks return to SUNDIALS when the barrier caught an exception: unrecoverable, so the
// solver stops at once (no retry with a smaller step).
constexpr int kCallbackException = -1;

// The message of an integration that stopped: "<solver> stopped at t = <t>: <status>", followed by the exception a
// callback threw, if any.
inline std::string StopMessage(const std::string& solver, double t, OdeStatus status, const CallbackBarrier& barrier) {
  std::string m = solver + " stopped at t = " + std::to_string(t) + ": " + ToString(status);
  if (barrier.caught()) m += "; " + barrier.message();
  return m;
}

class Context {
 public:
  Context();
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  SUNContext get() const { return ctx_; }

 private:
  SUNContext ctx_ = nullptr;
};

struct VectorDeleter {
  void operator()(_generic_N_Vector* v) const { N_VDestroy(v); }
};
using Vector = std::unique_ptr<_generic_N_Vector, VectorDeleter>;
inline Vector NewVector(sunindextype n, const Context& ctx) {
  Vector v(CheckCreated(N_VNew_Serial(n, ctx.get()), "N_VNew_Serial"));
  // Fused vector operations: the integrators update their history arrays (and the sensitivities) with one call per
  // array instead of one per vector, which matters for the small systems of geodesics (about 6% of a shot).
  if (N_VEnableFusedOps_Serial(v.get(), SUNTRUE) != 0) {
    throw std::runtime_error("SUNDIALS: N_VEnableFusedOps_Serial failed");
  }
  return v;
}
inline double* Data(N_Vector v) { return N_VGetArrayPointer(v); }

struct LinearSolverDeleter {
  void operator()(_generic_SUNLinearSolver* s) const { SUNLinSolFree(s); }
};
using LinearSolver = std::unique_ptr<_generic_SUNLinearSolver, LinearSolverDeleter>;

}  // namespace pushpull::sundials

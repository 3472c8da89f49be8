// RAII ownership of SUNDIALS objects and the one place that creates a SUNContext (SUNDIALS 7 changes its
// signature). Internal to the solvers.
#pragma once

#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sundials/sundials_linearsolver.h>

#include <memory>

namespace pushpull::sundials {

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
  Vector v(N_VNew_Serial(n, ctx.get()));
  // Fused vector operations: the integrators update their history arrays (and the sensitivities) with one call per
  // array instead of one per vector, which matters for the small systems of geodesics (about 6% of a shot).
  N_VEnableFusedOps_Serial(v.get(), SUNTRUE);
  return v;
}
inline double* Data(N_Vector v) { return N_VGetArrayPointer(v); }

struct LinearSolverDeleter {
  void operator()(_generic_SUNLinearSolver* s) const { SUNLinSolFree(s); }
};
using LinearSolver = std::unique_ptr<_generic_SUNLinearSolver, LinearSolverDeleter>;

}  // namespace pushpull::sundials

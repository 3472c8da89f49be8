// A SUNDIALS linear solver ("matrix-embedded") for Newton matrices that are block diagonal: B independent blocks
// I - gamma J_b of size s x s, each factored by its own LU. Optional trailing quadrature rows (ARKODE carries
// quadratures as states) are solved by forward substitution. Internal to the solvers.
//
// (SUNDIALS 6.4 never calls the setup of a matrix-embedded solver that has no preconditioner, so the direct solver
// is built on the preconditioner interface, which hands it t, y and gamma.)
#pragma once

#include "pushpull/ode.hpp"
#include "sundials_support.hpp"

namespace pushpull::sundials {

// The direct solver behind -ode_linear_solver dense: applies the block-Jacobi preconditioner (the exact Newton
// matrix, factored block by block) once. The integrator must register BlockJacobiPreconditioner's setup and solve
// as its preconditioner functions (CVodeSetPreconditioner / ARKStepSetPreconditioner).
LinearSolver MakeBlockDiagonalSolver(const Context& ctx, OdeStats* stats);

// A block-Jacobi preconditioner (the same block LU) for SUNDIALS' GMRES, in the CVODE/ARKODE psetup/psolve
// form, sharing the factorisation code with the direct solver.
class BlockJacobiPreconditioner {
 public:
  BlockJacobiPreconditioner(OdeSystem& system, bool with_quadratures, OdeStats* stats);
  ~BlockJacobiPreconditioner();
  int Setup(double t, const double* y, double gamma);
  void Solve(const double* r, double* z) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pushpull::sundials

#include "block_linear_solver.hpp"

#include <Eigen/Dense>

#include "pushpull/event_log.hpp"
#include <vector>

namespace pushpull::sundials {

struct BlockJacobiPreconditioner::Impl {
  OdeSystem& system;
  bool with_quadratures;
  OdeStats* stats;
  int blocks, size, quads;
  std::vector<double> jacobian;                  // blocks x size x size
  std::vector<double> quad_gradients;            // blocks x quads x size (empty when unavailable)
  std::vector<Eigen::PartialPivLU<Eigen::MatrixXd>> lu;
  double gamma = 0;

  Impl(OdeSystem& s, bool wq, OdeStats* st)
      : system(s),
        with_quadratures(wq),
        stats(st),
        blocks(s.num_blocks()),
        size(s.block_size()),
        quads(s.quadratures_per_block()),
        jacobian(static_cast<std::size_t>(blocks) * size * size),
        lu(static_cast<std::size_t>(blocks)) {}

  int Setup(double t, const double* y, double g) {
    static const int kEvent = EventLog::Global().Register("NewtonMatrixSetup");
    ScopedEvent timer(kEvent);
    gamma = g;
    const int rc = system.JacobianBlocks(t, y, jacobian.data());
    if (stats) ++stats->jacobian_evals;
    if (rc != 0) return rc;
    if (with_quadratures && quads > 0) {
      quad_gradients.assign(static_cast<std::size_t>(blocks) * quads * size, 0.0);
      if (system.QuadratureGradients(t, y, quad_gradients.data()) < 0) quad_gradients.clear();
    }
    Eigen::MatrixXd m(size, size);
    for (int b = 0; b < blocks; ++b) {
      Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> J(
          jacobian.data() + static_cast<std::size_t>(b) * size * size, size, size);
      m = -gamma * J;
      m.diagonal().array() += 1.0;
      lu[static_cast<std::size_t>(b)].compute(m);
      const double det = lu[static_cast<std::size_t>(b)].determinant();
      if (!std::isfinite(det) || det == 0.0) return 1;  // recoverable: the solver retries with a smaller step
    }
    return 0;
  }

  void Solve(const double* r, double* z) const {
    static const int kEvent = EventLog::Global().Register("NewtonLinearSolve");
    ScopedEvent timer(kEvent);
    const std::size_t n_states = static_cast<std::size_t>(blocks) * size;
    for (int b = 0; b < blocks; ++b) {
      Eigen::Map<const Eigen::VectorXd> rb(r + static_cast<std::size_t>(b) * size, size);
      Eigen::Map<Eigen::VectorXd> zb(z + static_cast<std::size_t>(b) * size, size);
      zb = lu[static_cast<std::size_t>(b)].solve(rb);
    }
    if (with_quadratures && quads > 0) {
      // Rows q - gamma G x_s = r_q  =>  q = r_q + gamma G x_s.
      for (std::size_t i = 0; i < static_cast<std::size_t>(blocks) * quads; ++i) z[n_states + i] = r[n_states + i];
      if (!quad_gradients.empty()) {
        for (int b = 0; b < blocks; ++b) {
          for (int k = 0; k < quads; ++k) {
            const double* g = quad_gradients.data() + (static_cast<std::size_t>(b) * quads + k) * size;
            double dot = 0;
            for (int j = 0; j < size; ++j) dot += g[j] * z[static_cast<std::size_t>(b) * size + j];
            z[n_states + static_cast<std::size_t>(b) * quads + k] += gamma * dot;
          }
        }
      }
    }
  }
};

BlockJacobiPreconditioner::BlockJacobiPreconditioner(OdeSystem& system, bool with_quadratures, OdeStats* stats)
    : impl_(std::make_unique<Impl>(system, with_quadratures, stats)) {}
BlockJacobiPreconditioner::~BlockJacobiPreconditioner() = default;
int BlockJacobiPreconditioner::Setup(double t, const double* y, double gamma) { return impl_->Setup(t, y, gamma); }
void BlockJacobiPreconditioner::Solve(const double* r, double* z) const { impl_->Solve(r, z); }

namespace {

// A "linear solver" that applies the block-diagonal preconditioner exactly once. Because the preconditioner is the
// Newton matrix I - gamma J itself (factored block by block), one application is the direct solve. Declared to
// SUNDIALS as iterative so that the integrators route their Jacobian updates through psetup (with t, y, gamma).
struct Content {
  void* p_data = nullptr;
  SUNPSetupFn psetup = nullptr;
  SUNPSolveFn psolve = nullptr;
  OdeStats* stats = nullptr;
  sunindextype last_flag = 0;
};

Content* Get(SUNLinearSolver S) { return static_cast<Content*>(S->content); }

SUNLinearSolver_Type GetType(SUNLinearSolver) { return SUNLINEARSOLVER_ITERATIVE; }
SUNLinearSolver_ID GetId(SUNLinearSolver) { return SUNLINEARSOLVER_CUSTOM; }
int SetATimes(SUNLinearSolver, void*, SUNATimesFn) { return SUNLS_SUCCESS; }
int SetPreconditioner(SUNLinearSolver S, void* p_data, SUNPSetupFn psetup, SUNPSolveFn psolve) {
  Get(S)->p_data = p_data;
  Get(S)->psetup = psetup;
  Get(S)->psolve = psolve;
  return SUNLS_SUCCESS;
}
int SetScalingVectors(SUNLinearSolver, N_Vector, N_Vector) { return SUNLS_SUCCESS; }
int Initialize(SUNLinearSolver) { return SUNLS_SUCCESS; }

int Setup(SUNLinearSolver S, SUNMatrix) {
  Content* c = Get(S);
  if (!c->psetup) return SUNLS_PSET_FAIL_UNREC;
  if (c->stats) ++c->stats->linear_setups;
  const int rc = c->psetup(c->p_data);
  c->last_flag = rc;
  return rc == 0 ? SUNLS_SUCCESS : (rc > 0 ? SUNLS_PSET_FAIL_REC : SUNLS_PSET_FAIL_UNREC);
}

int Solve(SUNLinearSolver S, SUNMatrix, N_Vector x, N_Vector b, double) {
  Content* c = Get(S);
  if (!c->psolve) return SUNLS_PSOLVE_FAIL_UNREC;
  const int rc = c->psolve(c->p_data, b, x, 0.0, SUN_PREC_LEFT);
  c->last_flag = rc;
  return rc == 0 ? SUNLS_SUCCESS : (rc > 0 ? SUNLS_PSOLVE_FAIL_REC : SUNLS_PSOLVE_FAIL_UNREC);
}

int NumIters(SUNLinearSolver) { return 1; }
double ResNorm(SUNLinearSolver) { return 0.0; }
sunindextype LastFlag(SUNLinearSolver S) { return Get(S)->last_flag; }

int Free(SUNLinearSolver S) {
  if (!S) return SUNLS_SUCCESS;
  delete Get(S);
  S->content = nullptr;
  SUNLinSolFreeEmpty(S);
  return SUNLS_SUCCESS;
}

}  // namespace

LinearSolver MakeBlockDiagonalSolver(const Context& ctx, OdeStats* stats) {
  SUNLinearSolver S = SUNLinSolNewEmpty(ctx.get());
  auto* content = new Content;
  content->stats = stats;
  S->content = content;
  S->ops->gettype = GetType;
  S->ops->getid = GetId;
  S->ops->setatimes = SetATimes;
  S->ops->setpreconditioner = SetPreconditioner;
  S->ops->setscalingvectors = SetScalingVectors;
  S->ops->initialize = Initialize;
  S->ops->setup = Setup;
  S->ops->solve = Solve;
  S->ops->numiters = NumIters;
  S->ops->resnorm = ResNorm;
  S->ops->lastflag = LastFlag;
  S->ops->free = Free;
  return LinearSolver(S);
}

}  // namespace pushpull::sundials

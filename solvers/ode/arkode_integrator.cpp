// ARKODE integrators: explicit Dormand-Prince 5(4) (ERKStep) and an implicit ESDIRK 5(4) method (ARKStep).
// Quadratures are carried as extra states after the states; uncontrolled ones get zero error weight.
#include <arkode/arkode_arkstep.h>
#include <arkode/arkode_erkstep.h>
#include <sunlinsol/sunlinsol_spgmr.h>

#include <cmath>
#include <vector>

#include "block_linear_solver.hpp"
#include "integrators.hpp"
#include "pushpull/ode.hpp"

namespace pushpull {
namespace {

using sundials::Data;
using sundials::kCallbackException;

// ARKODE's calls, their return codes checked (ARKLS: the linear solver interface's own flags).
#define ARK_CALL(function, ...) PUSHPULL_SUNDIALS_CALL(ARKStepGetReturnFlagName, function, __VA_ARGS__)
#define ARKLS_CALL(function, ...) PUSHPULL_SUNDIALS_CALL(ARKStepGetLinReturnFlagName, function, __VA_ARGS__)
#define ERK_CALL(function, ...) PUSHPULL_SUNDIALS_CALL(ERKStepGetReturnFlagName, function, __VA_ARGS__)

struct UserData {
  OdeSystem* system;
  sunindextype n;                 // states
  sunindextype nq;                // quadratures
  int quads_per_block;
  double rtol, atol;              // already divided by sqrt(num_blocks)
  bool control_quadratures_of[8];  // per quadrature kind
  sundials::BlockJacobiPreconditioner* preconditioner = nullptr;
  CallbackBarrier barrier;  // of every callback below
};

int Rhs(double t, N_Vector y, N_Vector ydot, void* user) {
  auto* u = static_cast<UserData*>(user);
  return u->barrier.Run("the right-hand side", kCallbackException,
                        [&] { return u->system->Rhs(t, Data(y), Data(ydot), u->nq > 0 ? Data(ydot) + u->n : nullptr); });
}

int ErrorWeights(N_Vector y, N_Vector w, void* user) {
  auto* u = static_cast<UserData*>(user);
  const double* yd = Data(y);
  double* wd = Data(w);
  for (sunindextype i = 0; i < u->n; ++i) wd[i] = 1.0 / (u->rtol * std::abs(yd[i]) + u->atol);
  for (sunindextype i = 0; i < u->nq; ++i) {
    const bool controlled = u->control_quadratures_of[i % u->quads_per_block];
    wd[u->n + i] = controlled ? 1.0 / (u->rtol * std::abs(yd[u->n + i]) + u->atol) : 0.0;
  }
  return 0;
}

int JacTimes(N_Vector v, N_Vector Jv, double t, N_Vector y, N_Vector, void* user, N_Vector) {
  auto* u = static_cast<UserData*>(user);
  // Quadrature rows: their gradients are not available, so their part of Jv is left zero (they do not feed back).
  for (sunindextype i = 0; i < u->nq; ++i) Data(Jv)[u->n + i] = 0.0;
  return u->barrier.Run("the Jacobian-vector product", kCallbackException,
                        [&] { return u->system->Jvp(t, Data(y), Data(v), Data(Jv)); });
}

int PrecSetup(double t, N_Vector y, N_Vector, int, int* jcur, double gamma, void* user) {
  auto* u = static_cast<UserData*>(user);
  *jcur = 1;
  return u->barrier.Run("the Jacobian (Newton matrix set-up)", kCallbackException,
                        [&] { return u->preconditioner->Setup(t, Data(y), gamma); });
}

int PrecSolve(double, N_Vector, N_Vector, N_Vector r, N_Vector z, double, double, int, void* user) {
  auto* u = static_cast<UserData*>(user);
  return u->barrier.Run("the Newton linear solve", kCallbackException, [&] {
    u->preconditioner->Solve(Data(r), Data(z));
    return 0;
  });
}

// SUNDIALS' own messages are not printed: failures are reported through the status (and Check).
void ErrorHandler(int, const char*, const char*, char*, void*) {}

OdeStatus MapFlag(int flag) {
  switch (flag) {
    case ARK_SUCCESS:
    case ARK_TSTOP_RETURN:
    case ARK_ROOT_RETURN: return OdeStatus::kSuccess;
    case ARK_TOO_MUCH_WORK: return OdeStatus::kTooMuchWork;
    case ARK_TOO_MUCH_ACC: return OdeStatus::kTooMuchAccuracy;
    case ARK_ERR_FAILURE: return OdeStatus::kErrorTestFailures;
    case ARK_CONV_FAILURE: return OdeStatus::kConvergenceFailures;
    case ARK_RHSFUNC_FAIL:
    case ARK_FIRST_RHSFUNC_ERR:
    case ARK_REPTD_RHSFUNC_ERR:
    case ARK_UNREC_RHSFUNC_ERR: return OdeStatus::kRhsFailure;
    case ARK_LSETUP_FAIL:
    case ARK_LSOLVE_FAIL: return OdeStatus::kSetupFailure;
    default: return OdeStatus::kOtherFailure;
  }
}

class ArkodeIntegrator : public OdeIntegrator {
 public:
  ArkodeIntegrator(const OdeOptions& options, bool implicit) : options_(options), implicit_(implicit) {}

  OdeStatus Integrate(OdeSystem& system, double t0, double t1, double* y, double* q, const OdeOutput* output,
                      OdeStats* stats, std::string* message) override {
    const int B = system.num_blocks();
    const int m = system.quadratures_per_block();
    if (m > 8) {
      if (message) *message = "at most 8 quadratures per block are supported by the ARKODE integrators";
      return OdeStatus::kOtherFailure;
    }
    const sunindextype n = static_cast<sunindextype>(B) * system.block_size();
    const sunindextype nq = static_cast<sunindextype>(B) * m;
    const double scale = 1.0 / std::sqrt(static_cast<double>(B));
    OdeStats local;
    OdeStats* st = stats ? stats : &local;
    UserData user{&system, n, nq, std::max(m, 1), options_.rtol * scale, options_.atol * scale, {}, nullptr, {}};
    for (int k = 0; k < m; ++k) user.control_quadratures_of[k] = system.quadrature_controlled(k);

    sundials::Vector yv = sundials::NewVector(n + nq, ctx_);
    std::copy(y, y + n, Data(yv.get()));
    if (nq > 0) std::copy(q, q + nq, Data(yv.get()) + n);

    void* mem = implicit_ ? sundials::CheckCreated(ARKStepCreate(nullptr, Rhs, t0, yv.get(), ctx_.get()), "ARKStepCreate")
                          : sundials::CheckCreated(ERKStepCreate(Rhs, t0, yv.get(), ctx_.get()), "ERKStepCreate");
    struct MemFree {
      void* mem;
      bool implicit;
      ~MemFree() {
        if (implicit) {
          ARKStepFree(&mem);
        } else {
          ERKStepFree(&mem);
        }
      }
    } guard{mem, implicit_};

    sundials::LinearSolver linear_solver;
    std::unique_ptr<sundials::BlockJacobiPreconditioner> preconditioner;
    if (implicit_) {
      ARK_CALL(ARKStepSetErrHandlerFn, mem, ErrorHandler, nullptr);
      ARK_CALL(ARKStepSetUserData, mem, &user);
      ARK_CALL(ARKStepWFtolerances, mem, ErrorWeights);
      ARK_CALL(ARKStepSetTableNum, mem, ARKODE_ESDIRK547L2SA_7_4_5, ARKODE_ERK_NONE);
      ARK_CALL(ARKStepSetMaxNumSteps, mem, static_cast<long>(options_.max_steps));
      if (options_.initial_step > 0) ARK_CALL(ARKStepSetInitStep, mem, options_.initial_step);
      if (options_.max_step > 0) ARK_CALL(ARKStepSetMaxStep, mem, options_.max_step);
      ARK_CALL(ARKStepSetStopTime, mem, t1);
      ARK_CALL(ARKStepSetNonlinConvCoef, mem, options_.nonlinear_convergence);
      // Refresh the block Jacobians at every step: they are cheap (d x d per sample) and a stale Newton matrix
      // degraded the accuracy of tight-tolerance solves.
      ARK_CALL(ARKStepSetLSetupFrequency, mem, 1);
      preconditioner = std::make_unique<sundials::BlockJacobiPreconditioner>(system, true, st);
      user.preconditioner = preconditioner.get();
      if (options_.linear_solver == "gmres") {
        linear_solver.reset(sundials::CheckCreated(SUNLinSol_SPGMR(yv.get(), SUN_PREC_LEFT, 0, ctx_.get()),
                                                   "SUNLinSol_SPGMR"));
        ARKLS_CALL(ARKStepSetLinearSolver, mem, linear_solver.get(), nullptr);
        ARKLS_CALL(ARKStepSetJacTimes, mem, nullptr, JacTimes);
      } else {
        linear_solver = sundials::MakeBlockDiagonalSolver(ctx_, st);
        ARKLS_CALL(ARKStepSetLinearSolver, mem, linear_solver.get(), nullptr);
      }
      ARKLS_CALL(ARKStepSetPreconditioner, mem, PrecSetup, PrecSolve);
    } else {
      ERK_CALL(ERKStepSetErrHandlerFn, mem, ErrorHandler, nullptr);
      ERK_CALL(ERKStepSetUserData, mem, &user);
      ERK_CALL(ERKStepWFtolerances, mem, ErrorWeights);
      ERK_CALL(ERKStepSetTableNum, mem, ARKODE_DORMAND_PRINCE_7_4_5);
      ERK_CALL(ERKStepSetMaxNumSteps, mem, static_cast<long>(options_.max_steps));
      if (options_.initial_step > 0) ERK_CALL(ERKStepSetInitStep, mem, options_.initial_step);
      if (options_.max_step > 0) ERK_CALL(ERKStepSetMaxStep, mem, options_.max_step);
      ERK_CALL(ERKStepSetStopTime, mem, t1);
    }

    const double direction = t1 >= t0 ? 1.0 : -1.0;
    std::size_t next_output = 0;
    sundials::Vector dky = sundials::NewVector(n + nq, ctx_);
    double t = t0;
    OdeStatus status = OdeStatus::kSuccess;
    std::int64_t steps_taken = 0;
    int flag = 0;
    while (direction * (t1 - t) > 0) {
      // One-step mode never reaches the solver's own step limit (it counts within one call): count here.
      if (++steps_taken > options_.max_steps) {
        status = OdeStatus::kTooMuchWork;
        break;
      }
      flag = implicit_ ? ARKStepEvolve(mem, t1, yv.get(), &t, ARK_ONE_STEP)
                       : ERKStepEvolve(mem, t1, yv.get(), &t, ARK_ONE_STEP);
      if (flag < 0) {
        status = MapFlag(flag);
        break;
      }
      if (step_monitor) {
        long steps = 0;
        double h = 0;
        if (implicit_) {
          ARK_CALL(ARKStepGetNumSteps, mem, &steps);
          ARK_CALL(ARKStepGetLastStep, mem, &h);
        } else {
          ERK_CALL(ERKStepGetNumSteps, mem, &steps);
          ERK_CALL(ERKStepGetLastStep, mem, &h);
        }
        step_monitor({t, h, steps, 5});  // both methods are fifth order (embedded fourth)
      }
      while (output && next_output < output->times.size() &&
             direction * (t - output->times[next_output]) >= 0) {
        const double to = output->times[next_output];
        if (implicit_) {
          ARK_CALL(ARKStepGetDky, mem, to, 0, dky.get());
        } else {
          ERK_CALL(ERKStepGetDky, mem, to, 0, dky.get());
        }
        output->callback(next_output, to, Data(dky.get()), nq > 0 ? Data(dky.get()) + n : nullptr);
        ++next_output;
      }
    }
    long v = 0, v2 = 0;
    if (implicit_) {
      ARK_CALL(ARKStepGetNumSteps, mem, &v);
      st->steps += v;
      ARK_CALL(ARKStepGetNumRhsEvals, mem, &v2, &v);
      st->rhs_evals += v;
      ARK_CALL(ARKStepGetNumErrTestFails, mem, &v);
      st->error_test_failures += v;
      ARK_CALL(ARKStepGetNumNonlinSolvIters, mem, &v);
      st->newton_iters += v;
      ARK_CALL(ARKStepGetNumNonlinSolvConvFails, mem, &v);
      st->newton_failures += v;
      ARK_CALL(ARKStepGetLastStep, mem, &st->last_step);
    } else {
      ERK_CALL(ERKStepGetNumSteps, mem, &v);
      st->steps += v;
      ERK_CALL(ERKStepGetNumRhsEvals, mem, &v);
      st->rhs_evals += v;
      ERK_CALL(ERKStepGetNumErrTestFails, mem, &v);
      st->error_test_failures += v;
      ERK_CALL(ERKStepGetLastStep, mem, &st->last_step);
    }
    // A callback's exception always fails the integration (ARKODE stops at the unrecoverable code it returns).
    if (user.barrier.caught() && status == OdeStatus::kSuccess) status = OdeStatus::kRhsFailure;
    if (status != OdeStatus::kSuccess) {
      if (message) *message = sundials::StopMessage("ARKODE", t, status, user.barrier);
      return status;
    }
    std::copy(Data(yv.get()), Data(yv.get()) + n, y);
    if (nq > 0) std::copy(Data(yv.get()) + n, Data(yv.get()) + n + nq, q);
    return OdeStatus::kSuccess;
  }

 private:
  OdeOptions options_;
  bool implicit_;
  sundials::Context ctx_;
};

}  // namespace

std::unique_ptr<OdeIntegrator> MakeArkodeDopri5(const OdeOptions& options) {
  return std::make_unique<ArkodeIntegrator>(options, false);
}
std::unique_ptr<OdeIntegrator> MakeArkodeEsdirk(const OdeOptions& options) {
  return std::make_unique<ArkodeIntegrator>(options, true);
}

}  // namespace pushpull

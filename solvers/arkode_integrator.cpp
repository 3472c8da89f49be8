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

struct UserData {
  OdeSystem* system;
  sunindextype n;                 // states
  sunindextype nq;                // quadratures
  int quads_per_block;
  double rtol, atol;              // already divided by sqrt(num_blocks)
  bool control_quadratures_of[8];  // per quadrature kind
  sundials::BlockJacobiPreconditioner* preconditioner = nullptr;
};

int Rhs(double t, N_Vector y, N_Vector ydot, void* user) {
  auto* u = static_cast<UserData*>(user);
  return u->system->Rhs(t, Data(y), Data(ydot), u->nq > 0 ? Data(ydot) + u->n : nullptr);
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
  return u->system->Jvp(t, Data(y), Data(v), Data(Jv));
}

int PrecSetup(double t, N_Vector y, N_Vector, int, int* jcur, double gamma, void* user) {
  *jcur = 1;
  return static_cast<UserData*>(user)->preconditioner->Setup(t, Data(y), gamma);
}

int PrecSolve(double, N_Vector, N_Vector, N_Vector r, N_Vector z, double, double, int, void* user) {
  static_cast<UserData*>(user)->preconditioner->Solve(Data(r), Data(z));
  return 0;
}

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
    UserData user{&system, n, nq, std::max(m, 1), options_.rtol * scale, options_.atol * scale, {}, nullptr};
    for (int k = 0; k < m; ++k) user.control_quadratures_of[k] = system.quadrature_controlled(k);

    sundials::Vector yv = sundials::NewVector(n + nq, ctx_);
    std::copy(y, y + n, Data(yv.get()));
    if (nq > 0) std::copy(q, q + nq, Data(yv.get()) + n);

    void* mem = implicit_ ? ARKStepCreate(nullptr, Rhs, t0, yv.get(), ctx_.get())
                          : ERKStepCreate(Rhs, t0, yv.get(), ctx_.get());
    if (!mem) {
      if (message) *message = "ARKODE could not be created";
      return OdeStatus::kOtherFailure;
    }
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
      ARKStepSetErrHandlerFn(mem, ErrorHandler, nullptr);
      ARKStepSetUserData(mem, &user);
      ARKStepWFtolerances(mem, ErrorWeights);
      ARKStepSetTableNum(mem, ARKODE_ESDIRK547L2SA_7_4_5, ARKODE_ERK_NONE);
      ARKStepSetMaxNumSteps(mem, static_cast<long>(options_.max_steps));
      if (options_.initial_step > 0) ARKStepSetInitStep(mem, options_.initial_step);
      if (options_.max_step > 0) ARKStepSetMaxStep(mem, options_.max_step);
      ARKStepSetStopTime(mem, t1);
      ARKStepSetNonlinConvCoef(mem, options_.nonlinear_convergence);
      // Refresh the block Jacobians at every step: they are cheap (d x d per sample) and a stale Newton matrix
      // degraded the accuracy of tight-tolerance solves.
      ARKStepSetLSetupFrequency(mem, 1);
      preconditioner = std::make_unique<sundials::BlockJacobiPreconditioner>(system, true, st);
      user.preconditioner = preconditioner.get();
      if (options_.linear_solver == "gmres") {
        linear_solver.reset(SUNLinSol_SPGMR(yv.get(), SUN_PREC_LEFT, 0, ctx_.get()));
        ARKStepSetLinearSolver(mem, linear_solver.get(), nullptr);
        ARKStepSetJacTimes(mem, nullptr, JacTimes);
      } else {
        linear_solver = sundials::MakeBlockDiagonalSolver(ctx_, st);
        ARKStepSetLinearSolver(mem, linear_solver.get(), nullptr);
      }
      ARKStepSetPreconditioner(mem, PrecSetup, PrecSolve);
    } else {
      ERKStepSetErrHandlerFn(mem, ErrorHandler, nullptr);
      ERKStepSetUserData(mem, &user);
      ERKStepWFtolerances(mem, ErrorWeights);
      ERKStepSetTableNum(mem, ARKODE_DORMAND_PRINCE_7_4_5);
      ERKStepSetMaxNumSteps(mem, static_cast<long>(options_.max_steps));
      if (options_.initial_step > 0) ERKStepSetInitStep(mem, options_.initial_step);
      if (options_.max_step > 0) ERKStepSetMaxStep(mem, options_.max_step);
      ERKStepSetStopTime(mem, t1);
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
          ARKStepGetNumSteps(mem, &steps);
          ARKStepGetLastStep(mem, &h);
        } else {
          ERKStepGetNumSteps(mem, &steps);
          ERKStepGetLastStep(mem, &h);
        }
        step_monitor({t, h, steps, 5});  // both methods are fifth order (embedded fourth)
      }
      while (output && next_output < output->times.size() &&
             direction * (t - output->times[next_output]) >= 0) {
        const double to = output->times[next_output];
        if (implicit_) {
          ARKStepGetDky(mem, to, 0, dky.get());
        } else {
          ERKStepGetDky(mem, to, 0, dky.get());
        }
        output->callback(next_output, to, Data(dky.get()), nq > 0 ? Data(dky.get()) + n : nullptr);
        ++next_output;
      }
    }
    long v = 0, v2 = 0;
    if (implicit_) {
      ARKStepGetNumSteps(mem, &v);
      st->steps += v;
      ARKStepGetNumRhsEvals(mem, &v2, &v);
      st->rhs_evals += v;
      ARKStepGetNumErrTestFails(mem, &v);
      st->error_test_failures += v;
      ARKStepGetNumNonlinSolvIters(mem, &v);
      st->newton_iters += v;
      ARKStepGetNumNonlinSolvConvFails(mem, &v);
      st->newton_failures += v;
      ARKStepGetLastStep(mem, &st->last_step);
    } else {
      ERKStepGetNumSteps(mem, &v);
      st->steps += v;
      ERKStepGetNumRhsEvals(mem, &v);
      st->rhs_evals += v;
      ERKStepGetNumErrTestFails(mem, &v);
      st->error_test_failures += v;
      ERKStepGetLastStep(mem, &st->last_step);
    }
    if (status != OdeStatus::kSuccess) {
      if (message) *message = std::string("ARKODE stopped at t = ") + std::to_string(t) + ": " + ToString(status);
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

OdeIntegratorRegistry& OdeIntegrators() {
  static OdeIntegratorRegistry* registry = [] {
    auto* r = new OdeIntegratorRegistry("ode_type");
    r->Register("bdf", "CVODES BDF (orders 1-5) with Newton iterations; for stiff flows", MakeCvodesBdf);
    r->Register("adams", "CVODES Adams-Moulton (orders 1-12) with fixed-point iterations; for smooth non-stiff flows",
                MakeCvodesAdams);
    r->Register("dopri5", "ARKODE explicit Dormand-Prince 5(4), as torchdiffeq's dopri5", MakeArkodeDopri5);
    r->Register("esdirk", "ARKODE implicit ESDIRK 5(4) (ESDIRK547L2SA) with Newton iterations", MakeArkodeEsdirk);
    return r;
  }();
  return *registry;
}

namespace sundials {
Context::Context() { SUNContext_Create(nullptr, &ctx_); }
Context::~Context() { SUNContext_Free(&ctx_); }
}  // namespace sundials

}  // namespace pushpull

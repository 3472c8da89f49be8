// CVODES BDF and Adams-Moulton integrators.
#include <cvodes/cvodes.h>
#include <sunlinsol/sunlinsol_spgmr.h>
#include <sunnonlinsol/sunnonlinsol_fixedpoint.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "block_linear_solver.hpp"
#include "integrators.hpp"
#include "pushpull/ode.hpp"

namespace pushpull {
namespace {

using sundials::Data;
using sundials::kCallbackException;

// CVODES' calls, their return codes checked (CVLS: the linear solver interface's own flags).
#define CV_CALL(function, ...) PUSHPULL_SUNDIALS_CALL(CVodeGetReturnFlagName, function, __VA_ARGS__)
#define CVLS_CALL(function, ...) PUSHPULL_SUNDIALS_CALL(CVodeGetLinReturnFlagName, function, __VA_ARGS__)

struct UserData {
  explicit UserData(OdeSystem* s, sunindextype n = 0) : system(s), scratch(static_cast<std::size_t>(n)) {}
  OdeSystem* system;
  std::vector<double> scratch;  // states-sized scratch for quadrature evaluations
  sundials::BlockJacobiPreconditioner* preconditioner = nullptr;
  CallbackBarrier barrier;  // of every callback below
};

int RhsY(double t, N_Vector y, N_Vector ydot, void* user) {
  auto* u = static_cast<UserData*>(user);
  return u->barrier.Run("the right-hand side", kCallbackException,
                        [&] { return u->system->Rhs(t, Data(y), Data(ydot), nullptr); });
}

int RhsQ(double t, N_Vector y, N_Vector qdot, void* user) {
  auto* u = static_cast<UserData*>(user);
  return u->barrier.Run("the quadrature right-hand side", kCallbackException,
                        [&] { return u->system->Rhs(t, Data(y), u->scratch.data(), Data(qdot)); });
}

int JacTimes(N_Vector v, N_Vector Jv, double t, N_Vector y, N_Vector, void* user, N_Vector) {
  auto* u = static_cast<UserData*>(user);
  return u->barrier.Run("the Jacobian-vector product", kCallbackException,
                        [&] { return u->system->Jvp(t, Data(y), Data(v), Data(Jv)); });
}

int PrecSetup(double t, N_Vector y, N_Vector, int jok, int* jcur, double gamma, void* user) {
  auto* u = static_cast<UserData*>(user);
  (void)jok;  // the blocks are cheap to recompute relative to a stale-Jacobian GMRES iteration
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
    case CV_SUCCESS:
    case CV_TSTOP_RETURN:
    case CV_ROOT_RETURN: return OdeStatus::kSuccess;
    case CV_TOO_MUCH_WORK: return OdeStatus::kTooMuchWork;
    case CV_TOO_MUCH_ACC: return OdeStatus::kTooMuchAccuracy;
    case CV_ERR_FAILURE: return OdeStatus::kErrorTestFailures;
    case CV_CONV_FAILURE: return OdeStatus::kConvergenceFailures;
    case CV_RHSFUNC_FAIL:
    case CV_FIRST_RHSFUNC_ERR:
    case CV_REPTD_RHSFUNC_ERR:
    case CV_UNREC_RHSFUNC_ERR:
    case CV_QRHSFUNC_FAIL:
    case CV_FIRST_QRHSFUNC_ERR:
    case CV_REPTD_QRHSFUNC_ERR:
    case CV_UNREC_QRHSFUNC_ERR: return OdeStatus::kRhsFailure;
    case CV_LSETUP_FAIL:
    case CV_LSOLVE_FAIL: return OdeStatus::kSetupFailure;
    default: return OdeStatus::kOtherFailure;
  }
}

// Tolerances (divided by sqrt(num_blocks) for per-block error control: `scale`), step limits, the stop time and the
// corrector test. Every option is set, defaults included (order: the method's maximum, 12 for Adams and 5 for BDF;
// initial step 0: CVODE's estimate; maximum step 0: none), so that a re-used instance keeps nothing of the previous
// integration's options.
void ConfigureSteps(void* mem, const OdeOptions& o, double t0, double t1, double scale, bool adams) {
  CV_CALL(CVodeSStolerances, mem, o.rtol * scale, o.atol * scale);
  CV_CALL(CVodeSetMaxNumSteps, mem, static_cast<long>(o.max_steps));
  const int method_max_order = adams ? 12 : 5;
  CV_CALL(CVodeSetMaxOrd, mem, o.max_order > 0 ? std::min(o.max_order, method_max_order) : method_max_order);
  CV_CALL(CVodeSetInitStep, mem, o.initial_step > 0 ? (t1 >= t0 ? o.initial_step : -o.initial_step) : 0.0);
  CV_CALL(CVodeSetMaxStep, mem, o.max_step);
  CV_CALL(CVodeSetStopTime, mem, t1);
  CV_CALL(CVodeSetNonlinConvCoef, mem, o.nonlinear_convergence);
}

// The statistics of the integration so far, added to *st (`quadratures`: with the quadrature evaluations).
void AddStats(void* mem, bool quadratures, OdeStats* st) {
  long v = 0;
  CV_CALL(CVodeGetNumSteps, mem, &v);
  st->steps += v;
  CV_CALL(CVodeGetNumRhsEvals, mem, &v);
  st->rhs_evals += v;
  if (quadratures) {
    CV_CALL(CVodeGetQuadNumRhsEvals, mem, &v);
    st->rhs_evals += v;
  }
  CV_CALL(CVodeGetNumErrTestFails, mem, &v);
  st->error_test_failures += v;
  CV_CALL(CVodeGetNumNonlinSolvIters, mem, &v);
  st->newton_iters += v;
  CV_CALL(CVodeGetNumNonlinSolvConvFails, mem, &v);
  st->newton_failures += v;
  CV_CALL(CVodeGetLastStep, mem, &st->last_step);
}

class CvodesIntegrator : public OdeIntegrator {
 public:
  CvodesIntegrator(const OdeOptions& options, int method) : options_(options), method_(method) {}

  OdeStatus Integrate(OdeSystem& system, double t0, double t1, double* y, double* q, const OdeOutput* output,
                      OdeStats* stats, std::string* message) override {
    const int B = system.num_blocks();
    const sunindextype n = static_cast<sunindextype>(B) * system.block_size();
    const sunindextype nq = static_cast<sunindextype>(B) * system.quadratures_per_block();
    // Per-sample error control: CVODE's WRMS norm over the whole system is <= 1, so dividing the tolerances by
    // sqrt(B) bounds the RMS error of every block by its own tolerance.
    const double scale = 1.0 / std::sqrt(static_cast<double>(B));
    OdeStats local;
    OdeStats* st = stats ? stats : &local;

    sundials::Vector yv = sundials::NewVector(n, ctx_);
    std::copy(y, y + n, Data(yv.get()));
    UserData user(&system, n);
    void* mem = sundials::CheckCreated(CVodeCreate(method_, ctx_.get()), "CVodeCreate");
    struct MemFree {
      void* mem;
      ~MemFree() { CVodeFree(&mem); }
    } guard{mem};
    CV_CALL(CVodeSetErrHandlerFn, mem, ErrorHandler, nullptr);
    CV_CALL(CVodeInit, mem, RhsY, t0, yv.get());
    ConfigureSteps(mem, options_, t0, t1, scale, method_ == CV_ADAMS);
    CV_CALL(CVodeSetUserData, mem, &user);

    sundials::Vector qv;
    sundials::Vector qatol;
    if (nq > 0) {
      qv = sundials::NewVector(nq, ctx_);
      std::copy(q, q + nq, Data(qv.get()));
      CV_CALL(CVodeQuadInit, mem, RhsQ, qv.get());
      qatol = sundials::NewVector(nq, ctx_);
      bool any_controlled = false;
      const int m = system.quadratures_per_block();
      for (sunindextype i = 0; i < nq; ++i) {
        const bool controlled = system.quadrature_controlled(static_cast<int>(i % m));
        any_controlled = any_controlled || controlled;
        // An infinite absolute tolerance gives the component zero error weight: it is integrated but not controlled.
        Data(qatol.get())[i] = controlled ? options_.atol * scale : std::numeric_limits<double>::infinity();
      }
      CV_CALL(CVodeQuadSVtolerances, mem, options_.rtol * scale, qatol.get());
      CV_CALL(CVodeSetQuadErrCon, mem, any_controlled ? SUNTRUE : SUNFALSE);
    }

    sundials::LinearSolver linear_solver;
    std::unique_ptr<sundials::BlockJacobiPreconditioner> preconditioner;
    if (method_ == CV_BDF) {
      preconditioner = std::make_unique<sundials::BlockJacobiPreconditioner>(system, false, st);
      user.preconditioner = preconditioner.get();
      if (options_.linear_solver == "gmres") {
        linear_solver.reset(sundials::CheckCreated(SUNLinSol_SPGMR(yv.get(), SUN_PREC_LEFT, 0, ctx_.get()),
                                                   "SUNLinSol_SPGMR"));
        CVLS_CALL(CVodeSetLinearSolver, mem, linear_solver.get(), nullptr);
        CVLS_CALL(CVodeSetJacTimes, mem, nullptr, JacTimes);
      } else {
        linear_solver = sundials::MakeBlockDiagonalSolver(ctx_, st);
        CVLS_CALL(CVodeSetLinearSolver, mem, linear_solver.get(), nullptr);
      }
      CVLS_CALL(CVodeSetPreconditioner, mem, PrecSetup, PrecSolve);
    }
    struct NlsFree {
      SUNNonlinearSolver s = nullptr;
      ~NlsFree() {
        if (s) SUNNonlinSolFree(s);
      }
    } nls_guard;
    if (method_ != CV_BDF) {
      // Adams for non-stiff flows: fixed-point (functional) iteration, no Jacobians.
      nls_guard.s = sundials::CheckCreated(SUNNonlinSol_FixedPoint(yv.get(), 0, ctx_.get()), "SUNNonlinSol_FixedPoint");
      CV_CALL(CVodeSetNonlinearSolver, mem, nls_guard.s);
    }

    // Without outputs or a monitor: one call to t1 (the stop time), CVODE's own step limit applying to the whole
    // integration. Otherwise one step at a time: outputs are interpolated from CVODE's dense output, and the
    // monitor sees every step.
    const bool one_call = !output && !step_monitor;
    const double direction = t1 >= t0 ? 1.0 : -1.0;
    std::size_t next_output = 0;
    std::vector<double> y_out(static_cast<std::size_t>(n)), q_out(static_cast<std::size_t>(nq));
    sundials::Vector dky = sundials::NewVector(n, ctx_);
    sundials::Vector dkq = nq > 0 ? sundials::NewVector(nq, ctx_) : sundials::Vector();
    double t = t0;
    OdeStatus status = OdeStatus::kSuccess;
    std::int64_t steps_taken = 0;
    if (one_call) {
      const int flag = CVode(mem, t1, yv.get(), &t, CV_NORMAL);
      if (flag < 0) status = MapFlag(flag);
    }
    while (!one_call && direction * (t1 - t) > 0) {
      // One-step mode never reaches the solver's own step limit (it counts within one call): count here.
      if (++steps_taken > options_.max_steps) {
        status = OdeStatus::kTooMuchWork;
        break;
      }
      const int flag = CVode(mem, t1, yv.get(), &t, CV_ONE_STEP);
      if (flag < 0) {
        status = MapFlag(flag);
        break;
      }
      if (step_monitor) {
        long steps = 0;
        int order = 0;
        double h = 0;
        CV_CALL(CVodeGetNumSteps, mem, &steps);
        CV_CALL(CVodeGetLastOrder, mem, &order);
        CV_CALL(CVodeGetLastStep, mem, &h);
        step_monitor({t, h, steps, order});
      }
      while (output && next_output < output->times.size() &&
             direction * (t - output->times[next_output]) >= 0) {
        const double to = output->times[next_output];
        CV_CALL(CVodeGetDky, mem, to, 0, dky.get());
        if (nq > 0) CV_CALL(CVodeGetQuadDky, mem, to, 0, dkq.get());
        output->callback(next_output, to, Data(dky.get()), nq > 0 ? Data(dkq.get()) : nullptr);
        ++next_output;
      }
    }
    AddStats(mem, nq > 0, st);
    // A callback's exception always fails the integration (CVODES stops at the unrecoverable code it returns).
    if (user.barrier.caught() && status == OdeStatus::kSuccess) status = OdeStatus::kRhsFailure;
    if (status != OdeStatus::kSuccess) {
      if (message) *message = sundials::StopMessage("CVODES", t, status, user.barrier);
      return status;
    }
    std::copy(Data(yv.get()), Data(yv.get()) + n, y);
    if (nq > 0) {
      double tq = 0;
      CV_CALL(CVodeGetQuad, mem, &tq, qv.get());
      std::copy(Data(qv.get()), Data(qv.get()) + nq, q);
    }
    return OdeStatus::kSuccess;
  }

 private:
  OdeOptions options_;
  int method_;
  sundials::Context ctx_;
};

int SensRhs(int Ns, double t, N_Vector y, N_Vector, N_Vector* yS, N_Vector* ySdot, void* user, N_Vector, N_Vector) {
  auto* u = static_cast<UserData*>(user);
  return u->barrier.Run("the sensitivity right-hand side", kCallbackException, [&] {
    constexpr int kInline = 16;
    const double* in_inline[kInline];
    double* out_inline[kInline];
    std::vector<const double*> in_heap;
    std::vector<double*> out_heap;
    const double** in = in_inline;
    double** out = out_inline;
    if (Ns > kInline) {
      in_heap.resize(static_cast<std::size_t>(Ns));
      out_heap.resize(static_cast<std::size_t>(Ns));
      in = in_heap.data();
      out = out_heap.data();
    }
    for (int j = 0; j < Ns; ++j) {
      in[j] = Data(yS[j]);
      out[j] = Data(ySdot[j]);
    }
    return u->system->JvpMany(t, Data(y), Ns, in, out);
  });
}

}  // namespace

namespace {

// The CVODES instance of an Adams variational integration (states and sensitivities corrected together by one
// fixed-point iteration), kept per thread and re-initialised (CVodeReInit, CVodeSensReInit) for the next
// integration of the same size: a shooting method integrates hundreds of short variational problems of one size,
// and creating the instance (some hundred small vectors) cost as much as a loose shot's steps.
struct AdamsVariationalWorkspace {
  sundials::Context ctx;  // declared first: destroyed last
  sunindextype n = 0;
  int directions = 0;
  sundials::Vector yv;
  void* mem = nullptr;
  N_Vector* yS = nullptr;
  SUNNonlinearSolver state_nls = nullptr;
  SUNNonlinearSolver sens_nls = nullptr;
  // The user data of both right-hand sides: CVodeSensInit keeps the pointer it finds, so it stays this one and
  // each integration fills in its system (and resets its barrier).
  UserData user{nullptr};

  AdamsVariationalWorkspace(sunindextype size, int num_directions) : n(size), directions(num_directions) {
    try {
      yv = sundials::NewVector(n, ctx);
      N_VConst(0.0, yv.get());
      mem = sundials::CheckCreated(CVodeCreate(CV_ADAMS, ctx.get()), "CVodeCreate");
      CV_CALL(CVodeSetErrHandlerFn, mem, ErrorHandler, nullptr);
      CV_CALL(CVodeInit, mem, RhsY, 0.0, yv.get());
      CV_CALL(CVodeSetUserData, mem, &user);
      state_nls = sundials::CheckCreated(SUNNonlinSol_FixedPoint(yv.get(), 0, ctx.get()), "SUNNonlinSol_FixedPoint");
      CV_CALL(CVodeSetNonlinearSolver, mem, state_nls);
      yS = sundials::CheckCreated(N_VCloneVectorArray(directions, yv.get()), "N_VCloneVectorArray");
      for (int j = 0; j < directions; ++j) N_VConst(0.0, yS[j]);
      CV_CALL(CVodeSensInit, mem, directions, CV_SIMULTANEOUS, SensRhs, yS);
      sens_nls = sundials::CheckCreated(SUNNonlinSol_FixedPointSens(directions + 1, yv.get(), 0, ctx.get()),
                                        "SUNNonlinSol_FixedPointSens");
      CV_CALL(CVodeSetNonlinearSolverSensSim, mem, sens_nls);
    } catch (...) {
      Free();
      throw;
    }
  }
  ~AdamsVariationalWorkspace() { Free(); }
  AdamsVariationalWorkspace(const AdamsVariationalWorkspace&) = delete;
  AdamsVariationalWorkspace& operator=(const AdamsVariationalWorkspace&) = delete;

 private:
  void Free() {
    if (mem) CVodeFree(&mem);
    if (yS) N_VDestroyVectorArray(yS, directions);
    if (sens_nls) SUNNonlinSolFree(sens_nls);
    if (state_nls) SUNNonlinSolFree(state_nls);
    yS = nullptr;
    sens_nls = state_nls = nullptr;
  }
};

// This thread's workspace for (n, directions), created on first use. A few sizes at most are alive at once (single
// shooting's velocity directions, multiple shooting's state directions).
AdamsVariationalWorkspace& ThreadWorkspace(sunindextype n, int directions) {
  thread_local std::vector<std::unique_ptr<AdamsVariationalWorkspace>> cache;
  for (auto& w : cache) {
    if (w->n == n && w->directions == directions) return *w;
  }
  constexpr std::size_t kMaxCached = 4;
  if (cache.size() == kMaxCached) cache.erase(cache.begin());
  cache.push_back(std::make_unique<AdamsVariationalWorkspace>(n, directions));
  return *cache.back();
}

OdeStatus RunVariational(void* mem, N_Vector yv, N_Vector* yS, sunindextype n, double t1, double* y,
                         int num_directions, double* S, const CallbackBarrier& barrier, OdeStats* st,
                         std::string* message) {
  double t = 0;
  const int flag = CVode(mem, t1, yv, &t, CV_NORMAL);
  long v = 0;
  CV_CALL(CVodeGetNumSteps, mem, &v);
  st->steps += v;
  CV_CALL(CVodeGetNumRhsEvals, mem, &v);
  st->rhs_evals += v;
  OdeStatus status = flag < 0 ? MapFlag(flag) : OdeStatus::kSuccess;
  // A callback's exception always fails the integration (CVODES stops at the unrecoverable code it returns).
  if (barrier.caught() && status == OdeStatus::kSuccess) status = OdeStatus::kRhsFailure;
  if (status != OdeStatus::kSuccess) {
    if (message) *message = sundials::StopMessage("CVODES (variational equations)", t, status, barrier);
    return status;
  }
  CV_CALL(CVodeGetSens, mem, &t, yS);
  std::copy(Data(yv), Data(yv) + n, y);
  for (int j = 0; j < num_directions; ++j) {
    std::copy(Data(yS[j]), Data(yS[j]) + n, S + static_cast<std::size_t>(j) * n);
  }
  return OdeStatus::kSuccess;
}

}  // namespace

OdeStatus IntegrateVariational(OdeSystem& system, const OdeOptions& options, double t0, double t1, double* y,
                               int num_directions, double* S, OdeStats* stats, std::string* message,
                               bool control_sensitivities) {
  const int B = system.num_blocks();
  const sunindextype n = static_cast<sunindextype>(B) * system.block_size();
  const double scale = 1.0 / std::sqrt(static_cast<double>(B));
  OdeStats local;
  OdeStats* st = stats ? stats : &local;
  auto load = [&](N_Vector yv, N_Vector* yS) {
    std::copy(y, y + n, Data(yv));
    for (int j = 0; j < num_directions; ++j) {
      std::copy(S + static_cast<std::size_t>(j) * n, S + static_cast<std::size_t>(j + 1) * n, Data(yS[j]));
    }
  };

  // adams: fixed-point iteration for the states and the sensitivities (non-stiff systems such as geodesics: no
  // Jacobians at all), on this thread's re-used instance.
  if (options.type == "adams") {
    AdamsVariationalWorkspace& w = ThreadWorkspace(n, num_directions);
    load(w.yv.get(), w.yS);
    CV_CALL(CVodeReInit, w.mem, t0, w.yv.get());
    CV_CALL(CVodeSensReInit, w.mem, CV_SIMULTANEOUS, w.yS);
    ConfigureSteps(w.mem, options, t0, t1, scale, true);
    w.user.system = &system;
    w.user.scratch.resize(static_cast<std::size_t>(n));
    w.user.barrier.Reset();
    CV_CALL(CVodeSensEEtolerances, w.mem);
    CV_CALL(CVodeSetSensErrCon, w.mem, control_sensitivities ? SUNTRUE : SUNFALSE);
    return RunVariational(w.mem, w.yv.get(), w.yS, n, t1, y, num_directions, S, w.user.barrier, st, message);
  }

  // Anything else: BDF with Newton on the exact block Jacobians (a fresh instance: its preconditioner holds the
  // system and the statistics of this call).
  UserData user(&system, n);
  sundials::Context ctx;
  sundials::Vector yv = sundials::NewVector(n, ctx);
  void* mem = sundials::CheckCreated(CVodeCreate(CV_BDF, ctx.get()), "CVodeCreate");
  struct MemFree {
    void* mem;
    ~MemFree() { CVodeFree(&mem); }
  } guard{mem};
  CV_CALL(CVodeSetErrHandlerFn, mem, ErrorHandler, nullptr);
  N_Vector* yS = sundials::CheckCreated(N_VCloneVectorArray(num_directions, yv.get()), "N_VCloneVectorArray");
  struct ArrayFree {
    N_Vector* v;
    int n;
    ~ArrayFree() { N_VDestroyVectorArray(v, n); }
  } s_guard{yS, num_directions};
  load(yv.get(), yS);
  CV_CALL(CVodeInit, mem, RhsY, t0, yv.get());
  ConfigureSteps(mem, options, t0, t1, scale, false);
  CV_CALL(CVodeSetUserData, mem, &user);  // before CVodeSensInit, which keeps it for the sensitivity right-hand side
  const auto preconditioner = std::make_unique<sundials::BlockJacobiPreconditioner>(system, false, st);
  user.preconditioner = preconditioner.get();
  const sundials::LinearSolver linear_solver = sundials::MakeBlockDiagonalSolver(ctx, st);
  CVLS_CALL(CVodeSetLinearSolver, mem, linear_solver.get(), nullptr);
  CVLS_CALL(CVodeSetPreconditioner, mem, PrecSetup, PrecSolve);
  CV_CALL(CVodeSensInit, mem, num_directions, CV_STAGGERED, SensRhs, yS);
  CV_CALL(CVodeSensEEtolerances, mem);
  CV_CALL(CVodeSetSensErrCon, mem, control_sensitivities ? SUNTRUE : SUNFALSE);
  return RunVariational(mem, yv.get(), yS, n, t1, y, num_directions, S, user.barrier, st, message);
}

std::unique_ptr<OdeIntegrator> MakeCvodesBdf(const OdeOptions& options) {
  return std::make_unique<CvodesIntegrator>(options, CV_BDF);
}
std::unique_ptr<OdeIntegrator> MakeCvodesAdams(const OdeOptions& options) {
  return std::make_unique<CvodesIntegrator>(options, CV_ADAMS);
}

}  // namespace pushpull

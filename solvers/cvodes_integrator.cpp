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

struct UserData {
  OdeSystem* system;
  std::vector<double> scratch;  // states-sized scratch for quadrature evaluations
  sundials::BlockJacobiPreconditioner* preconditioner = nullptr;
};

int RhsY(double t, N_Vector y, N_Vector ydot, void* user) {
  auto* u = static_cast<UserData*>(user);
  return u->system->Rhs(t, Data(y), Data(ydot), nullptr);
}

int RhsQ(double t, N_Vector y, N_Vector qdot, void* user) {
  auto* u = static_cast<UserData*>(user);
  return u->system->Rhs(t, Data(y), u->scratch.data(), Data(qdot));
}

int JacTimes(N_Vector v, N_Vector Jv, double t, N_Vector y, N_Vector, void* user, N_Vector) {
  auto* u = static_cast<UserData*>(user);
  return u->system->Jvp(t, Data(y), Data(v), Data(Jv));
}

int PrecSetup(double t, N_Vector y, N_Vector, int jok, int* jcur, double gamma, void* user) {
  auto* u = static_cast<UserData*>(user);
  (void)jok;  // the blocks are cheap to recompute relative to a stale-Jacobian GMRES iteration
  *jcur = 1;
  return u->preconditioner->Setup(t, Data(y), gamma);
}

int PrecSolve(double, N_Vector, N_Vector, N_Vector r, N_Vector z, double, double, int, void* user) {
  static_cast<UserData*>(user)->preconditioner->Solve(Data(r), Data(z));
  return 0;
}

void ErrorHandler(int, const char*, const char*, char*, void*) {}  // failures are reported through the status

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
  CVodeSStolerances(mem, o.rtol * scale, o.atol * scale);
  CVodeSetMaxNumSteps(mem, static_cast<long>(o.max_steps));
  const int method_max_order = adams ? 12 : 5;
  CVodeSetMaxOrd(mem, o.max_order > 0 ? std::min(o.max_order, method_max_order) : method_max_order);
  CVodeSetInitStep(mem, o.initial_step > 0 ? (t1 >= t0 ? o.initial_step : -o.initial_step) : 0.0);
  CVodeSetMaxStep(mem, o.max_step);
  CVodeSetStopTime(mem, t1);
  CVodeSetNonlinConvCoef(mem, o.nonlinear_convergence);
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
    UserData user{&system, std::vector<double>(static_cast<std::size_t>(n)), nullptr};
    void* mem = CVodeCreate(method_, ctx_.get());
    struct MemFree {
      void* mem;
      ~MemFree() { CVodeFree(&mem); }
    } guard{mem};
    CVodeSetErrHandlerFn(mem, ErrorHandler, nullptr);
    int flag = CVodeInit(mem, RhsY, t0, yv.get());
    if (flag != CV_SUCCESS) return Fail(OdeStatus::kOtherFailure, "CVodeInit failed", message);
    ConfigureSteps(mem, options_, t0, t1, scale, method_ == CV_ADAMS);
    CVodeSetUserData(mem, &user);

    sundials::Vector qv;
    sundials::Vector qatol;
    if (nq > 0) {
      qv = sundials::NewVector(nq, ctx_);
      std::copy(q, q + nq, Data(qv.get()));
      CVodeQuadInit(mem, RhsQ, qv.get());
      qatol = sundials::NewVector(nq, ctx_);
      bool any_controlled = false;
      const int m = system.quadratures_per_block();
      for (sunindextype i = 0; i < nq; ++i) {
        const bool controlled = system.quadrature_controlled(static_cast<int>(i % m));
        any_controlled = any_controlled || controlled;
        // An infinite absolute tolerance gives the component zero error weight: it is integrated but not controlled.
        Data(qatol.get())[i] = controlled ? options_.atol * scale : std::numeric_limits<double>::infinity();
      }
      CVodeQuadSVtolerances(mem, options_.rtol * scale, qatol.get());
      CVodeSetQuadErrCon(mem, any_controlled ? SUNTRUE : SUNFALSE);
    }

    sundials::LinearSolver linear_solver;
    SUNNonlinearSolver fixed_point = nullptr;
    std::unique_ptr<sundials::BlockJacobiPreconditioner> preconditioner;
    if (method_ == CV_BDF) {
      preconditioner = std::make_unique<sundials::BlockJacobiPreconditioner>(system, false, st);
      user.preconditioner = preconditioner.get();
      if (options_.linear_solver == "gmres") {
        linear_solver.reset(SUNLinSol_SPGMR(yv.get(), SUN_PREC_LEFT, 0, ctx_.get()));
        CVodeSetLinearSolver(mem, linear_solver.get(), nullptr);
        CVodeSetJacTimes(mem, nullptr, JacTimes);
      } else {
        linear_solver = sundials::MakeBlockDiagonalSolver(ctx_, st);
        CVodeSetLinearSolver(mem, linear_solver.get(), nullptr);
      }
      CVodeSetPreconditioner(mem, PrecSetup, PrecSolve);
    } else {
      // Adams for non-stiff flows: fixed-point (functional) iteration, no Jacobians.
      fixed_point = SUNNonlinSol_FixedPoint(yv.get(), 0, ctx_.get());
      CVodeSetNonlinearSolver(mem, fixed_point);
    }
    struct NlsFree {
      SUNNonlinearSolver s;
      ~NlsFree() {
        if (s) SUNNonlinSolFree(s);
      }
    } nls_guard{fixed_point};

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
      flag = CVode(mem, t1, yv.get(), &t, CV_NORMAL);
      if (flag < 0) status = MapFlag(flag);
    }
    while (!one_call && direction * (t1 - t) > 0) {
      // One-step mode never reaches the solver's own step limit (it counts within one call): count here.
      if (++steps_taken > options_.max_steps) {
        status = OdeStatus::kTooMuchWork;
        break;
      }
      flag = CVode(mem, t1, yv.get(), &t, CV_ONE_STEP);
      if (flag < 0) {
        status = MapFlag(flag);
        break;
      }
      if (step_monitor) {
        long steps = 0;
        int order = 0;
        double h = 0;
        CVodeGetNumSteps(mem, &steps);
        CVodeGetLastOrder(mem, &order);
        CVodeGetLastStep(mem, &h);
        step_monitor({t, h, steps, order});
      }
      while (output && next_output < output->times.size() &&
             direction * (t - output->times[next_output]) >= 0) {
        const double to = output->times[next_output];
        CVodeGetDky(mem, to, 0, dky.get());
        if (nq > 0) CVodeGetQuadDky(mem, to, 0, dkq.get());
        output->callback(next_output, to, Data(dky.get()), nq > 0 ? Data(dkq.get()) : nullptr);
        ++next_output;
      }
    }
    // Statistics.
    long v = 0;
    CVodeGetNumSteps(mem, &v);
    st->steps += v;
    CVodeGetNumRhsEvals(mem, &v);
    st->rhs_evals += v;
    if (nq > 0) {
      CVodeGetQuadNumRhsEvals(mem, &v);
      st->rhs_evals += v;
    }
    CVodeGetNumErrTestFails(mem, &v);
    st->error_test_failures += v;
    CVodeGetNumNonlinSolvIters(mem, &v);
    st->newton_iters += v;
    CVodeGetNumNonlinSolvConvFails(mem, &v);
    st->newton_failures += v;
    CVodeGetLastStep(mem, &st->last_step);
    if (status != OdeStatus::kSuccess) {
      return Fail(status, std::string("CVODES stopped at t = ") + std::to_string(t) + ": " + ToString(status),
                  message);
    }
    std::copy(Data(yv.get()), Data(yv.get()) + n, y);
    if (nq > 0) {
      double tq = 0;
      CVodeGetQuad(mem, &tq, qv.get());
      std::copy(Data(qv.get()), Data(qv.get()) + nq, q);
    }
    return OdeStatus::kSuccess;
  }

 private:
  static OdeStatus Fail(OdeStatus s, const std::string& what, std::string* message) {
    if (message) *message = what;
    return s;
  }
  OdeOptions options_;
  int method_;
  sundials::Context ctx_;
};

int SensRhs(int Ns, double t, N_Vector y, N_Vector, N_Vector* yS, N_Vector* ySdot, void* user, N_Vector, N_Vector) {
  auto* u = static_cast<UserData*>(user);
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
  // each integration fills in its system.
  UserData user{nullptr, {}, nullptr};
  bool ok = false;

  AdamsVariationalWorkspace(sunindextype size, int num_directions) : n(size), directions(num_directions) {
    yv = sundials::NewVector(n, ctx);
    N_VConst(0.0, yv.get());
    mem = CVodeCreate(CV_ADAMS, ctx.get());
    if (!mem) return;
    CVodeSetErrHandlerFn(mem, ErrorHandler, nullptr);
    if (CVodeInit(mem, RhsY, 0.0, yv.get()) != CV_SUCCESS) return;
    CVodeSetUserData(mem, &user);
    state_nls = SUNNonlinSol_FixedPoint(yv.get(), 0, ctx.get());
    if (!state_nls || CVodeSetNonlinearSolver(mem, state_nls) != CV_SUCCESS) return;
    yS = N_VCloneVectorArray(directions, yv.get());
    if (!yS) return;
    for (int j = 0; j < directions; ++j) N_VConst(0.0, yS[j]);
    if (CVodeSensInit(mem, directions, CV_SIMULTANEOUS, SensRhs, yS) != CV_SUCCESS) return;
    sens_nls = SUNNonlinSol_FixedPointSens(directions + 1, yv.get(), 0, ctx.get());
    if (!sens_nls || CVodeSetNonlinearSolverSensSim(mem, sens_nls) != CV_SUCCESS) return;
    ok = true;
  }
  ~AdamsVariationalWorkspace() {
    if (mem) CVodeFree(&mem);
    if (yS) N_VDestroyVectorArray(yS, directions);
    if (sens_nls) SUNNonlinSolFree(sens_nls);
    if (state_nls) SUNNonlinSolFree(state_nls);
  }
  AdamsVariationalWorkspace(const AdamsVariationalWorkspace&) = delete;
  AdamsVariationalWorkspace& operator=(const AdamsVariationalWorkspace&) = delete;
};

// This thread's workspace for (n, directions), created on first use. A few sizes at most are alive at once (single
// shooting's velocity directions, multiple shooting's state directions).
AdamsVariationalWorkspace* ThreadWorkspace(sunindextype n, int directions) {
  thread_local std::vector<std::unique_ptr<AdamsVariationalWorkspace>> cache;
  for (auto& w : cache) {
    if (w->n == n && w->directions == directions) return w->ok ? w.get() : nullptr;
  }
  constexpr std::size_t kMaxCached = 4;
  if (cache.size() == kMaxCached) cache.erase(cache.begin());
  cache.push_back(std::make_unique<AdamsVariationalWorkspace>(n, directions));
  return cache.back()->ok ? cache.back().get() : nullptr;
}

OdeStatus RunVariational(void* mem, N_Vector yv, N_Vector* yS, sunindextype n, double t1, double* y,
                         int num_directions, double* S, OdeStats* st, std::string* message) {
  double t = 0;
  const int flag = CVode(mem, t1, yv, &t, CV_NORMAL);
  long v = 0;
  CVodeGetNumSteps(mem, &v);
  st->steps += v;
  CVodeGetNumRhsEvals(mem, &v);
  st->rhs_evals += v;
  if (flag < 0) {
    if (message) *message = std::string("CVODES (variational equations) stopped at t = ") + std::to_string(t) + ": " +
                            ToString(MapFlag(flag));
    return MapFlag(flag);
  }
  CVodeGetSens(mem, &t, yS);
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
    AdamsVariationalWorkspace* w = ThreadWorkspace(n, num_directions);
    if (!w) {
      if (message) *message = "creating the CVODES Adams instance of the variational equations failed";
      return OdeStatus::kOtherFailure;
    }
    load(w->yv.get(), w->yS);
    if (CVodeReInit(w->mem, t0, w->yv.get()) != CV_SUCCESS ||
        CVodeSensReInit(w->mem, CV_SIMULTANEOUS, w->yS) != CV_SUCCESS) {
      if (message) *message = "re-initialising CVODES for the variational equations failed";
      return OdeStatus::kOtherFailure;
    }
    ConfigureSteps(w->mem, options, t0, t1, scale, true);
    w->user.system = &system;
    w->user.scratch.resize(static_cast<std::size_t>(n));
    CVodeSensEEtolerances(w->mem);
    CVodeSetSensErrCon(w->mem, control_sensitivities ? SUNTRUE : SUNFALSE);
    return RunVariational(w->mem, w->yv.get(), w->yS, n, t1, y, num_directions, S, st, message);
  }

  // Anything else: BDF with Newton on the exact block Jacobians (a fresh instance: its preconditioner holds the
  // system and the statistics of this call).
  UserData user{&system, std::vector<double>(static_cast<std::size_t>(n)), nullptr};
  sundials::Context ctx;
  sundials::Vector yv = sundials::NewVector(n, ctx);
  void* mem = CVodeCreate(CV_BDF, ctx.get());
  struct MemFree {
    void* mem;
    ~MemFree() { CVodeFree(&mem); }
  } guard{mem};
  CVodeSetErrHandlerFn(mem, ErrorHandler, nullptr);
  N_Vector* yS = N_VCloneVectorArray(num_directions, yv.get());
  struct ArrayFree {
    N_Vector* v;
    int n;
    ~ArrayFree() { N_VDestroyVectorArray(v, n); }
  } s_guard{yS, num_directions};
  load(yv.get(), yS);
  if (CVodeInit(mem, RhsY, t0, yv.get()) != CV_SUCCESS) {
    if (message) *message = "CVodeInit failed";
    return OdeStatus::kOtherFailure;
  }
  ConfigureSteps(mem, options, t0, t1, scale, false);
  CVodeSetUserData(mem, &user);  // before CVodeSensInit, which keeps it for the sensitivity right-hand side
  const auto preconditioner = std::make_unique<sundials::BlockJacobiPreconditioner>(system, false, st);
  user.preconditioner = preconditioner.get();
  const sundials::LinearSolver linear_solver = sundials::MakeBlockDiagonalSolver(ctx, st);
  CVodeSetLinearSolver(mem, linear_solver.get(), nullptr);
  CVodeSetPreconditioner(mem, PrecSetup, PrecSolve);
  CVodeSensInit(mem, num_directions, CV_STAGGERED, SensRhs, yS);
  CVodeSensEEtolerances(mem);
  CVodeSetSensErrCon(mem, control_sensitivities ? SUNTRUE : SUNFALSE);
  return RunVariational(mem, yv.get(), yS, n, t1, y, num_directions, S, st, message);
}

std::unique_ptr<OdeIntegrator> MakeCvodesBdf(const OdeOptions& options) {
  return std::make_unique<CvodesIntegrator>(options, CV_BDF);
}
std::unique_ptr<OdeIntegrator> MakeCvodesAdams(const OdeOptions& options) {
  return std::make_unique<CvodesIntegrator>(options, CV_ADAMS);
}

}  // namespace pushpull

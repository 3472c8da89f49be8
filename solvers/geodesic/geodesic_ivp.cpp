// The exponential map: the geodesic initial-value problem as a first-order system y = [g; g'] of size 2d,
// y' = [g'; a(g, g')], integrated by the -geo_ode_type integrator, and its variational equations
// S' = (df/dy) S (CVODES forward sensitivities) for d g(1) / d u, with the exact Jacobian-vector product
// (df/dy) [dg; dv] = [dv; da] where da is the metric's exact derivative of the acceleration.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "geodesic_stats.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/event_log.hpp"
#include "pushpull/geodesic.hpp"
#include "pushpull/options.hpp"

namespace pushpull {

using Eigen::MatrixXd;
using Eigen::VectorXd;

OdeOptionSet GeodesicOptions::OdeOptionsRead(bool shots) {
  OdeOptionSet set;
  set.control_regularizers = false;
  if (shots) {
    set.types = {"adams", "bdf"};
    set.linear_solver = false;
  }
  return set;
}

void GeodesicOptions::SetFromOptions(OptionsDatabase& db, std::string_view prefix, bool shots) {
  ode.SetFromOptions(db, prefix, OdeOptionsRead(shots));
}

std::string GeodesicOptions::Validate(bool shots) const { return ode.Validate(OdeOptionsRead(shots)); }

const char* ToString(GeodesicStatus status) {
  switch (status) {
    case GeodesicStatus::kSuccess: return "success";
    case GeodesicStatus::kOutsideDomain: return "outside_domain";
    case GeodesicStatus::kSingularMetric: return "singular_metric";
    case GeodesicStatus::kIntegrationFailure: return "integration_failure";
    case GeodesicStatus::kNotConverged: return "not_converged";
    case GeodesicStatus::kApproximate: return "approximate";
    case GeodesicStatus::kExtrapolated: return "extrapolated";
    case GeodesicStatus::kNotMinimal: return "not_minimal";
  }
  return "unknown";
}

namespace {

const int kEventAcceleration = EventLog::Global().Register("GeodesicAcceleration");
const int kEventTangent = EventLog::Global().Register("GeodesicAccelTangent");
const int kEventExpMap = EventLog::Global().Register("ExpMap");
const int kEventShot = EventLog::Global().Register("ShotWithJacobian");
const int kEventJacobian = EventLog::Global().Register("GeodesicAccelJacobian");

// y = [g; v], quadratures [v^T M v, sqrt(v^T M v)] (not error-controlled) when the length is integrated.
//
// For the variational equations (WithFlowJacobian), Rhs evaluates the whole Jacobian of the acceleration along with
// it (Metric::AccelerationJacobian, one decoder pass for a pullback metric) and keeps it for JvpMany, which CVODES
// calls next at the same state for all sensitivity directions: S' = [S_v; A S] needs no further evaluation.
class GeodesicSystem : public OdeSystem {
 public:
  GeodesicSystem(const Metric& metric, bool quadratures)
      : metric_(metric), d_(metric.dim()), quadratures_(quadratures) {}
  void WithFlowJacobian() { flow_jacobian_ = true; }
  int num_blocks() const override { return 1; }
  int block_size() const override { return 2 * d_; }
  int quadratures_per_block() const override { return quadratures_ ? 2 : 0; }
  bool quadrature_controlled(int) const override { return false; }

  int Rhs(double, const double* y, double* ydot, double* qdot) override {
    if (flow_jacobian_ && !qdot) {
      const int rc = UpdateJacobian(y);
      if (rc != 0) return rc;
      Eigen::Map<VectorXd>(ydot, d_) = Eigen::Map<const VectorXd>(y + d_, d_);
      Eigen::Map<VectorXd>(ydot + d_, d_) = cached_a_;
      return 0;
    }
    ScopedEvent event(kEventAcceleration);
    LoadState(y);
    double s2 = 0;
    // recoverable failures: a smaller step may stay inside the domain
    if (!qdot && !metric_.Acceleration(g_, v_, &a_, &failure_)) return 1;
    if (qdot && !metric_.AccelerationAndSpeed(g_, v_, &a_, &s2, &failure_)) return 1;
    Eigen::Map<VectorXd>(ydot, d_) = v_;
    Eigen::Map<VectorXd>(ydot + d_, d_) = a_;
    if (qdot) {
      if (!std::isfinite(s2)) {
        failure_ = "non-finite speed along the geodesic at z = " + FormatPoint(g_);
        return 1;
      }
      qdot[0] = s2;
      qdot[1] = std::sqrt(std::max(s2, 0.0));
    }
    return 0;
  }

  int Jvp(double, const double* y, const double* w, double* Jw) override {
    ScopedEvent event(kEventTangent);
    const Eigen::Map<const VectorXd> g(y, d_), v(y + d_, d_), dg(w, d_), dv(w + d_, d_);
    VectorXd a, da;
    if (!metric_.AccelerationTangent(g, v, dg, dv, &a, &da, &failure_)) {
      return metric_.HasAccelerationTangent() ? 1 : -1;
    }
    Eigen::Map<VectorXd>(Jw, d_) = dv;
    Eigen::Map<VectorXd>(Jw + d_, d_) = da;
    return 0;
  }

  int JvpMany(double t, const double* y, int m, const double* const* w, double* const* Jw) override {
    if (!flow_jacobian_) return OdeSystem::JvpMany(t, y, m, w, Jw);
    const int rc = UpdateJacobian(y);
    if (rc != 0) return rc;
    for (int j = 0; j < m; ++j) {
      const Eigen::Map<const VectorXd> dy(w[j], 2 * d_);
      Eigen::Map<VectorXd>(Jw[j], d_) = dy.tail(d_);
      Eigen::Map<VectorXd>(Jw[j] + d_, d_).noalias() = cached_jacobian_ * dy;
    }
    return 0;
  }

  int JacobianBlocks(double t, const double* y, double* blocks) override {
    const int n = 2 * d_;
    std::vector<double> e(static_cast<std::size_t>(n), 0.0), col(static_cast<std::size_t>(n));
    for (int j = 0; j < n; ++j) {
      e[static_cast<std::size_t>(j)] = 1.0;
      const int rc = Jvp(t, y, e.data(), col.data());
      e[static_cast<std::size_t>(j)] = 0.0;
      if (rc != 0) return rc;
      for (int i = 0; i < n; ++i) blocks[i * n + j] = col[static_cast<std::size_t>(i)];
    }
    return 0;
  }

  const std::string& failure() const { return failure_; }

 private:
  // The acceleration and its Jacobian at y, unless they are already those of y.
  int UpdateJacobian(const double* y) {
    const Eigen::Map<const VectorXd> state(y, 2 * d_);
    if (has_cache_ && state == cached_y_) return 0;
    ScopedEvent event(kEventJacobian);
    has_cache_ = false;
    LoadState(y);
    if (!metric_.AccelerationJacobian(g_, v_, &cached_a_, &cached_jacobian_, &failure_)) {
      return 1;  // recoverable: a smaller step may stay inside the domain
    }
    cached_y_ = state;
    has_cache_ = true;
    return 0;
  }

  const Metric& metric_;
  int d_;
  std::string failure_;
  bool quadratures_;
  bool flow_jacobian_ = false;
  bool has_cache_ = false;
  VectorXd cached_y_, cached_a_;
  MatrixXd cached_jacobian_;  // [da/dg | da/dv], d x 2d
  // The state (position g, velocity v) and the acceleration as the metric takes them: members, so that a step's
  // evaluations re-use their storage instead of allocating.
  VectorXd g_, v_, a_;
  void LoadState(const double* y) {
    g_ = Eigen::Map<const VectorXd>(y, d_);
    v_ = Eigen::Map<const VectorXd>(y + d_, d_);
  }
};

void CheckInput(const Metric& metric, const VectorXd& z, const VectorXd& u, const GeodesicOptions& options) {
  if (z.size() != metric.dim() || u.size() != metric.dim()) {
    throw InputError("ExpMap: z has " + std::to_string(z.size()) + " and u " + std::to_string(u.size()) +
                     " entries, the metric's dimension is " + std::to_string(metric.dim()));
  }
  const std::string problem = options.Validate();
  if (!problem.empty()) throw InputError("ExpMap: " + problem);
}

// A start point outside the domain or a non-finite initial velocity: the status and message in *r, false.
bool StartIsValid(const Metric& metric, const VectorXd& z, const VectorXd& u, ExpMapResult* r) {
  std::string why;
  if (!metric.InDomain(z, &why)) {
    r->status = GeodesicStatus::kOutsideDomain;
    r->message = "start point outside the domain: " + why;
    return false;
  }
  if (!u.allFinite()) {
    r->status = GeodesicStatus::kOutsideDomain;
    r->message = "non-finite initial velocity u = " + FormatPoint(u);
    return false;
  }
  return true;
}

// Maps an integration failure to a status: a failing acceleration means a singular metric or leaving the domain.
void Fail(ExpMapResult* r, const std::string& ode_message, OdeStatus s, const GeodesicSystem& system,
          const OdeOptions& ode, bool shots) {
  if ((s == OdeStatus::kRhsFailure || s == OdeStatus::kErrorTestFailures || s == OdeStatus::kSetupFailure ||
       s == OdeStatus::kConvergenceFailures || s == OdeStatus::kOtherFailure) &&
      !system.failure().empty()) {
    r->status = GeodesicStatus::kSingularMetric;
    r->message = ode_message + "; the geodesic equation failed: " + system.failure();
  } else {
    r->status = GeodesicStatus::kIntegrationFailure;
    r->message = ode_message + ". " + Advice(s, ode.prefix, GeodesicOptions::OdeOptionsRead(shots));
  }
}

}  // namespace

ExpMapResult ExpMap(const Metric& metric, const VectorXd& z, const VectorXd& u, const GeodesicOptions& options,
                    const std::vector<double>& times, bool with_jacobian) {
  ScopedEvent event(kEventExpMap);
  CheckInput(metric, z, u, options);
  const int d = metric.dim();
  ExpMapResult r;
  r.times = times;
  if (!StartIsValid(metric, z, u, &r)) return r;
  for (std::size_t k = 0; k < times.size(); ++k) {
    if (!(times[k] > 0 && times[k] <= 1) || (k > 0 && !(times[k] > times[k - 1]))) {
      throw InputError("ExpMap: output times must increase inside (0, 1]; times[" + std::to_string(k) +
                       "] = " + FormatReal(times[k]));
    }
  }
  const MatrixXd M0 = metric.Evaluate(z);
  r.initial_speed2 = u.dot(M0 * u);

  GeodesicSystem system(metric, options.integrate_length);
  std::unique_ptr<OdeIntegrator> integrator = OdeIntegrators().Create(options.ode.type, options.ode);
  std::vector<double> y(static_cast<std::size_t>(2 * d));
  Eigen::Map<VectorXd>(y.data(), d) = z;
  Eigen::Map<VectorXd>(y.data() + d, d) = u;
  double q[2] = {0, 0};
  OdeOutput output;
  output.times = times;
  r.curve.assign(times.size(), VectorXd());
  output.callback = [&](std::size_t i, double, const double* yy, const double*) {
    r.curve[i] = Eigen::Map<const VectorXd>(yy, d);
  };
  std::string message;
  const OdeStatus s = integrator->Integrate(system, 0.0, 1.0, y.data(), q, times.empty() ? nullptr : &output,
                                            &r.stats, &message);
  bvp::GeodesicStatsScope::Record(r.stats);
  if (s != OdeStatus::kSuccess) {
    Fail(&r, message, s, system, options.ode, false);
    return r;
  }
  r.end_point = Eigen::Map<const VectorXd>(y.data(), d);
  r.end_velocity = Eigen::Map<const VectorXd>(y.data() + d, d);
  if (options.integrate_length) {
    r.energy = q[0];
    r.length = q[1];
  } else {  // constant speed along a geodesic
    r.energy = r.initial_speed2;
    r.length = std::sqrt(std::max(r.initial_speed2, 0.0));
  }
  r.speed_drift = std::abs(r.end_velocity.dot(metric.Evaluate(r.end_point) * r.end_velocity) - r.initial_speed2);
  if (with_jacobian) {
    ExpMapResult j = ExpMapWithJacobian(metric, z, u, options);
    if (!j.usable()) {
      r.status = j.status;
      r.message = "variational equations: " + j.message;
      return r;
    }
    r.end_jacobian = j.end_jacobian;
    r.stats.Add(j.stats);
  }
  return r;
}

namespace {

// The flow over [0, 1] with the sensitivities of the end state to the initial state along the unit directions
// e_k, k = first_direction .. 2d - 1 (d: the velocity directions only; 0: the whole state).
ExpMapResult FlowWithJacobian(const Metric& metric, const VectorXd& z, const VectorXd& u,
                              const GeodesicOptions& options, int first_direction, bool full_state) {
  ScopedEvent event(kEventShot);
  CheckInput(metric, z, u, options);
  const int d = metric.dim();
  const int n = 2 * d;
  const std::size_t un = static_cast<std::size_t>(n);
  ExpMapResult r;
  if (!StartIsValid(metric, z, u, &r)) return r;
  if (!metric.HasAccelerationTangent()) {
    r.status = GeodesicStatus::kIntegrationFailure;
    r.message = "the metric cannot differentiate its geodesic acceleration, so the Jacobian of the geodesic flow "
                "is unavailable";
    return r;
  }
  r.initial_speed2 = u.dot(metric.Evaluate(z) * u);
  GeodesicSystem system(metric, false);
  system.WithFlowJacobian();
  std::vector<double> y(un);
  Eigen::Map<VectorXd>(y.data(), d) = z;
  Eigen::Map<VectorXd>(y.data() + d, d) = u;
  const int m = n - first_direction;  // number of directions
  std::vector<double> S(un * static_cast<std::size_t>(m), 0.0);
  for (int j = 0; j < m; ++j) S[static_cast<std::size_t>(j) * un + static_cast<std::size_t>(first_direction + j)] = 1.0;
  std::string message;
  const OdeStatus s = IntegrateVariational(system, options.ode, 0.0, 1.0, y.data(), m, S.data(), &r.stats, &message,
                                           options.jacobian_error_control);
  bvp::GeodesicStatsScope::Record(r.stats);
  if (s != OdeStatus::kSuccess) {
    Fail(&r, message, s, system, options.ode, true);
    return r;
  }
  r.end_point = Eigen::Map<const VectorXd>(y.data(), d);
  r.end_velocity = Eigen::Map<const VectorXd>(y.data() + d, d);
  const int rows = full_state ? n : d;
  r.end_jacobian.resize(rows, m);
  for (int j = 0; j < m; ++j) {
    for (int i = 0; i < rows; ++i) r.end_jacobian(i, j) = S[static_cast<std::size_t>(j) * un + static_cast<std::size_t>(i)];
  }
  r.energy = r.initial_speed2;
  r.length = std::sqrt(std::max(r.initial_speed2, 0.0));
  r.speed_drift = std::abs(r.end_velocity.dot(metric.Evaluate(r.end_point) * r.end_velocity) - r.initial_speed2);
  return r;
}

}  // namespace

ExpMapResult ExpMapWithJacobian(const Metric& metric, const VectorXd& z, const VectorXd& u,
                                const GeodesicOptions& options) {
  return FlowWithJacobian(metric, z, u, options, metric.dim(), false);
}

ExpMapResult ExpMapWithStateJacobian(const Metric& metric, const VectorXd& z, const VectorXd& u,
                                     const GeodesicOptions& options) {
  return FlowWithJacobian(metric, z, u, options, 0, true);
}

namespace bvp {

namespace {
thread_local GeodesicStatsScope* innermost_scope = nullptr;
}  // namespace

GeodesicStatsScope::GeodesicStatsScope() : outer_(innermost_scope) { innermost_scope = this; }

GeodesicStatsScope::~GeodesicStatsScope() {
  innermost_scope = outer_;
  if (outer_) outer_->stats_.Add(stats_);
}

void GeodesicStatsScope::Record(const OdeStats& stats) {
  if (innermost_scope) innermost_scope->stats_.Add(stats);
}

}  // namespace bvp

}  // namespace pushpull

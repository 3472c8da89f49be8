// Flow-versus-OT diagnostics of a continuous normalizing flow (flow_transport.hpp).
#include "pushpull/flow_transport.hpp"

#include <chrono>
#include <cmath>
#include <vector>

#include "pushpull/errors.hpp"

namespace pushpull {

MeanEstimate EstimateMean(const Eigen::VectorXd& x) {
  MeanEstimate e;
  double sum = 0;
  std::size_t n = 0;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    if (std::isfinite(x(i))) {
      sum += x(i);
      ++n;
    }
  }
  if (n == 0) return e;
  e.value = sum / static_cast<double>(n);
  double ss = 0;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    if (std::isfinite(x(i))) ss += (x(i) - e.value) * (x(i) - e.value);
  }
  e.standard_error = n > 1 ? std::sqrt(ss / static_cast<double>(n - 1) / static_cast<double>(n)) : 0.0;
  return e;
}

FlowTransportDiagnostics ComputeFlowTransportDiagnostics(const VectorField& field, double base_time,
                                                         const RowMatrixXd& base_draws,
                                                         const PushforwardOptions& flow,
                                                         const ExactTransportOptions& ot,
                                                         const PushforwardHooks& hooks) {
  const auto start = std::chrono::steady_clock::now();
  PushforwardOptions options = flow;
  options.kinetic = true;
  options.curl = true;
  ExactTransportOptions ot_options = ot;
  ot_options.cost = "sqeuclidean";
  const std::string problem = ot_options.Validate();
  if (!problem.empty()) throw InputError(problem);

  FlowTransportDiagnostics r;
  r.push = PushSamples(field, base_time, base_draws, options, hooks);
  const std::size_t N = r.push.size();
  r.samples = N;
  std::vector<Eigen::Index> used;
  for (std::size_t i = 0; i < N; ++i) {
    if (r.push.status[i].usable()) used.push_back(static_cast<Eigen::Index>(i));
  }
  r.used = used.size();
  const Eigen::Index n = static_cast<Eigen::Index>(used.size());
  const Eigen::Index d = base_draws.cols();
  r.displacement_per_sample = Eigen::VectorXd::Constant(static_cast<Eigen::Index>(N), std::nan(""));
  Eigen::VectorXd action(n), displacement(n), curl(n);
  PointMatrix z(n, d), x(n, d);
  for (Eigen::Index k = 0; k < n; ++k) {
    const Eigen::Index i = used[static_cast<std::size_t>(k)];
    z.row(k) = base_draws.row(i);
    x.row(k) = r.push.endpoints.row(i);
    displacement(k) = (x.row(k) - z.row(k)).squaredNorm();
    r.displacement_per_sample(i) = displacement(k);
    action(k) = r.push.kinetic(i);
    curl(k) = r.push.curl(i);
  }
  r.action = EstimateMean(action);
  r.displacement = EstimateMean(displacement);
  r.curl = EstimateMean(curl);
  if (n >= 1 && r.action.value > 0) {
    // Ratio of means D / K: delta method, Var(R) ~ Var(D_i - R K_i) / (n Kbar^2).
    const double ratio = r.displacement.value / r.action.value;
    r.straightness.value = ratio;
    const Eigen::VectorXd resid = displacement - ratio * action;
    r.straightness.standard_error =
        n > 1 ? std::sqrt(resid.squaredNorm() / static_cast<double>(n - 1) / static_cast<double>(n)) /
                    r.action.value
              : 0.0;
  }
  if (n >= 1) {
    r.transport = SolveExactTransport(z, x, Eigen::VectorXd(), Eigen::VectorXd(), ot_options);
    if (r.transport.usable()) {
      // The empirical cost fluctuates like mean_i (u(z_i) + v(T(z_i))) (del Barrio and Loubes 2019).
      const Eigen::VectorXd paired = r.transport.u + r.transport.v;
      r.w2_squared.value = r.transport.cost;
      r.w2_squared.standard_error = EstimateMean(paired).standard_error;
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace pushpull

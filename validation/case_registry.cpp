#include "validation.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace pushpull::validation {

const std::vector<MetricInfo>& KnownMetrics() {
  static const std::vector<MetricInfo> metrics = {
      // Flow cases (G1 ... G7): over the points whose integration succeeded.
      {"max_error_endpoint", "max end-point error",
       "largest max-norm error of the end points against the closed form (flows: latent points or samples; log "
       "map: |Exp_z0(u)(1) - z1| of the returned u, re-integrated independently; exp map: relative to "
       "max(1, |exact|))"},
      {"mean_error_endpoint", "mean end-point error", "mean over the items of the max-norm end-point error"},
      {"max_error_logp", "max |log p error|", "largest |log p error| against the closed-form log-density"},
      {"mean_error_logp", "mean |log p error|", "mean |log p error| against the closed-form log-density"},
      {"nfe_per_sample", "NFE per sample",
       "field evaluations of each point's batch, averaged over the points"},
      {"steps_per_sample", "steps per sample", "integrator steps of each point's batch, averaged over the points"},
      // Geodesic cases, logarithm map.
      {"max_rel_distance_error", "max relative distance error",
       "largest |L - d| / d of the returned length L against the closed-form distance d"},
      {"mean_rel_distance_error", "mean relative distance error", "mean |L - d| / d over the converged pairs"},
      {"iterations_per_pair", "iterations per pair",
       "Levenberg-Marquardt (and polishing Newton) iterations per pair"},
      {"nfe_per_pair", "NFE per pair",
       "right-hand-side evaluations of the solver's verifying integration per pair"},
      // Geodesic cases, exponential map.
      {"max_rel_speed_drift", "max relative speed drift",
       "largest |g'^T M g' (1) - (0)| / (u^T M u): the speed of a geodesic is constant"},
      {"mean_rel_speed_drift", "mean relative speed drift", "mean relative speed drift over the geodesics"},
      {"steps_per_geodesic", "steps per geodesic", "integrator steps per geodesic"},
      {"nfe_per_geodesic", "NFE per geodesic", "right-hand-side evaluations per geodesic"},
      // Transport cases (OT-..., MMD-..., FLOW-OT-...).
      {"max_rel_cost_error", "max relative OT cost error",
       "largest |cost - reference| / max C_ij against brute force over permutations or the 1-D sorted matching"},
      {"max_rel_duality_gap", "max relative duality gap",
       "largest duality gap (or reduced-cost violation) of the certificate, relative to max C_ij"},
      {"estimate", "estimate", "the estimate of the row's quantity (a mean over replicates where there are several)"},
      {"closed_form", "closed form", "the closed-form value the estimate is compared with"},
      {"standard_error", "standard error", "standard error of the estimate"},
      {"mean_abs_error", "mean |error|", "mean over replicates of |estimate - closed form|"},
      {"error_in_standard_errors", "|error| / SE", "|estimate - closed form| in units of its standard error"},
      {"points", "points", "points per sample set"},
      {"variance_ratio", "estimated / observed variance",
       "mean of the estimator's variance estimates over the variance of its values across replicates"},
      {"rejection_rate", "rejection rate", "share of null replicates with permutation p-value <= 0.1"},
      {"action", "E K", "mean kinetic action int ||v||^2 dt of the trajectories"},
      {"action_closed_form", "E K exact", "closed-form mean kinetic action"},
      {"displacement", "E ||T(z) - z||^2", "mean squared displacement of the samples from their base draws"},
      {"w2_squared", "W2^2 (samples)", "exact W2^2 between the base draws and the pushed samples"},
      {"w2_squared_closed_form", "W2^2 exact", "closed-form W2^2 between the base and the data distribution"},
      {"straightness", "straightness", "E ||T(z) - z||^2 / E K (1 for straight constant-speed trajectories)"},
      {"curl", "curl integral", "mean of int ||J - J^T||_F^2 dt along the trajectories"},
      {"curl_closed_form", "curl exact", "closed-form curl integral"},
  };
  return metrics;
}

const MetricInfo& FindMetric(const std::string& name) {
  for (const auto& m : KnownMetrics()) {
    if (m.name == name) return m;
  }
  throw std::invalid_argument("validation: unknown sweep metric '" + name + "' (add it to KnownMetrics())");
}

void SweepRow::Set(const std::string& name, double value) {
  FindMetric(name);
  for (auto& m : metrics) {
    if (m.name == name) {
      m.value = value;
      return;
    }
  }
  metrics.push_back({name, value});
}

bool SweepRow::Has(const std::string& name) const {
  return std::any_of(metrics.begin(), metrics.end(), [&](const RowMetric& m) { return m.name == name; });
}

double SweepRow::Get(const std::string& name) const {
  for (const auto& m : metrics) {
    if (m.name == name) return m.value;
  }
  throw std::out_of_range("validation: sweep row '" + method + "' (" + kind + ") has no metric '" + name + "'");
}

Check MakeCheck(std::string name, std::string method, double tolerance, double value, std::string relation,
                double threshold, std::string detail) {
  Check c;
  c.name = std::move(name);
  c.method = std::move(method);
  c.tolerance = tolerance;
  c.value = value;
  c.relation = std::move(relation);
  c.threshold = threshold;
  c.passed = std::isfinite(value) && std::isfinite(threshold) &&
             (c.relation == "<=" ? value <= threshold : value >= threshold);
  c.detail = std::move(detail);
  return c;
}

Registry<Case>& CaseRegistry() {
  static Registry<Case>* registry = [] {
    auto* r = new Registry<Case>("validate_cases");
    RegisterFlowCases(*r);
    RegisterGeodesicCases(*r);
    RegisterTransportCases(*r);
    return r;
  }();
  return *registry;
}

}  // namespace pushpull::validation

// The validation framework behind `pushpull validate` (internal; not installed).
//
// A validation case (G1 ... G7 of docs/math.md section 2, geodesic cases later) runs the library's solvers on a problem
// with a closed-form answer and returns a CaseReport: the full sweep (one row per method x tolerance x trace type)
// and a list of checks, each with the measured value, an explicit pass threshold and a verdict.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pushpull/options.hpp"
#include "pushpull/pushforward.hpp"
#include "pushpull/registry.hpp"

namespace pushpull::validation {

struct Settings {
  std::string level = "quick";                     // quick | full
  std::vector<double> tolerances;                  // rtol = atol sweep; empty: the level's default
  std::vector<std::string> methods;                // integrators to validate; empty: every registered one
  PushforwardOptions solver;                       // the configuration validated (linear solver, batch size,
                                                   // threads, ...); type and tolerances are swept
  std::uint64_t seed = 20261122;
  // Test hook: wraps every field before it is solved (a test injects a deliberately wrong field this way).
  std::function<std::unique_ptr<VectorField>(std::unique_ptr<VectorField>)> wrap_field;
};

// A measured quantity of a sweep row, named for what it is: the name is the HDF5 dataset name of the case's sweep,
// and KnownMetrics() says what each name means. Cases add names there before using them.
struct RowMetric {
  std::string name;
  double value = 0;
};

struct MetricInfo {
  std::string name;
  std::string title;        // short column / axis title, e.g. "max |log p error|"
  std::string description;  // one sentence for docs and the HDF5 attribute
};

// Every metric name a sweep row may carry, in display order. RowMetric names must be among them (checked by Set).
const std::vector<MetricInfo>& KnownMetrics();
// The entry for `name`; throws std::invalid_argument naming it when it is not a known metric.
const MetricInfo& FindMetric(const std::string& name);

// One run of a case: what was run (method, kind, dimension, tolerance) and what was measured, by name.
struct SweepRow {
  std::string method;
  // What the row measures: "exact", "hutchinson-rademacher", "hutchinson-gaussian" (flows), "log-map", "exp-map"
  // (geodesic cases), ...
  std::string kind;
  int dimension = 0;
  double tolerance = 0;
  double seconds = 0;
  int failed = 0;          // items (samples, pairs, geodesics) whose solve failed
  std::vector<RowMetric> metrics;
  // Rows of a tolerance sweep (the console table and the work-precision plots) name their error and cost metrics;
  // other rows leave them empty.
  std::string error_metric;
  std::string cost_metric;

  bool in_sweep() const { return !error_metric.empty(); }
  // Adds or replaces `name` (a KnownMetrics() name, else std::invalid_argument).
  void Set(const std::string& name, double value);
  bool Has(const std::string& name) const;
  // The value of `name`; std::out_of_range naming it when the row does not carry it.
  double Get(const std::string& name) const;
  double error() const { return Get(error_metric); }
  double cost() const { return Get(cost_metric); }
};

struct Check {
  std::string name;        // e.g. "error falls with tolerance"
  std::string method;
  double tolerance = 0;    // 0 where not tolerance-specific
  double value = 0;        // what was measured
  double threshold = 0;    // the pass threshold
  std::string relation;    // how value compares with threshold to pass: "<=", ">=", "in"
  bool passed = false;
  std::string detail;
};

// A check with its verdict: passes when `value relation threshold` holds ("<=" or ">="). A non-finite value or
// threshold never passes: a validation that cannot fail is no validation. (Band checks set `passed` themselves.)
Check MakeCheck(std::string name, std::string method, double tolerance, double value, std::string relation,
                double threshold, std::string detail);

// One line for a failed check: "METHOD[ tol T]: NAME: value V RELATION THRESHOLD (DETAIL)".
std::string DescribeFailure(const Check& check);

struct CaseReport {
  std::string name;
  std::string description;
  std::vector<SweepRow> sweep;
  std::vector<Check> checks;
  bool passed() const {
    for (const auto& c : checks) {
      if (!c.passed) return false;
    }
    return !checks.empty();
  }
  // The metric names its rows carry, in KnownMetrics() order: the columns of the report (one dataset each).
  std::vector<std::string> MetricNames() const;
  // One value per sweep row: the row's `metric`, NaN in rows without it.
  std::vector<double> MetricColumn(const std::string& metric) const;
};

class Case {
 public:
  virtual ~Case() = default;
  virtual std::string description() const = 0;
  virtual CaseReport Run(const Settings& settings) = 0;
};

// ---- Running the suites: one code path for `pushpull validate` and pushpull.validate(...) ----

// The options of a validation run, declared once for the CLI and the Python module.
struct RunOptions {
  std::string cases;               // comma-separated; empty = all registered
  std::string level = "quick";     // quick | full
  std::string methods;             // comma-separated; empty = every registered integrator
  std::vector<double> tolerances;  // empty = the level's default
  PushforwardOptions solver;       // the configuration validated

  // Declares -validate_cases, -validate_level, -validate_methods, -validate_tols (section "Validation"), then the
  // solver's options (PushforwardOptions::SetFromOptions, no -ode_monitor).
  void SetFromOptions(OptionsDatabase& db);
};

// A checked run: the cases to run, in order, and their settings.
struct Plan {
  std::vector<std::string> names;
  Settings settings;
};
// Throws InputError naming an unknown case or integrator (with the valid names).
Plan MakePlan(const RunOptions& options);

// Runs the plan's cases in order, each report named; `on_case` (optional) sees each report as soon as it is
// complete (the CLI writes it into its HDF5 report then). Interrupted (parallel.hpp) propagates from the solves, and
// is thrown before the next case when an interrupt was requested.
std::vector<CaseReport> RunCases(const Plan& plan, const std::function<void(const CaseReport&)>& on_case = {});

// Every built-in case registered (G1 ... G7 first); research code may register its own.
Registry<Case>& CaseRegistry();
void RegisterFlowCases(Registry<Case>& registry);
// The geodesic cases GEO-... of docs/math.md section 4 (validation/geodesic_cases.cpp).
void RegisterGeodesicCases(Registry<Case>& registry);
// The transport cases OT-exact, OT-sinkhorn, OT-gaussian-w2, MMD-gaussian, FLOW-OT-G3, FLOW-OT-G1 (validation/transport_cases.cpp).
void RegisterTransportCases(Registry<Case>& registry);

}  // namespace pushpull::validation

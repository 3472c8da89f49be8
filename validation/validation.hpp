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

struct SweepRow {
  std::string method;
  std::string trace;       // "exact" or "hutchinson"
  int dimension = 0;
  double tolerance = 0;
  double max_error_x = 0, mean_error_x = 0;
  double max_error_logp = 0, mean_error_logp = 0;
  double nfe_per_sample = 0;
  double steps_per_sample = 0;
  double seconds = 0;
  int failed = 0;          // samples whose integration failed
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
};

class Case {
 public:
  virtual ~Case() = default;
  virtual std::string description() const = 0;
  virtual CaseReport Run(const Settings& settings) = 0;
};

// Every built-in case registered (G1 ... G7 first); research code may register its own.
Registry<Case>& CaseRegistry();
void RegisterFlowCases(Registry<Case>& registry);
// The geodesic cases GEO-... of docs/math.md section 4 (validation/geodesic_cases.cpp).
void RegisterGeodesicCases(Registry<Case>& registry);

}  // namespace pushpull::validation

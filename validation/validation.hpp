// The validation framework behind `pushpull validate` (internal; not installed).
//
// A validation case (G1 ... G7 of MATH.md section 2, geodesic cases later) runs the library's solvers on a problem
// with a closed-form answer and returns a CaseReport: the full sweep (one row per method x tolerance x trace type)
// and a list of checks, each with the measured value, an explicit pass threshold and a verdict.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pushpull/options.hpp"
#include "pushpull/registry.hpp"

namespace pushpull::validation {

struct Settings {
  std::string level = "quick";                     // quick | full
  std::vector<double> tolerances;                  // rtol sweep; atol = rtol * atol_ratio
  std::vector<std::string> methods;                // integrators to validate
  int threads = 0;                                 // 0: all cores
  unsigned long long seed = 20261122;
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

Registry<Case>& CaseRegistry();

}  // namespace pushpull::validation

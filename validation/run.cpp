// Running the validation suites (validation.hpp): the options, the checked plan and the loop over the cases, shared
// by `pushpull validate` (src/cli/command_validate.cpp, which adds the HDF5/HTML report and the console table) and
// pushpull.validate(...) (src/python/validate.cpp).
#include <cmath>
#include <cstdio>
#include <sstream>

#include "pushpull/errors.hpp"
#include "pushpull/ode.hpp"
#include "pushpull/parallel.hpp"
#include "pushpull/registry.hpp"
#include "validation.hpp"

namespace pushpull::validation {
namespace {

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

std::string DescribeFailure(const Check& c) {
  std::ostringstream os;
  os << c.method;
  if (c.tolerance > 0) {
    char t[32];
    std::snprintf(t, sizeof t, "%.1e", c.tolerance);
    os << " tol " << t;
  }
  os << ": " << c.name << ": value " << c.value << " " << c.relation << " " << c.threshold << " (" << c.detail
     << ")";
  return os.str();
}

std::vector<std::string> CaseReport::MetricNames() const {
  std::vector<std::string> names;
  for (const auto& info : KnownMetrics()) {
    for (const auto& row : sweep) {
      if (row.Has(info.name)) {
        names.push_back(info.name);
        break;
      }
    }
  }
  return names;
}

std::vector<double> CaseReport::MetricColumn(const std::string& metric) const {
  std::vector<double> values;
  values.reserve(sweep.size());
  for (const auto& row : sweep) values.push_back(row.Has(metric) ? row.Get(metric) : std::nan(""));
  return values;
}

void RunOptions::SetFromOptions(OptionsDatabase& db) {
  db.SetSection("Validation (pushpull validate)");
  db.String("", "validate_cases", cases, "Comma-separated cases to run (default: all registered cases)",
            "validation::RunOptions::cases");
  db.Enum("", "validate_level", level,
          "quick fits in two minutes; full sweeps tighter tolerances and higher dimensions",
          "validation::RunOptions::level", {"quick", "full"});
  db.String("", "validate_methods", methods,
            "Comma-separated integrators to validate (default: every registered -ode_type)",
            "validation::RunOptions::methods");
  db.RealList("", "validate_tols", tolerances,
              "Tolerance sweep, rtol = atol (default: 1e-4,1e-6,1e-8 for quick, 1e-4 ... 1e-10 for full)",
              "validation::RunOptions::tolerances", RealBounds::Positive());
  solver.SetFromOptions(db, "");
}

Plan MakePlan(const RunOptions& options) {
  Plan plan;
  plan.names = options.cases.empty() ? CaseRegistry().Names() : SplitCommas(options.cases);
  for (const auto& n : plan.names) {
    if (!CaseRegistry().Has(n)) CaseRegistry().Create(n);  // throws, listing valid names
  }
  plan.settings.methods = SplitCommas(options.methods);
  for (const auto& m : plan.settings.methods) {
    if (!OdeIntegrators().Has(m)) {
      throw InputError(detail::UnknownTypeMessage("validate_methods", m, OdeIntegrators().Names()));
    }
  }
  plan.settings.level = options.level;
  plan.settings.tolerances = options.tolerances;
  plan.settings.solver = options.solver;
  return plan;
}

std::vector<CaseReport> RunCases(const Plan& plan, const std::function<void(const CaseReport&)>& on_case) {
  std::vector<CaseReport> reports;
  for (const auto& name : plan.names) {
    // A case that catches its solves' failures must not turn an interrupt into a run of failed cases.
    if (InterruptSignal() != 0) throw Interrupted(InterruptSignal());
    auto c = CaseRegistry().Create(name);
    reports.push_back(c->Run(plan.settings));
    reports.back().name = name;
    if (on_case) on_case(reports.back());
  }
  return reports;
}

}  // namespace pushpull::validation

#include "validation.hpp"

#include <cmath>

namespace pushpull::validation {

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
    return r;
  }();
  return *registry;
}

}  // namespace pushpull::validation

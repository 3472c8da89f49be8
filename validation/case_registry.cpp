#include "validation.hpp"

namespace pushpull::validation {

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

#include "validation.hpp"

namespace pushpull::validation {

Registry<Case>& CaseRegistry() {
  static Registry<Case> registry("validate_cases");
  return registry;
}

}  // namespace pushpull::validation

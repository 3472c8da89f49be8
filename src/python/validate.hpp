// pushpull.validate(...): the validation suites of `pushpull validate` from Python (validate.cpp).
#pragma once

#include <string>

#include "common.hpp"

namespace pushpull::python {

// Declares on `db` the options of pushpull.validate and sets *head to its signature; false for another command.
bool DeclareValidateOptions(const std::string& command, OptionsDatabase& db, std::string* head);

// Adds validate() and its result classes to the module.
void RegisterValidate(py::module_& m);

}  // namespace pushpull::python

// Geodesics, the exponential map and distance matrices of the Python module (geometry.cpp).
#pragma once

#include <string>

#include "common.hpp"

namespace pushpull::python {

// Declares on `db` the options of pushpull.<command> for command geodesic, exp_map or distances and sets *head to
// its signature; false for another command.
bool DeclareGeometryOptions(const std::string& command, OptionsDatabase& db, std::string* head);

// Adds geodesic(), exp_map(), distances(), metric_types() and the result classes to the module.
void RegisterGeometry(py::module_& m);

}  // namespace pushpull::python

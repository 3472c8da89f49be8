// Optimal transport and two-sample statistics of the Python module (transport.cpp).
#pragma once

#include <string>

#include "common.hpp"

namespace pushpull::python {

// Declares on `db` the options of pushpull.<command> for command transport, sinkhorn or two_sample and sets *head to
// its signature; false for another command.
bool DeclareTransportOptions(const std::string& command, OptionsDatabase& db, std::string* head);

// Adds transport(), sinkhorn(), two_sample() and their result class to the module.
void RegisterTransport(py::module_& m);

}  // namespace pushpull::python

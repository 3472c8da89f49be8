// Factories of the built-in integrators (internal).
#pragma once

#include <memory>

#include "pushpull/ode.hpp"

namespace pushpull {
std::unique_ptr<OdeIntegrator> MakeCvodesBdf(const OdeOptions& options);
std::unique_ptr<OdeIntegrator> MakeCvodesAdams(const OdeOptions& options);
std::unique_ptr<OdeIntegrator> MakeArkodeDopri5(const OdeOptions& options);
std::unique_ptr<OdeIntegrator> MakeArkodeEsdirk(const OdeOptions& options);
}  // namespace pushpull

// The registry of the built-in ODE integrators (-ode_type and every prefixed *_ode_type) and the one SUNDIALS
// context constructor (its signature changes in SUNDIALS 7). The integrators themselves are in
// cvodes_integrator.cpp and arkode_integrator.cpp.
#include <stdexcept>

#include "ode/integrators.hpp"
#include "ode/sundials_support.hpp"
#include "pushpull/ode.hpp"

namespace pushpull {

OdeIntegratorRegistry& OdeIntegrators() {
  static OdeIntegratorRegistry* registry = [] {
    auto* r = new OdeIntegratorRegistry("ode_type");
    r->Register("bdf", "CVODES BDF (orders 1-5) with Newton iterations; for stiff flows", MakeCvodesBdf);
    r->Register("adams", "CVODES Adams-Moulton (orders 1-12) with fixed-point iterations; for smooth non-stiff flows",
                MakeCvodesAdams);
    r->Register("dopri5", "ARKODE explicit Dormand-Prince 5(4), as torchdiffeq's dopri5", MakeArkodeDopri5);
    r->Register("esdirk", "ARKODE implicit ESDIRK 5(4) (ESDIRK547L2SA) with Newton iterations", MakeArkodeEsdirk);
    return r;
  }();
  return *registry;
}

namespace sundials {
Context::Context() {
  if (SUNContext_Create(nullptr, &ctx_) != 0 || !ctx_) throw std::runtime_error("SUNDIALS: SUNContext_Create failed");
}
Context::~Context() { SUNContext_Free(&ctx_); }
}  // namespace sundials

}  // namespace pushpull

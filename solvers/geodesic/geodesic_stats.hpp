// Internal to solvers/: the integrator statistics of one logarithm-map call (LogMapResult::stats). While a
// GeodesicStatsScope is alive, every geodesic integration on its thread (ExpMap and the shots with sensitivities,
// geodesic_ivp.cpp) adds its OdeStats to it; scopes nest (an inner scope's sum goes to the enclosing one as well when
// it ends). A LogMap solve runs on one thread (the batches parallelise over pairs), so the sum is the solve's own.
#pragma once

#include "pushpull/ode.hpp"

namespace pushpull::bvp {

class GeodesicStatsScope {
 public:
  GeodesicStatsScope();
  ~GeodesicStatsScope();
  GeodesicStatsScope(const GeodesicStatsScope&) = delete;
  GeodesicStatsScope& operator=(const GeodesicStatsScope&) = delete;
  const OdeStats& stats() const { return stats_; }

  // Adds `stats` to the innermost scope of this thread (nothing when none is alive).
  static void Record(const OdeStats& stats);

 private:
  OdeStats stats_;
  GeodesicStatsScope* outer_ = nullptr;
};

}  // namespace pushpull::bvp

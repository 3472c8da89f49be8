// The geodesic validation cases (docs/math.md section 4) as objects that tests can build directly (internal; not
// installed). `pushpull validate` reaches them through CaseRegistry() (RegisterGeodesicCases in validation.hpp).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pushpull/metric.hpp"
#include "validation.hpp"

namespace pushpull::validation {

// Applied to every metric whose geodesics a case computes (a test injects a deliberately wrong metric this way).
using MetricWrapper = std::function<std::shared_ptr<const Metric>(std::shared_ptr<const Metric>)>;

// "GEO-linear", "GEO-sphere", "GEO-fisher-rao", "GEO-poincare", "GEO-torus", "GEO-height-field", "GEO-stochastic".
std::vector<std::string> GeodesicCaseNames();

// The case `name` (one of GeodesicCaseNames(); InputError otherwise), its metrics passed through `wrap` when set.
std::unique_ptr<Case> MakeGeodesicCase(const std::string& name, MetricWrapper wrap = {});

}  // namespace pushpull::validation

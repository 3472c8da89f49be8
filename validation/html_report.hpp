// The self-contained HTML validation report (`pushpull validate -report_html FILE`): tables and, per case, a
// work-precision plot as inline SVG (internal).
#pragma once

#include <string>
#include <vector>

#include "validation.hpp"

namespace pushpull::validation {

// Returns the whole HTML page. `title` heads it; `provenance_lines` (versions, command line, options) are shown
// in a details block.
std::string RenderHtmlReport(const std::vector<CaseReport>& reports, const std::string& title,
                             const std::vector<std::string>& provenance_lines);

// One SVG work-precision plot for a case: x = cost (NFE per sample, or seconds when `x_is_time`), y = max
// log-density error, log-log axes with labels, one polyline per method (exact trace rows), a legend, and
// the requested tolerances marked. Exposed for tests.
std::string RenderWorkPrecisionSvg(const CaseReport& report, bool x_is_time);

}  // namespace pushpull::validation

// RunSummary (run_summary.hpp): counting statuses and the brief and full reports.
#include "pushpull/run_summary.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace pushpull {

void RunSummary::Tally(int value, const char* name, bool usable) {
  ++items;
  if (!usable) ++failed;
  auto it = std::lower_bound(statuses.begin(), statuses.end(), value,
                             [](const StatusCount& c, int v) { return c.value < v; });
  if (it == statuses.end() || it->value != value) it = statuses.insert(it, StatusCount{value, name, usable, 0});
  ++it->count;
}

std::string RunSummary::FailuresByStatus() const {
  std::string s;
  for (const StatusCount& c : statuses) {
    if (!c.usable) s += (s.empty() ? "" : ", ") + c.name + " " + std::to_string(c.count);
  }
  return s;
}

namespace {

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g s", s);
  return buf;
}

}  // namespace

std::string RunSummary::BriefReport() const {
  std::ostringstream o;
  o << task << ": " << items << " " << item << (items == 1 ? "" : "s") << ", " << failed << " failed";
  if (failed > 0) o << " (" << FailuresByStatus() << ")";
  if (has_ode) o << ", " << ode.steps << " steps, " << ode.rhs_evals << " evaluations";
  if (iterations >= 0) o << ", " << iterations << " iterations";
  o << ", " << Seconds(seconds);
  return o.str();
}

std::string RunSummary::FullReport() const {
  std::ostringstream o;
  auto line = [&](const std::string& what, const std::string& value) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %-34s %s\n", what.c_str(), value.c_str());
    o << buf;
  };
  o << task << " summary\n";
  line(item + "s", std::to_string(items));
  line("usable", std::to_string(items - failed));
  line("failed", std::to_string(failed));
  for (const StatusCount& c : statuses) {
    line("  status " + std::to_string(c.value) + " " + c.name + (c.usable ? "" : " (failed)"), std::to_string(c.count));
  }
  if (has_ode) {
    line("integrator steps", std::to_string(ode.steps));
    line("right-hand-side evaluations (NFE)", std::to_string(ode.rhs_evals));
    line("rejected steps (error test)", std::to_string(ode.error_test_failures));
    line("nonlinear convergence failures", std::to_string(ode.newton_failures));
    line("nonlinear iterations", std::to_string(ode.newton_iters));
    line("Jacobian evaluations", std::to_string(ode.jacobian_evals));
    line("linear solver setups", std::to_string(ode.linear_setups));
  }
  if (iterations >= 0) line("Levenberg-Marquardt iterations", std::to_string(iterations));
  line("wall time", Seconds(seconds));
  if (!failures.empty()) {
    o << "first failures:\n";
    for (const std::string& f : failures) o << "  " << f << "\n";
  }
  return o.str();
}

}  // namespace pushpull

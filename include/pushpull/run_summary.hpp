// The summary of a batch run, the same for both engines (the pushforward's samples, the geodesic batches' pairs):
// items and failures counted by status (item_status.hpp), the integrator statistics summed over the run (steps,
// right-hand-side evaluations = NFE, rejected steps, ...), Levenberg-Marquardt iterations of geodesic solves and the
// wall time; with a one-line BriefReport() and a FullReport() table (after Ceres' Solver::Summary).
// PushforwardResult::Summary, GeodesicBatchResult::Summary and DistanceMatrixResult::Summary build it;
// status_output.hpp writes it to an output file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pushpull/item_status.hpp"
#include "pushpull/ode.hpp"

namespace pushpull {

// How many items of a run ended with one status code.
struct StatusCount {
  int value = 0;       // the numeric code (ItemStatus::value; -1 = not computed)
  std::string name;    // ItemStatus::name(): "success", "too_much_work", "not_converged", ...
  bool usable = false;
  std::size_t count = 0;
};

struct RunSummary {
  // Failures listed by FullReport (the first ones in item order).
  static constexpr std::size_t kListedFailures = 5;

  std::string task = "run";   // "density", "sample", "geodesic", "distances", "exp", ...
  std::string item = "item";  // what one item is, for the reports: "sample", "pair", "point"
  std::size_t items = 0;      // items counted
  std::size_t failed = 0;     // items whose status is not usable (not computed included)
  std::vector<StatusCount> statuses;  // one entry per code present, increasing code
  std::vector<std::string> failures;  // "<item label>: <message>" of the first kListedFailures failed items
  OdeStats ode;                       // integrator statistics summed over the run
  bool has_ode = true;                // whether `ode` was collected (false: the reports leave it out)
  std::int64_t iterations = -1;       // Levenberg-Marquardt iterations of geodesic solves; -1 = not applicable
  double seconds = 0;                 // wall time

  // Counts one item; `label()` (called only for a failed item) names it, e.g. "sample 3" or "pair (1, 2)".
  template <class Code, class Label>
  void Count(const ItemStatus<Code>& s, Label&& label) {
    const bool ok = s.usable();
    Tally(s.value, s.name(), ok);
    if (!ok && failures.size() < kListedFailures) failures.push_back(std::string(label()) + ": " + s.message);
  }
  // Counts every item of a vector, labelled "<item> <index>".
  template <class Code>
  void CountAll(const std::vector<ItemStatus<Code>>& s) {
    for (std::size_t i = 0; i < s.size(); ++i) Count(s[i], [&] { return item + " " + std::to_string(i); });
  }

  // One line: "geodesic: 10 pairs, 1 failed (not_converged 1), 1234 steps, 5678 evaluations, 40 iterations, 0.5 s".
  std::string BriefReport() const;
  // A table of every count and statistic, one per line, then the first failures.
  std::string FullReport() const;
  // "not_converged 1, approximate 2" for the unusable codes ("" when none failed).
  std::string FailuresByStatus() const;

 private:
  void Tally(int value, const char* name, bool usable);
};

}  // namespace pushpull

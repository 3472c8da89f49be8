// Shared pieces of the Python module (src/python/*.cpp; docs/python.md): keyword arguments onto the options
// database, NumPy arrays in and out, solves with the GIL released and Ctrl-C forwarded to the library's interrupt.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <exception>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "pushpull/errors.hpp"
#include "pushpull/options.hpp"
#include "pushpull/parallel.hpp"
#include "pushpull/row_matrix.hpp"
#include "pushpull/run_summary.hpp"

namespace pushpull::python {

namespace py = pybind11;
using namespace pybind11::literals;

// ---- Options ------------------------------------------------------------------------------------------------

// The text the options database parses for a keyword value: bool -> true/false, int, float (shortest round trip),
// str, or a sequence of numbers -> "a,b,c" (list options). None is skipped by Options (the default applies).
std::string OptionText(const std::string& key, const py::handle& value);

// Keyword arguments on an options database: each `name=value` is `-name value` on the CLI. Declare the options of
// the call on `db` (the same SetFromOptions as the CLI: checks, defaults, bounds), then call CheckAllUsed, which
// refuses a keyword nothing declared (ValueError naming it, with the closest declared name).
class Options {
 public:
  Options(const py::kwargs& kwargs, std::string function);
  OptionsDatabase db;
  void CheckAllUsed() const;
  bool Given(const std::string& key) const { return keys_.count(key) > 0; }

 private:
  std::set<std::string> keys_;
  std::string function_;
};

// ---- Arrays -------------------------------------------------------------------------------------------------

// A real NumPy array (or anything np.asarray accepts, e.g. a CPU torch tensor) as float64, C order: returned
// unchanged (no copy) when it is already float64 and C-contiguous, converted when it is another real type (integers,
// float32, a strided view); complex, bool, object and string arrays are refused (TypeError naming `what` and the
// dtype). Shape checks: `rank` dimensions; `shape` entries >= 0 must match (-1 any). Values must be finite
// (ValueError naming the first bad entry), as the CLI requires of input datasets.
py::array_t<double, py::array::c_style> RealArray(const py::handle& obj, const std::string& what, int rank,
                                                  const std::vector<py::ssize_t>& shape);
// "(3, 2)" for messages.
std::string ShapeText(const py::array& a);

// A rank-2 float64 C-order array copied into the library's matrix type (one memcpy).
RowMatrixXd ToRowMatrix(const py::array_t<double, py::array::c_style>& a);

// A NumPy view of memory owned by `owner` (kept alive by the array): no copy.
template <class T>
py::array View(const py::object& owner, const T* data, std::vector<py::ssize_t> shape) {
  return py::array_t<T>(std::move(shape), data, owner);
}

// Per-item statuses as NumPy arrays: codes (int32), names and messages (object arrays of str).
template <class Status>
py::dict StatusArrays(const std::vector<Status>& status) {
  const auto n = static_cast<py::ssize_t>(status.size());
  py::array_t<int> code(n);
  py::list names, messages;
  for (py::ssize_t i = 0; i < n; ++i) {
    const auto& s = status[static_cast<std::size_t>(i)];
    code.mutable_at(i) = s.value;
    names.append(s.name());
    messages.append(s.message);
  }
  py::module_ np = py::module_::import("numpy");
  py::dict d;
  d["status"] = code;
  d["status_name"] = np.attr("array")(names, "dtype"_a = "object");
  d["message"] = np.attr("array")(messages, "dtype"_a = "object");
  return d;
}

// RunSummary as a dict: task, item, items, failed, statuses {name: count}, failures, ode {steps, nfe, ...},
// iterations (geodesics; None otherwise), seconds, report (the CLI's one-line BriefReport).
py::dict SummaryDict(const RunSummary& s);

// ---- Solves -------------------------------------------------------------------------------------------------

// While alive on the main thread, SIGINT also requests the library's interrupt (RequestInterrupt, parallel.hpp: a
// batch stops at the next item boundary, the completed items are kept): the handler in force (Python's, which trips
// the flag PyErr_CheckSignals runs the Python-level handler for) is chained, not replaced, and restored by
// Restore() or the destructor. Elsewhere (another thread, SIGINT ignored or at its default) it does nothing.
class InterruptForwarding {
 public:
  InterruptForwarding();
  ~InterruptForwarding() { Restore(); }
  InterruptForwarding(const InterruptForwarding&) = delete;
  InterruptForwarding& operator=(const InterruptForwarding&) = delete;
  void Restore();
  // Whether a SIGINT arrived while installed.
  bool interrupted() const;

 private:
  bool installed_ = false;
  bool was_installed_ = false;
};

// Records the main thread at import (signals reach Python handlers there only).
void InitInterruptForwarding();

// Runs `work` (a solve that calls no Python) with the GIL released, on this thread. Ctrl-C during the solve (see
// InterruptForwarding) stops it at the next item boundary; then the library's interrupt is cleared and the Python
// signal handler runs (PyErr_CheckSignals): its exception (KeyboardInterrupt) is raised. Exceptions of `work` reach
// the caller unchanged (the module's translators map InputError to ValueError, IoError to OSError, Interrupted to
// KeyboardInterrupt).
template <class Work>
auto RunReleased(Work&& work) -> decltype(work()) {
  using Result = decltype(work());
  InterruptForwarding forwarding;
  std::optional<Result> result;
  std::exception_ptr error;
  {
    py::gil_scoped_release release;
    try {
      result.emplace(work());
    } catch (...) {
      error = std::current_exception();
    }
  }
  forwarding.Restore();
  if (forwarding.interrupted()) {
    ClearInterrupt();
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // KeyboardInterrupt, or the user's handler's
  }
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

}  // namespace pushpull::python

// Shared pieces of the Python module (src/python/*.cpp; docs/python.md): keyword arguments onto the options
// database, NumPy arrays in and out, solves with the GIL released and Ctrl-C turned into the library's interrupt.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <csignal>
#include <future>
#include <set>
#include <string>
#include <thread>
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

// Runs `work` (a solve that calls no Python) on a helper thread with the GIL released, while this thread polls
// PyErr_CheckSignals every `poll` interval. On a pending signal exception (Ctrl-C: KeyboardInterrupt) it requests
// the library's interrupt (RequestInterrupt(SIGINT), parallel.hpp: the batch stops at the next item boundary), waits
// for the solve to stop, clears the interrupt and raises that Python exception. Exceptions of `work` reach the
// caller unchanged (the module's translators map InputError to ValueError, IoError to OSError).
template <class Work>
auto RunReleased(Work&& work) -> decltype(work()) {
  using Result = decltype(work());
  std::packaged_task<Result()> task(std::forward<Work>(work));
  std::future<Result> future = task.get_future();
  bool signalled = false;
  {
    py::gil_scoped_release release;
    std::thread worker(std::move(task));
    while (future.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
      if (signalled) continue;
      py::gil_scoped_acquire acquire;
      if (PyErr_CheckSignals() != 0) {
        signalled = true;
        RequestInterrupt(SIGINT);
      }
    }
    worker.join();
  }
  if (signalled) {
    ClearInterrupt();
    throw py::error_already_set();  // the exception the signal handler raised (KeyboardInterrupt)
  }
  return future.get();
}

}  // namespace pushpull::python

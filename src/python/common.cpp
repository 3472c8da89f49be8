#include "common.hpp"

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstring>
#include <sstream>

#include <pythread.h>

namespace pushpull::python {

// ---- Ctrl-C ---------------------------------------------------------------------------------------------------

namespace {
unsigned long g_main_thread = 0;
struct sigaction g_previous;            // the SIGINT action in force before InterruptForwarding installed its own
std::atomic<bool> g_interrupted{false};  // a SIGINT arrived while installed
static_assert(std::atomic<bool>::is_always_lock_free, "the SIGINT handler must be async-signal-safe");

// Async-signal-safe: two atomic stores, then the previous handler (Python's trips its flag and wakes its loop).
extern "C" void ForwardInterrupt(int signal, siginfo_t* info, void* context) {
  g_interrupted.store(true);
  RequestInterrupt(signal);
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) g_previous.sa_sigaction(signal, info, context);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(signal);
  }
}
}  // namespace

void InitInterruptForwarding() {
  // The interpreter's main thread (the module may be imported from another one).
  g_main_thread = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
}

InterruptForwarding::InterruptForwarding() {
  if (PyThread_get_thread_ident() != g_main_thread) return;  // only the main thread runs Python signal handlers
  struct sigaction current;
  if (sigaction(SIGINT, nullptr, &current) != 0) return;
  const bool handled = (current.sa_flags & SA_SIGINFO) ? current.sa_sigaction != nullptr
                                                        : current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN;
  if (!handled) return;  // ignored: nothing to forward; default: the process ends anyway
  g_previous = current;
  g_interrupted.store(false);
  struct sigaction forward = {};
  forward.sa_sigaction = ForwardInterrupt;
  sigemptyset(&forward.sa_mask);
  forward.sa_flags = SA_SIGINFO | SA_RESTART | (current.sa_flags & SA_ONSTACK);
  installed_ = sigaction(SIGINT, &forward, nullptr) == 0;
  was_installed_ = installed_;
}

void InterruptForwarding::Restore() {
  if (!installed_) return;
  sigaction(SIGINT, &g_previous, nullptr);
  installed_ = false;
}

bool InterruptForwarding::interrupted() const { return was_installed_ && g_interrupted.load(); }

std::string OptionText(const std::string& key, const py::handle& value) {
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>() ? "true" : "false";
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  // NumPy scalars and Python numbers: integers keep their digits, reals their shortest round-trip text.
  py::module_ numbers = py::module_::import("numbers");
  if (py::isinstance(value, numbers.attr("Integral"))) return py::str(py::int_(py::reinterpret_borrow<py::object>(value)));
  if (py::isinstance(value, numbers.attr("Real"))) return FormatReal(value.cast<double>());
  if (py::isinstance<py::sequence>(value) || py::hasattr(value, "__array__")) {
    const py::array_t<double, py::array::c_style> a = RealArray(value, "keyword argument '" + key + "'", 1, {-1});
    std::string text;
    for (py::ssize_t i = 0; i < a.shape(0); ++i) text += (i ? "," : "") + FormatReal(a.at(i));
    return text;
  }
  throw py::type_error("keyword argument '" + key + "': a " + std::string(py::str(py::type::of(value).attr("__name__"))) +
                       " is not an option value (bool, int, float, str or a sequence of numbers)");
}

Options::Options(const py::kwargs& kwargs, std::string function) : function_(std::move(function)) {
  for (const auto& [k, v] : kwargs) {
    const std::string key = k.cast<std::string>();
    if (v.is_none()) continue;
    db.Set(key, OptionText(key, v));
    keys_.insert(key);
  }
}

void Options::CheckAllUsed() const {
  std::set<std::string> declared;
  for (const auto& d : db.Declarations()) declared.insert(d.name);
  for (const std::string& key : keys_) {
    if (declared.count(key)) continue;
    std::string message = "unknown option '" + key + "' (a keyword argument of " + function_ + ")";
    const std::string suggestion = db.Suggest(key);
    message += suggestion.empty() ? "; pushpull.help(...) lists the options" : "; did you mean '" + suggestion + "'?";
    throw py::value_error(message);
  }
  db.CheckAllUsed();  // nothing else can be left, but keep the CLI's own check as the last word
}

std::string ShapeText(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

py::array_t<double, py::array::c_style> RealArray(const py::handle& obj, const std::string& what, int rank,
                                                  const std::vector<py::ssize_t>& shape) {
  py::array a = py::array::ensure(obj);
  if (!a) {
    PyErr_Clear();
    throw py::type_error(what + ": expected an array of reals, got " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
  }
  const char kind = a.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u') {
    throw py::type_error(what + ": dtype " + std::string(py::str(a.dtype())) +
                         " is not supported; pass real numbers (float64 is used as is, other real types are "
                         "converted)");
  }
  if (a.ndim() != rank) {
    throw py::value_error(what + ": expected " + std::to_string(rank) + " dimensions, got shape " + ShapeText(a));
  }
  for (int i = 0; i < rank; ++i) {
    if (shape[static_cast<std::size_t>(i)] >= 0 && a.shape(i) != shape[static_cast<std::size_t>(i)]) {
      std::string expected = "(";
      for (int j = 0; j < rank; ++j) {
        const auto e = shape[static_cast<std::size_t>(j)];
        expected += (j ? ", " : "") + (e >= 0 ? std::to_string(e) : std::string("*"));
      }
      throw py::value_error(what + ": expected shape " + expected + (rank == 1 ? ",)" : ")") + ", got " +
                            ShapeText(a));
    }
  }
  // Already float64 and C-contiguous: the same buffer (no copy); otherwise one conversion.
  auto d = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!d) throw py::error_already_set();
  const double* p = d.data();
  const auto n = static_cast<std::size_t>(d.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(p[i])) {
      std::string where = "entry";
      std::size_t rest = i;
      std::vector<std::size_t> index(static_cast<std::size_t>(rank));
      for (int k = rank - 1; k >= 0; --k) {
        const auto extent = static_cast<std::size_t>(d.shape(k));
        index[static_cast<std::size_t>(k)] = rest % extent;
        rest /= extent;
      }
      where += " [";
      for (int k = 0; k < rank; ++k) where += (k ? ", " : "") + std::to_string(index[static_cast<std::size_t>(k)]);
      std::ostringstream v;
      v << p[i];
      throw py::value_error(what + ": " + where + "] is not finite (" + v.str() + ")");
    }
  }
  return d;
}

RowMatrixXd ToRowMatrix(const py::array_t<double, py::array::c_style>& a) {
  RowMatrixXd m(a.shape(0), a.shape(1));
  if (a.size() > 0) std::memcpy(m.data(), a.data(), sizeof(double) * static_cast<std::size_t>(a.size()));
  return m;
}

py::dict SummaryDict(const RunSummary& s) {
  py::dict d;
  d["task"] = s.task;
  d["item"] = s.item;
  d["items"] = s.items;
  d["failed"] = s.failed;
  py::dict statuses;
  for (const StatusCount& c : s.statuses) statuses[py::str(c.name)] = c.count;
  d["statuses"] = statuses;
  d["failures"] = py::cast(s.failures);
  if (s.has_ode) {
    py::dict ode;
    ode["steps"] = s.ode.steps;
    ode["nfe"] = s.ode.rhs_evals;
    ode["jacobian_evals"] = s.ode.jacobian_evals;
    ode["linear_setups"] = s.ode.linear_setups;
    ode["newton_iters"] = s.ode.newton_iters;
    ode["newton_failures"] = s.ode.newton_failures;
    ode["error_test_failures"] = s.ode.error_test_failures;
    d["ode"] = ode;
  } else {
    d["ode"] = py::none();
  }
  d["iterations"] = s.iterations >= 0 ? py::object(py::int_(s.iterations)) : py::object(py::none());
  d["seconds"] = s.seconds;
  d["report"] = s.BriefReport();
  return d;
}

}  // namespace pushpull::python

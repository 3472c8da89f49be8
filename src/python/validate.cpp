// pushpull.validate(level="quick", **options): the cases of `pushpull validate` run through the same library code
// (validation::RunOptions, MakePlan, RunCases in validation/run.cpp), without the CLI's report files. The result
// holds per case what the CLI writes into its HDF5 report group /CASE: the sweep columns (method, kind,
// error_metric, dimension, tolerance, one array per metric, seconds, failed) and the checks.
#include "validate.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "validation.hpp"

namespace pushpull::python {
namespace {

struct ValidationRun {
  std::vector<validation::CaseReport> cases;
  double seconds = 0;
  bool passed() const {
    if (cases.empty()) return false;
    for (const auto& c : cases) {
      if (!c.passed()) return false;
    }
    return true;
  }
};

// The case inside its run (keeps the run alive for NumPy views).
struct CaseRef {
  std::shared_ptr<ValidationRun> run;
  std::size_t index = 0;
  const validation::CaseReport& get() const { return run->cases[index]; }
};

template <class T, class F>
py::array_t<T> Column(const std::vector<validation::SweepRow>& rows, F&& f) {
  py::array_t<T> a(static_cast<py::ssize_t>(rows.size()));
  for (std::size_t i = 0; i < rows.size(); ++i) a.mutable_at(static_cast<py::ssize_t>(i)) = static_cast<T>(f(rows[i]));
  return a;
}

template <class F>
py::list Strings(const std::vector<validation::SweepRow>& rows, F&& f) {
  py::list l;
  for (const auto& r : rows) l.append(f(r));
  return l;
}

// A comma-separated list option may be given as a sequence of names.
void JoinNames(py::kwargs& kwargs, const char* key) {
  if (!kwargs.contains(key)) return;
  py::object v = kwargs[key];
  if (v.is_none() || py::isinstance<py::str>(v) || !py::isinstance<py::sequence>(v)) return;
  std::string joined;
  for (const auto& item : v) {
    if (!py::isinstance<py::str>(item)) {
      throw py::type_error(std::string("keyword argument '") + key + "': expected a str or a sequence of str, got a " +
                           py::str(py::type::of(item).attr("__name__")).cast<std::string>() + " in the sequence");
    }
    joined += (joined.empty() ? "" : ",") + item.cast<std::string>();
  }
  kwargs[key] = py::str(joined);
}

py::object Validate(const std::string& level, py::kwargs kwargs) {
  if (kwargs.contains("validate_level")) {
    throw py::value_error("pushpull.validate: give the level as level=..., not validate_level=...");
  }
  JoinNames(kwargs, "validate_cases");
  JoinNames(kwargs, "validate_methods");
  kwargs["validate_level"] = py::str(level);
  Options o(kwargs, "pushpull.validate");
  validation::RunOptions options;
  options.SetFromOptions(o.db);
  o.CheckAllUsed();
  const validation::Plan plan = validation::MakePlan(options);  // ValueError naming an unknown case or integrator
  auto run = std::make_shared<ValidationRun>();
  run->seconds = 0;
  const auto start = std::chrono::steady_clock::now();
  run->cases = RunReleased([&] { return validation::RunCases(plan); });
  run->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return py::cast(run);
}

}  // namespace

bool DeclareValidateOptions(const std::string& command, OptionsDatabase& db, std::string* head) {
  if (command != "validate") return false;
  validation::RunOptions o;
  o.SetFromOptions(db);
  *head = "pushpull.validate(level=\"quick\", **options)   (validate_level is the argument level)";
  return true;
}

void RegisterValidate(py::module_& m) {
  py::class_<CaseRef>(m, "ValidationCase",
                      "One validation case: its verdict, and its sweep and checks as the CLI's HDF5 report holds "
                      "them (group /NAME)")
      .def_property_readonly("name", [](const CaseRef& c) { return c.get().name; })
      .def_property_readonly("description", [](const CaseRef& c) { return c.get().description; })
      .def_property_readonly("passed", [](const CaseRef& c) { return c.get().passed(); },
                             "Whether every check passed (and there was at least one)")
      .def_property_readonly("message",
                             [](const CaseRef& c) {
                               std::string text;
                               for (const auto& check : c.get().checks) {
                                 if (check.passed) continue;
                                 text += (text.empty() ? "" : "\n") + validation::DescribeFailure(check);
                               }
                               return text;
                             },
                             "Empty when the case passed; else one line per failed check, as the CLI prints it")
      .def_property_readonly("metrics",
                             [](const CaseRef& c) {
                               py::dict d;
                               for (const auto& name : c.get().MetricNames()) {
                                 const std::vector<double> v = c.get().MetricColumn(name);
                                 d[py::str(name)] = py::array_t<double>(static_cast<py::ssize_t>(v.size()), v.data());
                               }
                               return d;
                             },
                             "{metric name: one value per sweep row (NaN where the row lacks it)}; "
                             "pushpull.validation_metrics() says what each name means")
      .def_property_readonly("method", [](const CaseRef& c) {
        return Strings(c.get().sweep, [](const validation::SweepRow& r) { return r.method; });
      })
      .def_property_readonly("kind", [](const CaseRef& c) {
        return Strings(c.get().sweep, [](const validation::SweepRow& r) { return r.kind; });
      })
      .def_property_readonly("error_metric", [](const CaseRef& c) {
        return Strings(c.get().sweep, [](const validation::SweepRow& r) { return r.error_metric; });
      })
      .def_property_readonly("dimension", [](const CaseRef& c) {
        return Column<std::int64_t>(c.get().sweep, [](const validation::SweepRow& r) { return r.dimension; });
      })
      .def_property_readonly("tolerance", [](const CaseRef& c) {
        return Column<double>(c.get().sweep, [](const validation::SweepRow& r) { return r.tolerance; });
      })
      .def_property_readonly("seconds", [](const CaseRef& c) {
        return Column<double>(c.get().sweep, [](const validation::SweepRow& r) { return r.seconds; });
      })
      .def_property_readonly("failed", [](const CaseRef& c) {
        return Column<std::int64_t>(c.get().sweep, [](const validation::SweepRow& r) { return r.failed; });
      })
      .def_property_readonly("checks",
                             [](const CaseRef& c) {
                               const auto& checks = c.get().checks;
                               const auto n = static_cast<py::ssize_t>(checks.size());
                               py::list name, method, relation, detail;
                               py::array_t<double> tolerance(n), value(n), threshold(n);
                               py::array_t<bool> passed(n);
                               for (py::ssize_t i = 0; i < n; ++i) {
                                 const auto& k = checks[static_cast<std::size_t>(i)];
                                 name.append(k.name);
                                 method.append(k.method);
                                 relation.append(k.relation);
                                 detail.append(k.detail);
                                 tolerance.mutable_at(i) = k.tolerance;
                                 value.mutable_at(i) = k.value;
                                 threshold.mutable_at(i) = k.threshold;
                                 passed.mutable_at(i) = k.passed;
                               }
                               py::dict d;
                               d["name"] = name;
                               d["method"] = method;
                               d["tolerance"] = tolerance;
                               d["value"] = value;
                               d["relation"] = relation;
                               d["threshold"] = threshold;
                               d["passed"] = passed;
                               d["detail"] = detail;
                               return d;
                             },
                             "The checks as columns: name, method, tolerance, value, relation, threshold, passed, "
                             "detail (a check passes when `value relation threshold`)")
      .def("__repr__", [](const CaseRef& c) {
        std::size_t failed = 0;
        for (const auto& k : c.get().checks) failed += k.passed ? 0 : 1;
        return "<pushpull.ValidationCase " + c.get().name + ": " + (c.get().passed() ? "pass" : "FAIL") + ", " +
               std::to_string(c.get().checks.size()) + " checks, " + std::to_string(failed) + " failed>";
      });

  py::class_<ValidationRun, std::shared_ptr<ValidationRun>>(
      m, "ValidationResult", "Result of pushpull.validate: the cases in the order run, and the overall verdict")
      .def_property_readonly("passed", &ValidationRun::passed, "Whether every case passed")
      .def_readonly("seconds", &ValidationRun::seconds, "Wall time of the run")
      .def_property_readonly("cases",
                             [](const std::shared_ptr<ValidationRun>& r) {
                               py::list l;
                               for (std::size_t i = 0; i < r->cases.size(); ++i) l.append(CaseRef{r, i});
                               return l;
                             })
      .def("__len__", [](const ValidationRun& r) { return r.cases.size(); })
      .def("__getitem__",
           [](const std::shared_ptr<ValidationRun>& r, const std::string& name) {
             for (std::size_t i = 0; i < r->cases.size(); ++i) {
               if (r->cases[i].name == name) return CaseRef{r, i};
             }
             throw py::key_error("no validation case '" + name + "' in this result");
           },
           "The case named `name`")
      .def("__repr__", [](const ValidationRun& r) {
        std::size_t failed = 0;
        for (const auto& c : r.cases) failed += c.passed() ? 0 : 1;
        return "<pushpull.ValidationResult " + std::string(r.passed() ? "PASS" : "FAIL") + ": " +
               std::to_string(r.cases.size()) + " cases, " + std::to_string(failed) + " failed>";
      });

  m.def("validate", &Validate, "level"_a = "quick",
        "Runs the validation cases of `pushpull validate -validate_level LEVEL` (the same library code and "
        "numbers) and returns a ValidationResult; options as keyword arguments (validate_cases=\"G1,G3\" or a list, "
        "validate_methods, validate_tols, the solver's; pushpull.help('validate')).");
  m.def("validation_metrics",
        [] {
          py::dict d;
          for (const auto& info : validation::KnownMetrics()) d[py::str(info.name)] = info.description;
          return d;
        },
        "{metric name: what it measures} for the metrics a ValidationCase may carry");
}

}  // namespace pushpull::python

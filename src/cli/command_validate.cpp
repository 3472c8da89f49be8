// `pushpull validate`: runs the closed-form validation cases and writes the report (console table, HDF5, HTML).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/commands.hpp"
#include "html_report.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/event_log.hpp"
#include "pushpull/io.hpp"
#include "pushpull/provenance.hpp"
#include "validation.hpp"

namespace pushpull::cli {
namespace {

struct ValidateOptions {
  std::string cases;  // comma-separated; empty = all registered
  std::string level = "quick";
  std::string output = "validation-report.h5";
  std::string report_html;
  std::string methods;          // comma-separated; empty = all registered integrators
  std::vector<double> tolerances;

  void SetFromOptions(OptionsDatabase& db) {
    db.SetSection("Validation (pushpull validate)");
    db.String("", "validate_cases", cases, "Comma-separated cases to run (default: all registered cases)",
              "ValidateOptions::cases");
    db.Enum("", "validate_level", level,
            "quick fits in two minutes; full sweeps tighter tolerances and higher dimensions",
            "ValidateOptions::level", {"quick", "full"});
    db.String("", "validate_methods", methods,
              "Comma-separated integrators to validate (default: every registered -ode_type)",
              "ValidateOptions::methods");
    db.RealList("", "validate_tols", tolerances,
                "Tolerance sweep, rtol = atol (default: 1e-4,1e-6,1e-8 for quick, 1e-4 ... 1e-10 for full)",
                "ValidateOptions::tolerances", RealBounds::Positive());
    db.String("", "output", output, "HDF5 report file (written as FILE.partial, renamed when complete)",
              "ValidateOptions::output");
    db.String("", "report_html", report_html,
              "Also write a self-contained HTML report with work-precision plots to this file",
              "ValidateOptions::report_html");
  }
};

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string Sci(double v) {
  char b[32];
  if (std::isinf(v)) return "fail";
  std::snprintf(b, sizeof b, "%.1e", v);
  return b;
}

void WriteCase(OutputFile& out, const validation::CaseReport& r) {
  const std::string g = "/" + r.name;
  std::vector<std::string> method, kind, error_metric;
  std::vector<double> tol, seconds;
  std::vector<std::int64_t> dim, failed;
  // The metrics the rows carry, in KnownMetrics() order: one dataset each, NaN in rows without it.
  std::vector<std::string> names;
  for (const auto& info : validation::KnownMetrics()) {
    for (const auto& row : r.sweep) {
      if (row.Has(info.name)) {
        names.push_back(info.name);
        break;
      }
    }
  }
  std::vector<std::vector<double>> values(names.size());
  for (const auto& row : r.sweep) {
    method.push_back(row.method);
    kind.push_back(row.kind);
    error_metric.push_back(row.error_metric);
    dim.push_back(row.dimension);
    tol.push_back(row.tolerance);
    seconds.push_back(row.seconds);
    failed.push_back(row.failed);
    for (std::size_t k = 0; k < names.size(); ++k) {
      values[k].push_back(row.Has(names[k]) ? row.Get(names[k]) : std::nan(""));
    }
  }
  out.WriteStrings(g + "/method", method);
  out.WriteStrings(g + "/kind", kind);
  out.WriteStrings(g + "/error_metric", error_metric);
  out.WriteIntVector(g + "/dimension", dim);
  out.WriteVector(g + "/tolerance", tol);
  for (std::size_t k = 0; k < names.size(); ++k) {
    out.WriteVector(g + "/" + names[k], values[k]);
    out.SetAttribute(g + "/" + names[k], "description", validation::FindMetric(names[k]).description);
  }
  out.WriteVector(g + "/seconds", seconds);
  out.WriteIntVector(g + "/failed", failed);
  std::vector<std::string> cname, cmethod, crel, cdetail;
  std::vector<double> ctol, cval, cthr;
  std::vector<std::int64_t> cpass;
  for (const auto& c : r.checks) {
    cname.push_back(c.name);
    cmethod.push_back(c.method);
    crel.push_back(c.relation);
    cdetail.push_back(c.detail);
    ctol.push_back(c.tolerance);
    cval.push_back(c.value);
    cthr.push_back(c.threshold);
    cpass.push_back(c.passed ? 1 : 0);
  }
  out.WriteStrings(g + "/checks/name", cname);
  out.WriteStrings(g + "/checks/method", cmethod);
  out.WriteVector(g + "/checks/tolerance", ctol);
  out.WriteVector(g + "/checks/value", cval);
  out.WriteStrings(g + "/checks/relation", crel);
  out.WriteVector(g + "/checks/threshold", cthr);
  out.WriteIntVector(g + "/checks/passed", cpass);
  out.WriteStrings(g + "/checks/detail", cdetail);
  out.SetAttribute(g, "description", r.description);
  out.SetAttribute(g, "passed", static_cast<std::int64_t>(r.passed() ? 1 : 0));
}

// One row per case x method: the largest error at each tolerance over the dimensions (log-density error for the
// flow cases, relative distance error for the geodesic cases), NFE, time, verdict.
void PrintTable(std::ostream& os, const std::vector<validation::CaseReport>& reports, const std::vector<double>& tols) {
  char line[512];
  std::size_t case_width = 5, method_width = 7;
  for (const auto& r : reports) {
    case_width = std::max(case_width, r.name.size() + 1);
    for (const auto& row : r.sweep) method_width = std::max(method_width, row.method.size() + 1);
  }
  std::string header = "case";
  header.resize(case_width, ' ');
  header += "method";
  header.resize(case_width + method_width, ' ');
  for (double t : tols) header += "  err@" + Sci(t);
  os << header << "   NFE/sample    time(s)  checks\n";
  for (const auto& r : reports) {
    std::map<std::string, std::map<double, double>> err;
    std::map<std::string, double> nfe, secs;
    std::vector<std::string> order;
    for (const auto& row : r.sweep) {
      if (!row.in_sweep()) continue;  // tolerance sweeps only
      if (!err.count(row.method)) order.push_back(row.method);
      auto& e = err[row.method][row.tolerance];
      e = std::max(e, row.error());
      nfe[row.method] += row.cost();
      secs[row.method] += row.seconds;
    }
    // Cases without a tolerance sweep (transport statistics): one row per method of their rows, time summed.
    const bool swept = !order.empty();
    if (!swept) {
      for (const auto& row : r.sweep) {
        if (!secs.count(row.method)) order.push_back(row.method);
        secs[row.method] += row.seconds;
      }
    }
    for (const auto& m : order) {
      int total = 0, failed = 0;
      for (const auto& c : r.checks) {
        if (c.method != m) continue;
        ++total;
        failed += c.passed ? 0 : 1;
      }
      std::string row = r.name;
      row.resize(case_width, ' ');
      row += m;
      row.resize(case_width + method_width, ' ');
      for (double t : tols) {
        const auto it = err[m].find(t);
        std::snprintf(line, sizeof line, "  %11s", it == err[m].end() ? "-" : Sci(it->second).c_str());
        row += line;
      }
      std::snprintf(line, sizeof line, "  %11s  %9.3f  %s", swept ? std::to_string(std::lround(nfe[m])).c_str() : "-",
                    secs[m],
                    failed ? ("FAIL " + std::to_string(failed) + "/" + std::to_string(total)).c_str()
                           : ("pass " + std::to_string(total)).c_str());
      os << row << line << "\n";
    }
  }
}

class ValidateJob : public Job {
 public:
  ValidateJob(Context& ctx) : ctx_(ctx) {
    options_.SetFromOptions(ctx.db);
    solver_.SetFromOptions(ctx.db, "");
    names_ = options_.cases.empty() ? validation::CaseRegistry().Names() : SplitCommas(options_.cases);
    for (const auto& n : names_) {
      if (!validation::CaseRegistry().Has(n)) validation::CaseRegistry().Create(n);  // throws, listing valid names
    }
    methods_ = SplitCommas(options_.methods);
    for (const auto& m : methods_) {
      if (!OdeIntegrators().Has(m)) OdeIntegrators().Create(m, OdeOptions{});  // throws, listing valid names
    }
    provenance_ = Provenance::Collect(ctx.argv, &ctx.db);
  }

  int Run() override {
    validation::Settings settings;
    settings.level = options_.level;
    settings.tolerances = options_.tolerances;
    settings.methods = methods_;
    settings.solver = solver_;
    const auto start = std::chrono::steady_clock::now();
    OutputFile report(options_.output, provenance_);
    std::vector<validation::CaseReport> reports;
    for (const auto& name : names_) {
      auto c = validation::CaseRegistry().Create(name);
      reports.push_back(c->Run(settings));
      reports.back().name = name;
      WriteCase(report, reports.back());
      report.SetCompletedRows(static_cast<std::int64_t>(reports.size()));
    }
    bool all_passed = !reports.empty();
    for (const auto& r : reports) all_passed = all_passed && r.passed();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report.SetAttribute("/", "cases_run", static_cast<std::int64_t>(reports.size()));
    report.SetAttribute("/", "verdict", all_passed ? "pass" : "fail");
    report.SetAttribute("/", "seconds", seconds);
    report.SetAttribute("/", "event_log", EventLog::Global().Table(seconds));
    report.Commit();

    std::vector<double> tols = options_.tolerances;
    if (tols.empty()) {
      for (const auto& r : reports) {
        for (const auto& row : r.sweep) {
          if (row.in_sweep() &&
              std::find(tols.begin(), tols.end(), row.tolerance) == tols.end()) {
            tols.push_back(row.tolerance);
          }
        }
      }
      std::sort(tols.rbegin(), tols.rend());
    }
    PrintTable(ctx_.out, reports, tols);
    std::size_t checks = 0, failed = 0;
    for (const auto& r : reports) {
      for (const auto& c : r.checks) {
        ++checks;
        if (c.passed) continue;
        ++failed;
        ctx_.out << "FAILED " << r.name << " " << c.method;
        if (c.tolerance > 0) ctx_.out << " tol " << Sci(c.tolerance);
        ctx_.out << ": " << c.name << ": value " << c.value << " " << c.relation << " " << c.threshold << " ("
                 << c.detail << ")\n";
      }
    }
    if (!options_.report_html.empty()) {
      std::vector<std::string> lines;
      for (const auto& [k, v] : provenance_.Attributes()) lines.push_back(k + ": " + v);
      const std::string html = validation::RenderHtmlReport(reports, "pushpull validation report", lines);
      const std::string partial = options_.report_html + ".partial";
      {
        std::ofstream f(partial);
        if (!f) throw InputError("-report_html: cannot write '" + partial + "'");
        f << html;
      }
      std::filesystem::rename(partial, options_.report_html);
    }
    char verdict[256];
    std::snprintf(verdict, sizeof verdict, "verdict: %s (%zu cases, %zu checks, %zu failed, %.1f s; report %s%s%s)\n",
                  all_passed ? "PASS" : "FAIL", reports.size(), checks, failed, seconds, options_.output.c_str(),
                  options_.report_html.empty() ? "" : ", ", options_.report_html.c_str());
    ctx_.out << verdict;
    return all_passed ? kExitSuccess : kExitItemsFailed;
  }

 private:
  Context& ctx_;
  ValidateOptions options_;
  PushforwardOptions solver_;
  std::vector<std::string> names_;
  std::vector<std::string> methods_;
  Provenance provenance_;
};

}  // namespace

Command ValidateCommand() {
  return {"validate", "validate every solver against closed-form Gaussian flows",
          "pushpull validate [-validate_cases G1,G3] [-validate_level quick|full] [-output validation-report.h5] "
          "[-report_html report.html]",
          [](Context& ctx) -> std::unique_ptr<Job> { return std::make_unique<ValidateJob>(ctx); }};
}

}  // namespace pushpull::cli

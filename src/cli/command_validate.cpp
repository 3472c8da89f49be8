// `pushpull validate`: runs the closed-form validation cases and writes the report (console table, HDF5, HTML).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "cli/commands.hpp"
#include "html_report.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/event_log.hpp"
#include "pushpull/io.hpp"
#include "pushpull/provenance.hpp"
#include "validation.hpp"

namespace pushpull::cli {
namespace {

// The report files; what runs is validation::RunOptions (shared with pushpull.validate).
struct ReportOptions {
  std::string output = "validation-report.h5";
  std::string report_html;

  void SetFromOptions(OptionsDatabase& db) {
    db.SetSection("Validation (pushpull validate)");
    db.String("", "output", output, "HDF5 report file (written as FILE.partial, renamed when complete)",
              "ReportOptions::output");
    db.String("", "report_html", report_html,
              "Also write a self-contained HTML report with work-precision plots to this file",
              "ReportOptions::report_html");
  }
};

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
  const std::vector<std::string> names = r.MetricNames();
  for (const auto& row : r.sweep) {
    method.push_back(row.method);
    kind.push_back(row.kind);
    error_metric.push_back(row.error_metric);
    dim.push_back(row.dimension);
    tol.push_back(row.tolerance);
    seconds.push_back(row.seconds);
    failed.push_back(row.failed);
  }
  out.WriteStrings(g + "/method", method);
  out.WriteStrings(g + "/kind", kind);
  out.WriteStrings(g + "/error_metric", error_metric);
  out.WriteIntVector(g + "/dimension", dim);
  out.WriteVector(g + "/tolerance", tol);
  for (const auto& name : names) {
    out.WriteVector(g + "/" + name, r.MetricColumn(name));
    out.SetAttribute(g + "/" + name, "description", validation::FindMetric(name).description);
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
    report_options_.SetFromOptions(ctx.db);
    run_options_.SetFromOptions(ctx.db);
    plan_ = validation::MakePlan(run_options_);  // throws naming an unknown case or integrator
    provenance_ = Provenance::Collect(ctx.argv, &ctx.db);
  }

  int Run() override {
    const auto start = std::chrono::steady_clock::now();
    OutputFile report(report_options_.output, provenance_);
    std::int64_t done = 0;
    const std::vector<validation::CaseReport> reports =
        validation::RunCases(plan_, [&](const validation::CaseReport& r) {
          WriteCase(report, r);
          report.SetCompletedRows(++done);
        });
    bool all_passed = !reports.empty();
    for (const auto& r : reports) all_passed = all_passed && r.passed();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report.SetAttribute("/", "cases_run", static_cast<std::int64_t>(reports.size()));
    report.SetAttribute("/", "verdict", all_passed ? "pass" : "fail");
    report.SetAttribute("/", "seconds", seconds);
    report.SetAttribute("/", "event_log", EventLog::Global().Table(seconds));
    report.Commit();

    std::vector<double> tols = run_options_.tolerances;
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
        ctx_.out << "FAILED " << r.name << " " << validation::DescribeFailure(c) << "\n";
      }
    }
    if (!report_options_.report_html.empty()) {
      std::vector<std::string> lines;
      for (const auto& [k, v] : provenance_.Attributes()) lines.push_back(k + ": " + v);
      const std::string html = validation::RenderHtmlReport(reports, "pushpull validation report", lines);
      const std::string partial = report_options_.report_html + ".partial";
      {
        std::ofstream f(partial);
        if (!f) throw InputError("-report_html: cannot write '" + partial + "'");
        f << html;
      }
      std::filesystem::rename(partial, report_options_.report_html);
    }
    char verdict[256];
    std::snprintf(verdict, sizeof verdict, "verdict: %s (%zu cases, %zu checks, %zu failed, %.1f s; report %s%s%s)\n",
                  all_passed ? "PASS" : "FAIL", reports.size(), checks, failed, seconds, report_options_.output.c_str(),
                  report_options_.report_html.empty() ? "" : ", ", report_options_.report_html.c_str());
    ctx_.out << verdict;
    return all_passed ? kExitSuccess : kExitItemsFailed;
  }

 private:
  Context& ctx_;
  ReportOptions report_options_;
  validation::RunOptions run_options_;
  validation::Plan plan_;
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

// `pushpull validate`: runs the closed-form validation cases and writes the report.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/commands.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/io.hpp"
#include "pushpull/provenance.hpp"
#include "validation.hpp"

namespace pushpull::cli {
namespace {

struct ValidateOptions {
  std::string cases;                    // comma-separated; empty = all registered
  std::string level = "quick";
  std::string output = "validation-report.h5";

  void SetFromOptions(OptionsDatabase& db) {
    db.SetSection("Validation (pushpull validate)");
    db.String("", "validate_cases", cases, "Comma-separated cases to run (default: all registered cases)",
              "ValidateOptions::cases");
    db.Enum("", "validate_level", level,
            "quick fits in two minutes; full sweeps tighter tolerances and higher dimensions",
            "ValidateOptions::level", {"quick", "full"});
    db.String("", "output", output, "HDF5 report file (written as FILE.partial, renamed when complete)",
              "ValidateOptions::output");
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

class ValidateJob : public Job {
 public:
  ValidateJob(Context& ctx, ValidateOptions options) : ctx_(ctx), options_(std::move(options)) {
    names_ = options_.cases.empty() ? validation::CaseRegistry().Names() : SplitCommas(options_.cases);
    for (const auto& n : names_) {
      if (!validation::CaseRegistry().Has(n)) validation::CaseRegistry().Create(n);  // throws, listing valid names
    }
    provenance_ = Provenance::Collect(ctx.argv, &ctx.db);
  }

  int Run() override {
    validation::Settings settings;
    settings.level = options_.level;
    OutputFile report(options_.output, provenance_);
    std::vector<validation::CaseReport> reports;
    for (const auto& name : names_) {
      auto c = validation::CaseRegistry().Create(name);
      reports.push_back(c->Run(settings));
      reports.back().name = name;
    }
    bool all_passed = true;
    for (const auto& r : reports) all_passed = all_passed && r.passed();
    report.SetAttribute("/", "cases_run", static_cast<std::int64_t>(reports.size()));
    report.SetAttribute("/", "verdict", all_passed ? "pass" : "fail");
    report.Commit();
    if (reports.empty()) {
      ctx_.out << "pushpull validate: no validation cases are registered in this build.\n";
    }
    ctx_.out << "verdict: " << (all_passed ? "PASS" : "FAIL") << " (" << reports.size() << " cases; report "
             << options_.output << ")\n";
    return all_passed ? kExitSuccess : kExitItemsFailed;
  }

 private:
  Context& ctx_;
  ValidateOptions options_;
  std::vector<std::string> names_;
  Provenance provenance_;
};

}  // namespace

Command ValidateCommand() {
  return {"validate", "validate every solver against closed-form Gaussian flows and geodesics",
          "pushpull validate [-validate_cases G1,G3] [-validate_level quick|full] [-output validation-report.h5]",
          [](Context& ctx) -> std::unique_ptr<Job> {
            ValidateOptions options;
            options.SetFromOptions(ctx.db);
            return std::make_unique<ValidateJob>(ctx, options);
          }};
}

}  // namespace pushpull::cli

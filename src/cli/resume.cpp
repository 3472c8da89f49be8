// Interrupted runs and -resume (commands.hpp; docs/getting-started.md "Interrupted runs").
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "cli/commands.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/io.hpp"
#include "pushpull/parallel.hpp"

namespace pushpull::cli {
namespace {

// Options that do not change a result: a resumed run may set them differently.
const std::set<std::string>& OptionsFreeOnResume() {
  static const std::set<std::string> names = {"threads",  "resume",       "help",        "options_view",
                                              "log_view", "options_file", "ode_monitor", "bvp_monitor"};
  return names;
}

// The options recorded in a file's provenance (OptionsDatabase::View: "-name value   # source" per line).
std::map<std::string, std::string> RecordedOptions(const std::string& text) {
  std::map<std::string, std::string> options;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() < 2 || line[0] != '-') continue;
    const auto hash = line.rfind(" # ");
    std::string left = line.substr(1, hash == std::string::npos ? std::string::npos : hash);
    while (!left.empty() && left.back() == ' ') left.pop_back();
    const auto space = left.find(' ');
    const std::string name = left.substr(0, space);
    options[name] = space == std::string::npos ? std::string() : left.substr(space + 1);
  }
  return options;
}

}  // namespace

void ResumeOptions::SetFromOptions(OptionsDatabase& db) {
  db.SetSection("Interrupted runs");
  db.Bool("", "resume", resume,
          "Continue the run whose OUT.h5.partial an interrupt left (same options and inputs; -threads may differ): "
          "its completed rows are kept, the rest computed; the result equals an uninterrupted run's",
          "ResumeOptions::resume");
}

ResumeSource PrepareResume(const ResumeOptions& options, const std::string& output, const std::string& command,
                           const OptionsDatabase& db, std::size_t total_rows) {
  ResumeSource source;
  if (!options.resume) return source;
  const std::string partial = output + ".partial", moved = partial + ".resume";
  std::error_code ec;
  // An earlier resume that stopped before the copied rows were safe in the new file left the source here.
  source.file = std::filesystem::exists(moved, ec) ? moved : partial;
  if (!std::filesystem::exists(source.file, ec)) {
    throw InputError("-resume: there is no '" + partial + "' to continue (run without -resume to start afresh)");
  }
  const std::string where = "-resume: '" + source.file + "'";
  // A run killed between creating its file and writing the header (command, options, completed_rows) has kept no
  // row: that file cannot be checked against this run's options, and there is nothing in it to keep.
  std::string recorded_command;
  try {
    recorded_command = ReadRootStringAttribute(source.file, "command");
  } catch (const std::exception&) {
    recorded_command.clear();
  }
  if (recorded_command.empty()) {
    std::cerr << "pushpull: " << where << " has no header (the run was stopped before its first rows were written): "
              << "nothing to keep, starting afresh\n";
    std::filesystem::remove(source.file, ec);
    return ResumeSource{};
  }
  if (recorded_command != command) {
    throw InputError(where + " was written by `pushpull " + recorded_command + "`, not `pushpull " + command + "`");
  }
  const auto recorded = RecordedOptions(ReadRootStringAttribute(source.file, "options"));
  for (const auto& d : db.Declarations()) {
    if (OptionsFreeOnResume().count(d.name)) continue;
    const auto it = recorded.find(d.name);
    const std::string before = it == recorded.end() ? std::string("(not recorded)") : it->second;
    if (before != d.value_text) {
      throw InputError(where + " was computed with -" + d.name + " " + (before.empty() ? "\"\"" : before) +
                       ", this run has -" + d.name + " " + (d.value_text.empty() ? "\"\"" : d.value_text) +
                       "; resume with the same options");
    }
  }
  const std::int64_t rows = ReadRootIntAttribute(source.file, "completed_rows");
  if (rows < 0 || static_cast<std::size_t>(rows) > total_rows) {
    throw InputError(where + " has completed_rows " + std::to_string(rows) + ", but this run has " +
                     std::to_string(total_rows) + " rows: the inputs differ");
  }
  source.rows = static_cast<std::size_t>(rows);
  if (source.file == partial) {
    std::filesystem::rename(partial, moved, ec);
    if (ec) throw IoError("renaming '" + partial + "' to '" + moved + "' failed: " + ec.message());
    source.file = moved;
  }
  return source;
}

std::vector<double> ResumeRows(const ResumeSource& source, const std::string& name, std::size_t row_size) {
  ArraySpec spec;
  spec.ranks = {1, 2, 3};
  spec.require_finite = false;
  Array a = ReadArray(DatasetName{source.file, name}, spec);
  const std::size_t n = source.rows * row_size;
  if (a.data.size() < n) {
    throw InputError("-resume: dataset '" + name + "' in '" + source.file + "' holds fewer rows than completed_rows");
  }
  a.data.resize(n);
  return a.data;
}

std::vector<std::string> ResumeStrings(const ResumeSource& source, const std::string& name, std::size_t row_size) {
  std::vector<std::string> s = ReadStrings(DatasetName{source.file, name});
  const std::size_t n = source.rows * row_size;
  if (s.size() < n) {
    throw InputError("-resume: dataset '" + name + "' in '" + source.file + "' holds fewer rows than completed_rows");
  }
  s.resize(n);
  return s;
}

void FinishResume(const ResumeSource& source) {
  if (source.file.empty()) return;
  std::error_code ec;
  std::filesystem::remove(source.file, ec);
}

int ReportInterrupted(Context& ctx, const std::string& command, OutputFile& out, std::size_t total,
                      const Interrupted& e, bool resumable) {
  out.Close();
  const char* name = e.signal() == SIGINT ? "SIGINT" : e.signal() == SIGTERM ? "SIGTERM" : "a signal";
  ctx.err << "pushpull " << command << ": interrupted by " << name << ": " << out.completed_rows() << " of " << total
          << " rows complete in " << out.partial_path() << " (attribute completed_rows)"
          << (resumable ? "; continue with the same options and -resume" : "") << "\n";
  return kExitSignalBase + e.signal();
}

}  // namespace pushpull::cli

// The command table of the `pushpull` executable (internal; not installed).
//
// A command is configured first: its `configure` function declares every option it reads (through the objects'
// SetFromOptions) and returns a job. Only then does the driver answer -help, refuse unknown options and run the
// job, so nothing is computed before every option has been checked.
#pragma once

#include "pushpull/item_status.hpp"

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "pushpull/options.hpp"

namespace pushpull::cli {

// Exit codes of the executable.
enum ExitCode : int {
  kExitSuccess = 0,        // everything computed and written
  kExitItemsFailed = 1,    // finished; some items failed numerically (their status is in the output)
  kExitBadInput = 2,       // bad input or options; nothing computed
  kExitInternalError = 3,  // an I/O or internal error (disk full, library failure)
  kExitSignalBase = 128,   // interrupted by signal S (SIGINT 130, SIGTERM 143); completed rows are kept
};

struct Context {
  OptionsDatabase& db;
  std::vector<std::string> positional;  // arguments that are not options (e.g. the file of `info`)
  std::vector<std::string> argv;        // the whole command line, for provenance
  std::ostream& out;
  std::ostream& err;
};

class Job {
 public:
  virtual ~Job() = default;
  virtual int Run() = 0;
};

struct Command {
  std::string name;
  std::string summary;
  std::string usage;
  std::function<std::unique_ptr<Job>(Context&)> configure;
  bool hidden = false;
};

const std::vector<Command>& Commands();

// The whole program: `args` is argv (args[0] the program name). Never throws.
int Main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// Declares on `db` the options `command` reads (the common ones and its own), configured with no arguments as the
// options reference does (values already in `db` are applied and checked); the job is discarded.
void DeclareOptions(const Command& command, OptionsDatabase& db);

// The options reference page docs/options.md, generated from the declarations of every command.
std::string OptionsReferenceMarkdown();

// ---- Interrupted runs and -resume (resume.cpp; docs/getting-started.md) --------------------------------------

}  // namespace pushpull::cli
namespace pushpull {
class OutputFile;
class Interrupted;
}  // namespace pushpull
namespace pushpull::cli {

// -resume: continue the run whose OUT.h5.partial is left, with the same options and inputs.
struct ResumeOptions {
  bool resume = false;
  void SetFromOptions(OptionsDatabase& db);
};

// What a resumed run starts from: the partial file (OUT.h5.partial, or OUT.h5.partial.resume when an earlier
// resume stopped before its copy was safe) and its completed rows.
struct ResumeSource {
  std::string file;     // empty: not resuming
  std::size_t rows = 0;  // completed_rows of the partial file
};

// With -resume, finds the partial file of `output`, checks that it was written by `command` with the same options
// as `db` (every option except those that do not change results: -threads, -resume, -help, -options_view,
// -log_view, -options_file, -ode_monitor, -bvp_monitor) and that its completed_rows is at most `total_rows`, and
// moves it to OUT.h5.partial.resume so that the new OUT.h5.partial can be written. Throws InputError naming the
// option that differs. Without -resume returns an empty source.
ResumeSource PrepareResume(const ResumeOptions& options, const std::string& output, const std::string& command,
                           const OptionsDatabase& db, std::size_t total_rows);
// Rows [0, source.rows) of dataset `name` of the source (flattened, as float64 or strings).
std::vector<double> ResumeRows(const ResumeSource& source, const std::string& name, std::size_t row_size);
std::vector<std::string> ResumeStrings(const ResumeSource& source, const std::string& name, std::size_t row_size);
// Rows [0, source.rows) of dataset `name` copied into the front of `into` (converted to T; `into` holds them).
template <class T>
void ResumeInto(const ResumeSource& source, const std::string& name, std::size_t row_size, std::vector<T>& into) {
  const std::vector<double> v = ResumeRows(source, name, row_size);
  for (std::size_t k = 0; k < v.size(); ++k) into[k] = static_cast<T>(v[k]);
}
// The statuses of rows [0, source.rows) (datasets `status` and `status_message`, row_size items per row).
template <class Code>
std::vector<ItemStatus<Code>> ResumeStatuses(const ResumeSource& source, std::size_t row_size) {
  const std::vector<double> codes = ResumeRows(source, "status", row_size);
  const std::vector<std::string> messages = ResumeStrings(source, "status_message", row_size);
  std::vector<ItemStatus<Code>> statuses;
  for (std::size_t k = 0; k < codes.size(); ++k) {
    statuses.push_back(ItemStatus<Code>::FromValue(static_cast<int>(codes[k]), messages[k]));
  }
  return statuses;
}
// Once the new partial file holds the copied rows (SetCompletedRows done): removes OUT.h5.partial.resume.
void FinishResume(const ResumeSource& source);

// An interrupted run: closes `out` (its completed rows stay), says how many of `total` rows are complete and how to
// continue, returns 128 + signal.
// `resumable`: the command takes -resume (density, sample, geodesic, exp, distances).
int ReportInterrupted(Context& ctx, const std::string& command, OutputFile& out, std::size_t total,
                      const Interrupted& e, bool resumable);

// Command factories, one per file.
Command InfoCommand();
Command ValidateCommand();
Command CheckFieldCommand();
Command DensityCommand();
Command SampleCommand();
Command GeodesicCommand(); Command ExpCommand(); Command DistancesCommand();
Command TransportCommand();

}  // namespace pushpull::cli

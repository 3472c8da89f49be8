// The command table of the `pushpull` executable (internal; not installed).
//
// A command is configured first: its `configure` function declares every option it reads (through the objects'
// SetFromOptions) and returns a job. Only then does the driver answer -help, refuse unknown options and run the
// job, so nothing is computed before every option has been checked.
#pragma once

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

// Command factories, one per file.
Command InfoCommand();
Command ValidateCommand();
Command CheckFieldCommand();
Command DensityCommand();
Command SampleCommand();
Command GeodesicCommand(); Command ExpCommand(); Command DistancesCommand();

}  // namespace pushpull::cli

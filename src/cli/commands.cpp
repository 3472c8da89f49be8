#include "cli/commands.hpp"

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "pushpull/errors.hpp"
#include "pushpull/event_log.hpp"
#include "pushpull/parallel.hpp"
#include "pushpull/version.hpp"

namespace pushpull::cli {
namespace {

class OptionsReferenceJob : public Job {
 public:
  explicit OptionsReferenceJob(std::ostream& out) : out_(out) {}
  int Run() override {
    out_ << OptionsReferenceMarkdown();
    return kExitSuccess;
  }

 private:
  std::ostream& out_;
};

Command OptionsReferenceCommand() {
  return {"options-reference", "print the options reference (docs/options.md) generated from the declarations",
          "pushpull options-reference > docs/options.md",
          [](Context& ctx) -> std::unique_ptr<Job> { return std::make_unique<OptionsReferenceJob>(ctx.out); },
          true};
}

// Options every command reads.
struct CommonOptions {
  bool help = false;
  bool options_view = false;
  bool log_view = false;
  std::string options_file;

  void SetFromOptions(OptionsDatabase& db) {
    db.SetSection("Common options");
    db.Bool("", "help", help, "Print the options of this command with their values and defaults, then exit", "");
    db.String("", "options_file", options_file,
              "Read options from FILE (one -name value per line, # comments); lower precedence than the "
              "environment variable PUSHPULL_OPTIONS and the command line",
              "OptionsDatabase::LoadFile");
    db.Bool("", "options_view", options_view, "Print the options in force and where each came from", "");
    db.Bool("", "log_view", log_view, "Print the event log (counts and times per event) at exit", "");
  }
};

void PrintCommandList(std::ostream& out) {
  out << "pushpull " << Version() << ": pushforward of measures by flows and pullback geometry of decoders\n\n"
      << "usage: pushpull COMMAND [options]\n\ncommands:\n";
  for (const auto& c : Commands()) {
    if (c.hidden) continue;
    out << "  " << c.name << std::string(c.name.size() < 14 ? 14 - c.name.size() : 1, ' ') << c.summary << "\n";
  }
  out << "\n`pushpull COMMAND -help` lists a command's options; `pushpull -version` prints versions.\n"
      << "Options come from -options_file FILE, the environment variable PUSHPULL_OPTIONS and the command line\n"
      << "(in increasing precedence). Exit codes: 0 success; 1 some items failed numerically (results and status\n"
      << "written); 2 bad input or options, nothing computed; 3 I/O or internal error; 130 / 143 interrupted by\n"
      << "SIGINT / SIGTERM (completed rows kept in OUT.h5.partial; continue with -resume).\n";
}

}  // namespace

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {DensityCommand(), SampleCommand(), GeodesicCommand(), ExpCommand(), DistancesCommand(), TransportCommand(), InfoCommand(), ValidateCommand(), CheckFieldCommand(), OptionsReferenceCommand()};
  return commands;
}

int Main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() < 2 || args[1] == "-help" || args[1] == "--help" || args[1] == "-h") {
    PrintCommandList(out);
    return args.size() < 2 ? kExitBadInput : kExitSuccess;
  }
  if (args[1] == "-version" || args[1] == "--version") {
    out << VersionReport();
    return kExitSuccess;
  }
  const Command* command = nullptr;
  for (const auto& c : Commands()) {
    if (c.name == args[1]) command = &c;
  }
  if (!command) {
    err << "pushpull: unknown command '" << args[1] << "'; commands:";
    for (const auto& c : Commands()) {
      if (!c.hidden) err << " " << c.name;
    }
    err << "\n";
    return kExitBadInput;
  }
  const auto start = std::chrono::steady_clock::now();
  OptionsDatabase db;
  Context ctx{db, {}, args, out, err};
  CommonOptions common;
  std::unique_ptr<Job> job;
  try {
    const char* env = std::getenv("PUSHPULL_OPTIONS");
    db.ParseTokens(std::vector<std::string>(args.begin() + 2, args.end()), env ? env : "", &ctx.positional);
    common.SetFromOptions(db);
    job = command->configure(ctx);
    if (common.help) {
      out << "usage: " << command->usage << "\n" << command->summary << "\n" << db.Help();
      return kExitSuccess;
    }
    db.CheckAllUsed();
  } catch (const InputError& e) {
    err << "pushpull " << command->name << ": " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    err << "pushpull " << command->name << ": internal error: " << e.what() << "\n";
    return kExitInternalError;
  }
  if (common.options_view) out << db.View();
  int rc = kExitSuccess;
  try {
    rc = job->Run();
  } catch (const Interrupted& e) {  // before the command's output file existed
    err << "pushpull " << command->name << ": interrupted (signal " << e.signal() << "); nothing written\n";
    rc = kExitSignalBase + e.signal();
  } catch (const InputError& e) {
    err << "pushpull " << command->name << ": " << e.what() << "\n";
    rc = kExitBadInput;
  } catch (const std::exception& e) {
    err << "pushpull " << command->name << ": error: " << e.what() << "\n";
    rc = kExitInternalError;
  }
  if (common.log_view) {
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out << EventLog::Global().Table(wall);
  }
  return rc;
}

void DeclareOptions(const Command& command, OptionsDatabase& db) {
  std::ostringstream sink;
  Context ctx{db, {}, {}, sink, sink};
  CommonOptions common;
  common.SetFromOptions(db);
  command.configure(ctx);
}

std::string OptionsReferenceMarkdown() {
  std::ostringstream md;
  md << "# Options reference\n\n"
     << "Generated by `pushpull options-reference` from the option declarations in the code; a test checks that\n"
     << "this page matches them. Options are written `-name value` on the command line, in an options file\n"
     << "(`-options_file FILE`) or in the environment variable `PUSHPULL_OPTIONS`; precedence: command line >\n"
     << "environment > file > defaults. A boolean option may stand alone (`-log_view`). Every output file records\n"
     << "the options in force and where each came from (attribute `options`).\n";
  for (const auto& c : Commands()) {
    if (c.hidden) continue;
    OptionsDatabase db;
    DeclareOptions(c, db);
    md << "\n## `pushpull " << c.name << "`\n\n" << c.summary << ".\n\nUsage: `" << c.usage << "`\n\n";
    md << "| option | type | default | constraint | maps to | description |\n";
    md << "|---|---|---|---|---|---|\n";
    for (const auto& d : db.Declarations()) {
      auto escape = [](std::string s) {
        std::string o;
        for (char ch : s) o += ch == '|' ? std::string("\\|") : std::string(1, ch);
        return o;
      };
      md << "| `-" << d.name << "` | " << ToString(d.type) << " | `" << (d.default_text.empty() ? "" : d.default_text)
         << "` | " << escape(d.constraint) << " | " << (d.setter.empty() ? "" : "`" + d.setter + "`") << " | "
         << escape(d.help) << " |\n";
    }
  }
  return md.str();
}

}  // namespace pushpull::cli

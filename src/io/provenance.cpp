#include "pushpull/provenance.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>

#include "pushpull/options.hpp"
#include "pushpull/version.hpp"

namespace pushpull {
namespace {

std::string ShellQuote(const std::string& s) {
  if (!s.empty() && s.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos) return s;
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string NowUtc() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string HostName() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) return "unknown";
  return buffer;
}

}  // namespace

Provenance Provenance::Collect(const std::vector<std::string>& argv, const OptionsDatabase* options) {
  Provenance p;
  p.pushpull_version = Version();
  p.git_commit = GitCommit();
  p.created_utc = NowUtc();
  p.host = HostName();
  for (std::size_t i = 0; i < argv.size(); ++i) p.command_line += (i ? " " : "") + ShellQuote(argv[i]);
  if (options) p.options = options->View();
  p.sundials_version = SundialsVersion();
  p.ceres_version = CeresVersion();
  p.hdf5_version = Hdf5Version();
  p.eigen_version = EigenVersion();
  p.build = BuildDescription();
  return p;
}

std::vector<std::pair<std::string, std::string>> Provenance::Attributes() const {
  return {{"pushpull_version", pushpull_version}, {"git_commit", git_commit},
          {"created_utc", created_utc},           {"host", host},
          {"command_line", command_line},         {"options", options},
          {"sundials_version", sundials_version}, {"ceres_version", ceres_version},
          {"hdf5_version", hdf5_version},         {"eigen_version", eigen_version},
          {"build", build}};
}

}  // namespace pushpull

// Provenance: what produced a number. Written at the root of every output file as attributes, so that every
// number that goes into a paper can be traced to the options and versions that produced it.
#pragma once

#include <string>
#include <vector>

namespace pushpull {

class OptionsDatabase;

struct Provenance {
  std::string pushpull_version;
  std::string git_commit;
  std::string created_utc;    // ISO 8601
  std::string host;
  std::string command_line;   // the argv of the run, shell-quoted
  std::string options;        // the options in force with their sources (the text of -options_view)
  std::string sundials_version;
  std::string ceres_version;
  std::string hdf5_version;
  std::string eigen_version;
  std::string build;          // build type and compiler

  // Fills every field from this process: versions, date, host; `command_line` and `options` from the arguments.
  static Provenance Collect(const std::vector<std::string>& argv, const OptionsDatabase* options);
  // (attribute name, value) pairs in the order written to files.
  std::vector<std::pair<std::string, std::string>> Attributes() const;
};

}  // namespace pushpull

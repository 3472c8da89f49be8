// Pieces shared by the benchmark programs of validation/bench: list parsing, the load average printed with every
// table (other processes inflate every time), wall-clock seconds, and the common main (options, -help, exit codes
// 0 / 2 bad options / 3 error).
#pragma once

#include <chrono>
#include <cstdio>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

#include "pushpull/errors.hpp"
#include "pushpull/options.hpp"

namespace pushpull::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// "a, b,c" -> {"a", "b", "c"}.
inline std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    if (first != std::string::npos) items.push_back(item.substr(first, last - first + 1));
  }
  return items;
}

// The 1-minute load average.
inline std::string LoadAverage() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  if (!f) return "unknown";
  char buf[64] = "";
  const bool ok = std::fscanf(f, "%63s", buf) == 1;
  std::fclose(f);
  return ok ? buf : "unknown";
}

// Parses the options into a default-constructed Options (which declares them in SetFromOptions and has a `help`
// flag), answers -help, refuses unknown options, then runs `run`.
template <class Options, class Run>
int BenchMain(const char* name, int argc, char** argv, Run run) {
  Options b;
  try {
    OptionsDatabase db;
    db.ParseCommandLine(argc, argv);
    b.SetFromOptions(db);
    if (b.help) {
      std::printf("usage: %s [options]\n%s", name, db.Help().c_str());
      return 0;
    }
    db.CheckAllUsed();
  } catch (const InputError& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 2;
  }
  try {
    return run(b);
  } catch (const InputError& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", name, e.what());
    return 3;
  }
}

}  // namespace pushpull::bench

#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "pushpull/io.hpp"
#include "pushpull/parallel.hpp"

namespace {

// Async-signal-safe: only stores the signal in an atomic. The running parallel loop stops at the next item
// boundary, the command writes what is complete and exits with 128 + signal. SA_RESETHAND restores the default
// action, so a second SIGINT (or SIGTERM) ends the process at once.
extern "C" void OnInterrupt(int signal) { pushpull::RequestInterrupt(signal); }

void InstallInterruptHandlers() {
  struct sigaction action = {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND | SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  pushpull::DisableHdf5ExitCleanup();  // before any other HDF5 call (io.hpp)
  InstallInterruptHandlers();
  std::vector<std::string> args(argv, argv + argc);
  return pushpull::cli::Main(args, std::cout, std::cerr);
}

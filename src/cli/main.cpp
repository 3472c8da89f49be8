#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  return pushpull::cli::Main(args, std::cout, std::cerr);
}

#include "pushpull/registry.hpp"

#include <algorithm>

namespace pushpull::detail {

std::string UnknownTypeMessage(std::string_view family, std::string_view name, const std::vector<std::string>& valid) {
  std::string message = "unknown -" + std::string(family) + " '" + std::string(name) + "'; valid values: ";
  for (std::size_t i = 0; i < valid.size(); ++i) message += (i ? ", " : "") + valid[i];
  if (valid.empty()) message += "(none registered)";
  return message;
}

}  // namespace pushpull::detail

#include <unistd.h>

#include <cstdio>

#include "pushpull/monitor.hpp"

namespace pushpull {

ProgressBar::ProgressBar(bool force) : enabled_(force || isatty(STDERR_FILENO) == 1) {}

std::string ProgressBar::Format(const ProgressEvent& e, int width) {
  const double fraction = e.total ? static_cast<double>(e.done) / static_cast<double>(e.total) : 1.0;
  const int filled = static_cast<int>(fraction * width + 0.5);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar += std::string(static_cast<std::size_t>(width - filled), '.');
  const double rate = e.elapsed_seconds > 0 ? static_cast<double>(e.done) / e.elapsed_seconds : 0.0;
  const double eta = rate > 0 ? static_cast<double>(e.total - e.done) / rate : 0.0;
  char line[256];
  std::snprintf(line, sizeof line, "%s [%s] %zu/%zu  %.1f/s  ETA %.0fs%s", e.task.c_str(), bar.c_str(), e.done,
                e.total, rate, eta, e.failed ? "  (some failed)" : "");
  return line;
}

void ProgressBar::operator()(const ProgressEvent& event) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (event.finished) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    return;
  }
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  std::fprintf(stderr, "\r\033[K%s", Format(event).c_str());
  std::fflush(stderr);
}

}  // namespace pushpull

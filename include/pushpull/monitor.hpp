// Monitors: ordinary callbacks that solvers call as they go (Ceres IterationCallback, PETSc TSMonitorSet).
// The built-in monitors (the progress bar, -ode_monitor, -bvp_monitor) implement the same interface that research
// code implements.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pushpull {

template <class Event>
class Monitor {
 public:
  virtual ~Monitor() = default;
  virtual void operator()(const Event& event) = 0;
};

// A set of monitors notified in the order added. Notify is serialised, so monitors need no locking of their own.
template <class Event>
class MonitorList {
 public:
  void Add(std::shared_ptr<Monitor<Event>> monitor) { monitors_.push_back(std::move(monitor)); }
  bool empty() const { return monitors_.empty(); }
  void Notify(const Event& event) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& m : monitors_) (*m)(event);
  }

 private:
  std::vector<std::shared_ptr<Monitor<Event>>> monitors_;
  std::mutex mutex_;
};

// Progress of a batch of items (samples, geodesics, rows).
struct ProgressEvent {
  std::string task;       // "density", "distances", ...
  std::size_t done = 0;   // items finished so far
  std::size_t total = 0;
  std::size_t failed = 0; // items finished with a failure status
  double elapsed_seconds = 0;
  bool finished = false;
};

// A terminal progress bar with rate and ETA on stderr. Draws only when stderr is a terminal (unless forced), at
// most ten times a second, and erases itself at the end.
class ProgressBar : public Monitor<ProgressEvent> {
 public:
  explicit ProgressBar(bool force = false);
  void operator()(const ProgressEvent& event) override;
  bool enabled() const { return enabled_; }
  // The line that would be drawn for an event (for tests).
  static std::string Format(const ProgressEvent& event, int width = 30);

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace pushpull

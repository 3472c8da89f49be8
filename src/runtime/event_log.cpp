#include "pushpull/event_log.hpp"

#include <cstdio>
#include <functional>
#include <sstream>
#include <stdexcept>

namespace pushpull {
namespace {
thread_local std::vector<int> active_events;
}

EventLog& EventLog::Global() {
  static EventLog log;
  return log;
}

int EventLog::Register(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::size_t n = count_.load();
  for (std::size_t i = 0; i < n; ++i) {
    if (events_[i].name == name) return static_cast<int>(i);
  }
  if (n == kMaxEvents) throw std::length_error("EventLog: more than 256 events registered");
  events_[n].name = name;
  count_.store(n + 1);
  return static_cast<int>(n);
}

void EventLog::Add(int id, std::int64_t nanoseconds, std::int64_t calls) {
  Event& e = events_[static_cast<std::size_t>(id)];
  e.calls.fetch_add(calls, std::memory_order_relaxed);
  e.nanoseconds.fetch_add(nanoseconds, std::memory_order_relaxed);
}

void EventLog::Begin(int id) {
  Event& e = events_[static_cast<std::size_t>(id)];
  if (!e.parent_known.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!e.parent_known.load(std::memory_order_relaxed)) {
      e.parent = active_events.empty() ? -1 : active_events.back();
      if (e.parent == id) e.parent = -1;
      e.parent_known.store(true, std::memory_order_release);
    }
  }
  active_events.push_back(id);
}

void EventLog::End(int id, std::int64_t nanoseconds) {
  if (!active_events.empty()) active_events.pop_back();
  Add(id, nanoseconds, 1);
}

std::vector<EventLog::Row> EventLog::Rows() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Row> rows;
  std::function<void(int, int)> visit = [&](int parent, int depth) {
    for (std::size_t i = 0; i < count_.load(); ++i) {
      const Event& e = events_[i];
      if (e.parent != parent || e.calls.load() == 0) continue;
      rows.push_back({e.name, depth, e.calls.load(), static_cast<double>(e.nanoseconds.load()) * 1e-9});
      visit(static_cast<int>(i), depth + 1);
    }
  };
  visit(-1, 0);
  return rows;
}

std::string EventLog::Table(double wall_seconds) const {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "%-40s %12s %14s %8s\n", "Event", "Count", "Time (s)", "%Wall");
  out << "---------------------------------------------- pushpull event log ---------------------------------\n"
      << line;
  for (const Row& r : Rows()) {
    const std::string name = std::string(static_cast<std::size_t>(2 * r.depth), ' ') + r.name;
    if (r.seconds > 0) {
      std::snprintf(line, sizeof line, "%-40s %12lld %14.6f %7.1f%%\n", name.c_str(),
                    static_cast<long long>(r.calls), r.seconds,
                    wall_seconds > 0 ? 100.0 * r.seconds / wall_seconds : 0.0);
    } else {
      std::snprintf(line, sizeof line, "%-40s %12lld %14s %8s\n", name.c_str(), static_cast<long long>(r.calls),
                    "-", "-");
    }
    out << line;
  }
  std::snprintf(line, sizeof line, "Wall time: %.6f s (event times are summed over threads)\n", wall_seconds);
  out << line;
  return out.str();
}

void EventLog::Reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (std::size_t i = 0; i < count_.load(); ++i) {
    events_[i].calls = 0;
    events_[i].nanoseconds = 0;
  }
}

ScopedEvent::ScopedEvent(int id, EventLog& log) : id_(id), log_(log), start_(std::chrono::steady_clock::now()) {
  log_.Begin(id_);
}

ScopedEvent::~ScopedEvent() {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count();
  log_.End(id_, static_cast<std::int64_t>(ns));
}

}  // namespace pushpull

// A small event log in PETSc's manner (PetscLogEventRegister / Begin / End, -log_view).
//
//   static const int kFieldEval = EventLog::Global().Register("FieldEval");
//   { ScopedEvent timer(kFieldEval); field.Evaluate(...); }
//
// Each event accumulates a call count and inclusive time (summed over threads). Nesting is recorded: an event
// first begun inside another is printed indented below it. `EventLog::Table` is the text -log_view prints and
// output files store as the attribute `event_log`. Counters without time (NFE, steps) use `AddCount`.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace pushpull {

class EventLog {
 public:
  static EventLog& Global();

  // Returns the id of the event with this name, registering it on first use. Thread-safe.
  int Register(const std::string& name);
  void Add(int id, std::int64_t nanoseconds, std::int64_t calls = 1);
  void AddCount(int id, std::int64_t count) { Add(id, 0, count); }

  struct Row {
    std::string name;
    int depth = 0;
    std::int64_t calls = 0;
    double seconds = 0;
  };
  // Events in registration order grouped under their parents; only events that were used.
  std::vector<Row> Rows() const;
  // The -log_view table; percentages relative to `wall_seconds` when > 0.
  std::string Table(double wall_seconds) const;
  void Reset();

  // Used by ScopedEvent.
  void Begin(int id);
  void End(int id, std::int64_t nanoseconds);

 private:
  struct Event {
    std::string name;
    int parent = -1;
    std::atomic<std::int64_t> calls{0};
    std::atomic<std::int64_t> nanoseconds{0};
    std::atomic<bool> parent_known{false};
  };
  static constexpr std::size_t kMaxEvents = 256;
  mutable std::mutex mutex_;
  Event events_[kMaxEvents];          // fixed storage: readers never race with registration
  std::atomic<std::size_t> count_{0};
};

class ScopedEvent {
 public:
  explicit ScopedEvent(int id, EventLog& log = EventLog::Global());
  ~ScopedEvent();
  ScopedEvent(const ScopedEvent&) = delete;
  ScopedEvent& operator=(const ScopedEvent&) = delete;

 private:
  int id_;
  EventLog& log_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace pushpull

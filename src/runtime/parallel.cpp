#include "pushpull/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pushpull {
namespace {
std::atomic<int> g_interrupt{0};
static_assert(std::atomic<int>::is_always_lock_free, "RequestInterrupt must be async-signal-safe");
}  // namespace

Interrupted::Interrupted(int signal)
    : std::runtime_error("interrupted (signal " + std::to_string(signal) + ")"), signal_(signal) {}

void RequestInterrupt(int signal) noexcept {
  int expected = 0;
  g_interrupt.compare_exchange_strong(expected, signal > 0 ? signal : 1);
}

int InterruptSignal() noexcept { return g_interrupt.load(); }

void ClearInterrupt() noexcept { g_interrupt.store(0); }

int ResolveThreads(int threads) {
  if (threads > 0) return threads;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

int ParallelWorkers(std::size_t n, int threads) {
  const int t = ResolveThreads(threads);
  if (n < static_cast<std::size_t>(t)) return std::max(1, static_cast<int>(n));
  return t;
}

int ThreadsForWork(int threads, double total_work, double min_work_per_thread) {
  const int t = ResolveThreads(threads);
  if (!(min_work_per_thread > 0)) return t;
  const double fit = std::floor(total_work / min_work_per_thread);
  if (!(fit < static_cast<double>(t))) return t;  // also a NaN or infinite total
  return std::max(1, static_cast<int>(fit));
}

void ParallelForOrdered(std::size_t n, int threads, const ParallelWork& work, const ParallelEmit& emit) {
  if (n == 0) return;
  const int workers = ParallelWorkers(n, threads);
  if (workers == 1) {
    for (std::size_t i = 0; i < n; ++i) {
      if (const int s = InterruptSignal()) throw Interrupted(s);
      work(0, i);
      if (emit) emit(i, 1);
    }
    return;
  }

  std::vector<char> done(n, 0);  // guarded by mutex
  std::mutex mutex;
  std::condition_variable cv;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  int running = 0;           // worker threads that have not returned, guarded by mutex
  std::exception_ptr error;  // the first exception, guarded by mutex
  auto record = [&](std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!error) error = std::move(e);
    stop = true;
  };
  auto worker = [&](int w) {
    while (!stop && !InterruptSignal()) {
      const std::size_t i = next.fetch_add(1);
      if (i >= n) break;
      try {
        work(w, i);
      } catch (...) {
        record(std::current_exception());
        break;
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        done[i] = 1;
      }
      cv.notify_all();
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      --running;
    }
    cv.notify_all();
  };

  std::vector<std::thread> pool;
  std::size_t emitted = 0;
  try {
    for (int t = 0; t < workers; ++t) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        ++running;
      }
      try {
        pool.emplace_back(worker, t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        --running;
        throw;
      }
    }
    while (emitted < n) {
      std::size_t ready = emitted;
      bool last = false;  // every worker has returned: emit what is done, then stop
      {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return stop || done[emitted] || running == 0; });
        if (stop) break;
        last = running == 0;
        while (ready < n && done[ready]) ++ready;
      }
      if (ready > emitted && emit) emit(emitted, ready - emitted);
      emitted = ready;
      if (last) break;
    }
  } catch (...) {  // from emit, or a thread that could not be started
    record(std::current_exception());
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  if (emitted < n) throw Interrupted(InterruptSignal());
}

}  // namespace pushpull

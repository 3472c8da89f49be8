#include "pushpull/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace pushpull {

int ResolveThreads(int threads) {
  if (threads > 0) return threads;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

int ParallelWorkers(std::size_t n, int threads) {
  const int t = ResolveThreads(threads);
  if (n < static_cast<std::size_t>(t)) return std::max(1, static_cast<int>(n));
  return t;
}

void ParallelForOrdered(std::size_t n, int threads, const ParallelWork& work, const ParallelEmit& emit) {
  if (n == 0) return;
  const int workers = ParallelWorkers(n, threads);
  if (workers == 1) {
    for (std::size_t i = 0; i < n; ++i) {
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
  std::exception_ptr error;  // the first exception, guarded by mutex
  auto record = [&](std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!error) error = std::move(e);
    stop = true;
  };
  auto worker = [&](int w) {
    while (!stop) {
      const std::size_t i = next.fetch_add(1);
      if (i >= n) return;
      try {
        work(w, i);
      } catch (...) {
        record(std::current_exception());
        cv.notify_all();
        return;
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        done[i] = 1;
      }
      cv.notify_all();
    }
  };

  std::vector<std::thread> pool;
  try {
    for (int t = 0; t < workers; ++t) pool.emplace_back(worker, t);
    std::size_t emitted = 0;
    while (emitted < n) {
      std::size_t ready = emitted;
      {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return stop || done[emitted]; });
        if (stop) break;
        while (ready < n && done[ready]) ++ready;
      }
      if (emit) emit(emitted, ready - emitted);
      emitted = ready;
    }
  } catch (...) {  // from emit, or a thread that could not be started
    record(std::current_exception());
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace pushpull

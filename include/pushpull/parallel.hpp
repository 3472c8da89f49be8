// Ordered parallel map: the one thread pool of the library (geodesic batches, distance matrices, the CLI).
//
// ParallelForOrdered(n, threads, work, emit) runs work(worker, item) for every item in [0, n) on worker threads that
// take the next item as they become free (dynamic scheduling), and calls emit(first, count) on the calling thread, in
// item order, each time the completed items form a longer prefix [0, first + count). So results written by `work`
// into per-item slots, and everything `emit` does with them, do not depend on the number of threads or on the
// timing; only the (first, count) chunking of the emit calls does.
//
// Exceptions: the first exception thrown by `work` (any worker) or by `emit` stops the run: no further item is
// started, items already running finish, every thread is joined, and then that exception is rethrown to the caller
// unchanged (same type, same object). Later exceptions are dropped. After an exception, `emit` is not called again.
//
// Interruption: RequestInterrupt(signal) (async-signal-safe: it only stores to a lock-free atomic; the CLI calls it
// from its SIGINT/SIGTERM handler) makes every ParallelForOrdered stop at the next item boundary: no further item
// is started, items already running finish, the completed prefix is emitted as usual, every thread is joined, and
// then Interrupted is thrown (unless every item had completed). The flag stays set until ClearInterrupt(), so a
// later ParallelForOrdered throws Interrupted before starting anything. This is the only thread pool of the
// library; every parallel loop of it goes through here.
#pragma once

#include <cstddef>
#include <functional>
#include <stdexcept>

namespace pushpull {

// work(worker, item): `worker` in [0, ParallelWorkers(n, threads)) identifies the thread, e.g. to index per-worker
// scratch; called concurrently for different items.
using ParallelWork = std::function<void(int worker, std::size_t item)>;
// emit(first, count): items [first, first + count) are complete, every earlier item was emitted before.
using ParallelEmit = std::function<void(std::size_t first, std::size_t count)>;

// Worker threads 0 = all hardware threads (at least 1).
int ResolveThreads(int threads);

// The number of workers ParallelForOrdered uses: ResolveThreads(threads), at most n, at least 1.
int ParallelWorkers(std::size_t n, int threads);

// Threads worth using for `total_work` units of work (any unit the caller counts in, e.g. kernel evaluations) when
// each thread should get at least `min_work_per_thread` of them: ResolveThreads(threads), capped at
// max(1, floor(total_work / min_work_per_thread)); min_work_per_thread <= 0 means no cap. Starting and joining a
// thread costs tens of microseconds, so a ParallelForOrdered over a few microseconds of work per thread is slower
// than the calling thread alone (e.g. Sinkhorn on 50 points: one map per sweep, hundreds of sweeps). Pass the result
// as the `threads` of ParallelForOrdered; results written to per-item slots do not depend on it.
int ThreadsForWork(int threads, double total_work, double min_work_per_thread);

// See the top of this header. With one worker, the items run on the calling thread (no thread is started) and
// emit(i, 1) follows each item. `emit` may be empty.
void ParallelForOrdered(std::size_t n, int threads, const ParallelWork& work, const ParallelEmit& emit = {});

// Thrown by ParallelForOrdered when it stopped early because of RequestInterrupt.
class Interrupted : public std::runtime_error {
 public:
  explicit Interrupted(int signal);
  int signal() const { return signal_; }

 private:
  int signal_;
};

// Async-signal-safe. `signal` (> 0) is reported by Interrupted::signal(); the first request wins.
void RequestInterrupt(int signal) noexcept;
// The signal of the pending request, or 0.
int InterruptSignal() noexcept;
void ClearInterrupt() noexcept;

}  // namespace pushpull

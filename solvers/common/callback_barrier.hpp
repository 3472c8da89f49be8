// The exception barrier of the callbacks that SUNDIALS (C) and Ceres call: a right-hand side, a Jacobian product, a
// preconditioner set-up, a sensitivity right-hand side, a Ceres CostFunction::Evaluate, EvaluationCallback or
// IterationCallback. User code runs inside them (fields, metrics, monitors) and may throw; an exception must never
// unwind through CVODES/ARKODE's C frames or Ceres' solver loop (which may run it on its own threads). Internal to
// the solvers.
//
// One barrier per solve (one integration, one ceres::Solve): every callback of that solve runs its body through
// Run(), which catches everything, keeps the first message and returns the library's failure code (SUNDIALS: a
// negative, unrecoverable value; Ceres: false or SOLVER_ABORT). Once an exception has been caught, later callbacks of
// the same solve fail at once without running their body. When the library has returned, the caller either reports
// a failed item whose message carries message() (the integrators: their status, see sundials_support.hpp) or, back
// in its own C++ frames, rethrows the exception itself with RethrowIfCaught() (the Ceres solvers: the geodesic
// batch turns it into the item's failure, as for any exception of a solve).
#pragma once

#include <atomic>
#include <exception>
#include <mutex>
#include <string>
#include <utility>

namespace pushpull {

class CallbackBarrier {
 public:
  // body() if no exception has been caught yet; `failure` if one had been or body throws (then `where`, e.g. "the
  // right-hand side", and the exception's message are kept).
  template <class R, class Body>
  R Run(const char* where, R failure, Body&& body) noexcept {
    if (caught_.load(std::memory_order_acquire)) return failure;
    try {
      return std::forward<Body>(body)();
    } catch (const std::exception& e) {
      Record(where, e.what());
    } catch (...) {
      Record(where, "an exception that is not a std::exception");
    }
    return failure;
  }

  bool caught() const { return caught_.load(std::memory_order_acquire); }
  // Rethrows the exception caught, if any (only outside the library's frames).
  void RethrowIfCaught() const {
    std::exception_ptr e;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      e = exception_;
    }
    if (e) std::rethrow_exception(e);
  }
  // "an exception in <where>: <what>" of the first exception caught; empty if none.
  std::string message() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return message_;
  }
  // Ready for the next solve.
  void Reset() {
    std::lock_guard<std::mutex> lock(mutex_);
    message_.clear();
    exception_ = nullptr;
    caught_.store(false, std::memory_order_release);
  }

 private:
  void Record(const char* where, const char* what) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    if (caught_.load(std::memory_order_relaxed)) return;  // another thread's exception came first
    exception_ = std::current_exception();
    try {
      message_ = std::string("an exception in ") + where + ": " + what;
    } catch (...) {  // out of memory for the message: the failure itself is still reported
    }
    caught_.store(true, std::memory_order_release);
  }

  mutable std::mutex mutex_;
  std::atomic<bool> caught_{false};
  std::string message_;
  std::exception_ptr exception_;
};

}  // namespace pushpull

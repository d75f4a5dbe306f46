// tests/checker/model_atomic.hpp — a std::atomic stand-in for the explorer.
//
// `model_atomic<T>` has the part of std::atomic's interface that volley's
// lock-free structures use. Every operation first calls yield_point(), so the
// explorer (model_scheduler.hpp) may run another fiber before it; the
// operation itself then runs without interruption, which makes it atomic and
// the execution sequentially consistent. Memory orders are accepted and
// ignored: the explorer checks SC executions only (each test file says how
// weaker orderings are covered).
//
// compare_exchange_weak never fails spuriously here. A spurious failure only
// repeats a CAS loop's iteration, so it adds schedules but no behaviour.
#pragma once

#include <atomic>
#include <type_traits>

#include "model_scheduler.hpp"

namespace volley::checker {

template <class T>
class model_atomic {
  static_assert(std::is_trivially_copyable_v<T>, "like std::atomic");

 public:
  model_atomic() noexcept = default;
  constexpr model_atomic(T v) noexcept : v_(v) {}  // NOLINT: mirrors std::atomic
  model_atomic(const model_atomic&) = delete;
  model_atomic& operator=(const model_atomic&) = delete;

  T load(std::memory_order = std::memory_order_seq_cst) const noexcept {
    yield_point();
    return v_;
  }
  void store(T v, std::memory_order = std::memory_order_seq_cst) noexcept {
    yield_point();
    set(v);
  }
  T exchange(T v, std::memory_order = std::memory_order_seq_cst) noexcept {
    yield_point();
    T old = v_;
    set(v);
    return old;
  }
  bool compare_exchange_strong(T& expected, T desired, std::memory_order,
                               std::memory_order) noexcept {
    return cas(expected, desired);
  }
  bool compare_exchange_strong(T& expected, T desired,
                               std::memory_order = std::memory_order_seq_cst) noexcept {
    return cas(expected, desired);
  }
  bool compare_exchange_weak(T& expected, T desired, std::memory_order,
                             std::memory_order) noexcept {
    return cas(expected, desired);
  }
  bool compare_exchange_weak(T& expected, T desired,
                             std::memory_order = std::memory_order_seq_cst) noexcept {
    return cas(expected, desired);
  }

  T fetch_add(
      T d, std::memory_order = std::memory_order_seq_cst) noexcept requires std::is_integral_v<T> {
    return rmw([d](T v) { return static_cast<T>(v + d); });
  }
  T fetch_sub(
      T d, std::memory_order = std::memory_order_seq_cst) noexcept requires std::is_integral_v<T> {
    return rmw([d](T v) { return static_cast<T>(v - d); });
  }
  T fetch_or(
      T d, std::memory_order = std::memory_order_seq_cst) noexcept requires std::is_integral_v<T> {
    return rmw([d](T v) { return static_cast<T>(v | d); });
  }
  T fetch_and(
      T d, std::memory_order = std::memory_order_seq_cst) noexcept requires std::is_integral_v<T> {
    return rmw([d](T v) { return static_cast<T>(v & d); });
  }

  /// For the final check only (no scheduling point, like a load after join).
  T peek() const noexcept { return v_; }

 private:
  bool cas(T& expected, T desired) noexcept {
    yield_point();
    if (v_ == expected) {
      set(desired);
      return true;
    }
    expected = v_;
    return false;
  }
  template <class F>
  T rmw(F f) noexcept {
    yield_point();
    T old = v_;
    set(f(old));
    return old;
  }

  void set(T v) noexcept {
    if (v == v_) return;
    v_ = v;
    value_changed();
  }

  T v_{};
};

}  // namespace volley::checker

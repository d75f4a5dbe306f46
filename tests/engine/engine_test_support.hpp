// tests/engine/engine_test_support.hpp — helpers shared by the engine tests.
//
// Engine tests assert outcomes, never timings: they wait for a condition
// with a generous deadline (wait_until) and fail only if it never comes.
// Stress sizes shrink in sanitizer builds (scaled) so that each test binary
// stays within ~20 s under ASan and ~60 s under TSan on a 2-core machine;
// VOLLEY_STRESS_SCALE=<factor> multiplies them at run time for a soak.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <volley/volley.hpp>

#include "../sanitizers.hpp"

namespace volley::test {

using namespace std::chrono_literals;

/// Deadline for conditions that a healthy engine meets in micro- to
/// milliseconds: long enough that a loaded CI machine under TSan never hits
/// it, short enough that a lost wake-up fails the test instead of hanging it.
inline constexpr std::chrono::seconds patience{20};

/// Poll `pred` until it holds or `timeout` passes; returns its last value.
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = patience) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(200us);
  }
  return true;
}

/// By how much stress sizes are divided in this build. Chosen on the 2-core
/// VM so that dispatch_test, the heaviest binary, takes ~5 s under ASan +
/// UBSan at -O0 and ~15 s under TSan: a quarter of the 20 s / 60 s budgets,
/// leaving room for a CI machine loaded by parallel builds.
inline double sanitizer_slowdown() {
#if defined(VOLLEY_TEST_TSAN)
  return 10.0;
#elif defined(VOLLEY_TEST_ASAN)
  return 16.0;
#else
  return 1.0;
#endif
}

/// `n` divided by the sanitizer slowdown, times VOLLEY_STRESS_SCALE; never 0.
inline std::size_t scaled(std::size_t n) {
  return scaled_for(n, sanitizer_slowdown());
}

/// A one-shot gate a handler can wait at, so that a test can hold an actor
/// inside a handler while it queues more work (the actor's worker is
/// blocked meanwhile: tests that use it run with at least 2 workers).
class gate {
 public:
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  /// Called by the handler: says it has arrived, then waits for open().
  void arrive_and_wait() {
    std::unique_lock lock(mu_);
    arrived_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  bool wait_arrived(std::chrono::milliseconds timeout = patience) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return arrived_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  bool arrived_ = false;
};

/// Waits until `parent` has begun to stop and the activation that began it
/// has ended. begin_stop (cell.cpp) sends every child its stop inside that
/// activation, so from then on a child held in a handler finds the stop in
/// its system lane when it returns, and handles no more user messages. A
/// test that held the child at a gate while shutdown() ran in another thread
/// used to sleep "long enough" for this; on a loaded 2-core machine the stop
/// can take longer than any such sleep. The parent must not be able to
/// finish (a child of it is held), or it may be gone before it is seen.
inline bool wait_until_stops_sent(volley::detail::cell_base* parent) {
  return wait_until([&] {
    // Stopping first, then idle: the user lane is unmarked while an
    // activation runs, so an idle mark read after `stopping` is the mark of
    // the activation that ran begin_stop (or a later one) ending.
    return parent->state() != volley::detail::lifecycle::alive && parent->mailbox_.is_marked();
  });
}

/// Opens a gate when it goes out of scope. Declare it after the system, so
/// that a failed REQUIRE cannot leave an actor waiting forever while the
/// system's destructor waits for it.
struct open_on_exit {
  gate& g;
  ~open_on_exit() { g.open(); }
};

/// Redirects the process's stderr (fd 2) to a temporary file until
/// finish(), which returns what was written. The engine logs with fprintf
/// to stderr, so this sees exactly what a user's terminal would.
class stderr_capture {
 public:
  stderr_capture() {
    std::fflush(stderr);
    file_ = std::tmpfile();
    saved_ = ::dup(2);
    ::dup2(::fileno(file_), 2);
  }
  stderr_capture(const stderr_capture&) = delete;
  stderr_capture& operator=(const stderr_capture&) = delete;
  ~stderr_capture() { finish(); }

  std::string finish() {
    if (file_ == nullptr) return text_;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    std::rewind(file_);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) text_.append(buf, n);
    std::fclose(file_);
    file_ = nullptr;
    return text_;
  }

 private:
  std::FILE* file_ = nullptr;
  int saved_ = -1;
  std::string text_;
};

/// Lines of `text` that contain `needle`.
inline std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    if (line.find(needle) != std::string::npos) out.push_back(std::move(line));
    pos = end + 1;
  }
  return out;
}

/// Collects dead letters reported to a subscriber (thread-safe).
class dead_letter_log {
 public:
  explicit dead_letter_log(volley::system& sys)
      : sub_(sys.dead_letters().subscribe([this](const volley::dead_letter& d) {
          std::lock_guard lock(mu_);
          seen_.push_back(d);
        })) {}

  std::vector<volley::dead_letter> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return seen_.size();
  }

 private:
  mutable std::mutex mu_;
  std::vector<volley::dead_letter> seen_;
  volley::dead_letters::subscription sub_;  // last: unsubscribes before the rest goes
};

/// A request for slow_echo.
struct work {
  int index;
};
/// Answers after a few µs of work: a queue of requests drains over
/// milliseconds, so some answers come before an ask's deadline of a
/// millisecond or less and some after (the ask race tests).
struct slow_echo {
  int on(const work& w) {
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(3);
    while (std::chrono::steady_clock::now() < until) {
    }
    return w.index;
  }
};

/// Counts its copies alive, so a test sees when a cell's memory is freed: a
/// cell keeps a copy of its spawn arguments (for restarts) until then.
struct cell_token {
  explicit cell_token(std::atomic<int>* live) : live_(live) { ++*live_; }
  cell_token(const cell_token& o) : live_(o.live_) { ++*live_; }
  cell_token& operator=(const cell_token&) = delete;
  ~cell_token() { --*live_; }
  std::atomic<int>* live_;
};

/// A config for the functional tests: two unpinned workers, so that a test
/// holding one actor in a handler still has a worker for the rest, on any
/// machine (the stress tests use the defaults too).
inline volley::config two_workers() {
  volley::config cfg;
  cfg.workers = 2;
  cfg.pin = false;
  return cfg;
}

/// A config for the deterministic dispatcher: the schedule `seed` picks, on
/// one unpinned worker, with `clock` (the test advances it) as the clock.
inline volley::config deterministic(std::shared_ptr<volley::manual_clock> clock,
                                    std::uint64_t seed = 1) {
  volley::config cfg;
  cfg.deterministic_seed = seed;
  cfg.clock = std::move(clock);
  cfg.workers = 1;
  cfg.pin = false;
  return cfg;
}

/// As above, on a manual clock of its own that nobody advances.
inline volley::config deterministic(std::uint64_t seed = 1) {
  return deterministic(std::make_shared<volley::manual_clock>(), seed);
}

}  // namespace volley::test

// tests/checker/expect_clean.hpp — the Catch2 checks every checker case makes.
//
// A clean case: no schedule failed, every schedule within the bound was run
// (the space did not outgrow max_schedules), and at least `min_schedules`
// were (a test whose threads stopped interleaving, after a change to the
// code under test, would otherwise pass on a handful of schedules). The
// first failure is attached to every check, so a failing CI log shows it.
// A known-bad case: some schedule failed, with a message naming the defect.
//
// Most cases are one line: `check_clean("name", bound(2), body, 1000)` runs
// the body under the explorer, prints the schedule count (run_and_print) and
// checks it; a file whose cases differ in one parameter lists them in a table
// and loops.
//
// It is the one header a checker test includes: it brings the explorer
// (model_scheduler.hpp) and the model atomics (model_atomic.hpp), and the test
// says `using namespace volley::checker;` once in its anonymous namespace, so
// `execution`, `check`, `bound`, `model_atomic`, `spin_wait` are its words.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include <catch2/catch.hpp>

#include "model_atomic.hpp"
#include "model_scheduler.hpp"

namespace volley::checker {

inline void expect_clean(const report& r, std::size_t min_schedules) {
  INFO(r.first_failure);
  CHECK(r.failures == 0);
  CHECK(r.exhausted);
  CHECK(r.schedules >= min_schedules);
}

/// `what`: a piece of the failure message the defect must produce ("" = any).
inline void expect_caught(const report& r, const std::string& what = "") {
  INFO(r.first_failure);
  REQUIRE(r.failures > 0);
  CHECK(r.first_failure.find(what) != std::string::npos);
}

/// The explorer's options with a preemption bound (-1: every schedule) and,
/// optionally, a tighter livelock guard.
inline options bound(int preemption_bound, std::size_t max_steps = options{}.max_steps) {
  options o;
  o.preemption_bound = preemption_bound;
  o.max_steps = max_steps;
  return o;
}

/// Runs `body` under every schedule within `opts`, prints the count under
/// `name`, and checks that the case is clean.
inline report check_clean(const char* name, const options& opts,
                          const std::function<void(execution&)>& body, std::size_t min_schedules) {
  report r = run_and_print(name, opts, body);
  expect_clean(r, min_schedules);
  return r;
}

/// As check_clean, for a known-bad variant: some schedule must fail with `what`.
inline report check_caught(const char* name, const options& opts,
                           const std::function<void(execution&)>& body,
                           const std::string& what = "") {
  report r = run_and_print(name, opts, body);
  expect_caught(r, what);
  return r;
}

}  // namespace volley::checker

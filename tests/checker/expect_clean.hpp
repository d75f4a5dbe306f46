// tests/checker/expect_clean.hpp — the Catch2 checks every checker case makes.
//
// A clean case: no schedule failed, every schedule within the bound was run
// (the space did not outgrow max_schedules), and at least `min_schedules`
// were (a test whose threads stopped interleaving, after a change to the
// code under test, would otherwise pass on a handful of schedules). The
// first failure is attached to every check, so a failing CI log shows it.
// A known-bad case: some schedule failed, with a message naming the defect.
#pragma once

#include <cstddef>
#include <string>

#include <catch2/catch.hpp>

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

}  // namespace volley::checker

// bench/micro/process_cpu.hpp — CPU time of the whole process, for a
// per-message figure that a loaded machine distorts less than wall time.
//
// getrusage(RUSAGE_SELF) sums every thread: the sender, the workers, and a
// worker's spinning before it parks. On a shared machine the wall-clock
// rate of a row moves with the neighbours' load (5x between runs on the
// 2-core VM); the CPU the process itself spent per message moves much
// less, since time spent descheduled is not counted.
#pragma once

#include <sys/resource.h>

#include <cstdint>

namespace volley::bench {

/// User plus system CPU time of the process so far, in ns.
inline std::int64_t process_cpu_ns() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto ns = [](const timeval& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 +
           static_cast<std::int64_t>(t.tv_usec) * 1'000;
  };
  return ns(u.ru_utime) + ns(u.ru_stime);
}

}  // namespace volley::bench

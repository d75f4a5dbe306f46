#include <volley/savina/fault_injection.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace volley::savina {

namespace {

std::atomic<fault> armed{fault::none};

}  // namespace

bool parse_fault(std::string_view text, fault& out) {
  if (text == "none")
    out = fault::none;
  else if (text == "drop")
    out = fault::drop;
  else if (text == "dup")
    out = fault::dup;
  else
    return false;
  return true;
}

void inject_fault(fault f) {
  armed.store(f, std::memory_order_relaxed);
}

int copies_of_marked_message() {
  // relaxed: the flag carries no data; exchange makes exactly one caller see it.
  if (armed.load(std::memory_order_relaxed) == fault::none) return 1;
  switch (armed.exchange(fault::none, std::memory_order_relaxed)) {
    case fault::drop:
      return 0;
    case fault::dup:
      return 2;
    case fault::none:
      break;
  }
  return 1;
}

void wrong_answer(const std::string& what) {
  std::fprintf(stderr, "WRONG RESULT: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(2);
}

void arm_deadline(double seconds) {
  if (seconds <= 0) return;
  std::thread([seconds] {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    wrong_answer("no answer after " + std::to_string(seconds) +
                 " s: the workload is still waiting (a message was lost?)");
  }).detach();
}

}  // namespace volley::savina

// Tests of the envelope pool's answer to a sender that outruns its
// receivers (engine/src/envelope_pool.cpp, "a sender that outruns its
// receivers"): a thread that is not a worker, while a pool's workers take
// every CPU, waits for its envelopes to come back instead of cutting fresh
// memory for an ever longer backlog; with a core of its own it does not.
//
// The sender and the receiver are plain threads handing blocks over, so
// the receiver's pace is the test's (one block per 5 µs), not a dispatch's
// under a sanitizer. A binary of its own: the counts need a depot that no
// other case has filled. Each case that counts waits allocates a size class
// of its own, or sets the depot's cap to 0, so that what an earlier case
// left in the depot cannot serve its refills.
#include <catch2/catch.hpp>

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <volley/engine/detail/envelope.hpp>
#include <volley/volley.hpp>

#include "../../engine/src/envelope_pool.hpp"

using volley::detail::envelope_alloc;
using volley::detail::envelope_free;
namespace envelope_pool = volley::detail::envelope_pool;

namespace {

unsigned allowed_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return static_cast<unsigned>(CPU_COUNT(&set));
}

// 300k blocks of 64 B are 18 MiB (36 MiB with ASan's guard lines). The
// receiver frees one per 5 µs (1.5 s in all); a sender that never waits is
// done long before (~1 µs a block even under TSan's locks), so most of them
// are alive at once, far beyond the 2 MiB at which the waits begin.
constexpr int blocks = 300'000;

struct outcome {
  std::size_t peak_chunks = 0;  ///< envelope chunks alive, above those before
  std::uint64_t waits = 0;      ///< the sender's waits for returns
  bool shared_cores = false;    ///< envelope_pool::senders_share_cores() meanwhile
  int freed = 0;
};

outcome outrun_a_slow_receiver(unsigned workers, bool paced = true) {
  outcome out;
  volley::config cfg;
  cfg.workers = workers;
  volley::system sys(cfg);  // idle: it only decides whether senders share cores
  out.shared_cores = envelope_pool::senders_share_cores();
  const std::size_t before = envelope_pool::current().chunks_live;
  const std::uint64_t waits_before = envelope_pool::waits_for_returns();
  std::mutex mu;
  std::deque<void*> handed;
  std::atomic<bool> sent{false};
  std::thread receiver([&] {
    for (;;) {
      void* p = nullptr;
      {
        std::lock_guard lock(mu);
        if (!handed.empty()) {
          p = handed.front();
          handed.pop_front();
        }
      }
      if (p == nullptr) {
        if (sent.load(std::memory_order_acquire)) {
          std::lock_guard lock(mu);
          if (handed.empty()) return;
        }
        continue;
      }
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(5);
      while (std::chrono::steady_clock::now() < until) {
      }
      envelope_free(p, 64);
      ++out.freed;
    }
  });
  std::thread sender([&] {  // not a worker, as main() is not
    volley::pace_this_thread(paced);
    for (int i = 0; i < blocks; ++i) {
      void* p = envelope_alloc(64);
      std::memset(p, 0x3c, 64);
      {
        std::lock_guard lock(mu);
        handed.push_back(p);
      }
      if (i % 1024 == 0) {
        const std::size_t now = envelope_pool::current().chunks_live;
        if (now > before) out.peak_chunks = std::max(out.peak_chunks, now - before);
      }
    }
    sent.store(true, std::memory_order_release);
  });
  sender.join();
  receiver.join();
  out.waits = envelope_pool::waits_for_returns() - waits_before;
  return out;
}

}  // namespace

// First: it needs the depot as a fresh process has it (empty).
TEST_CASE("an outside sender with a core of its own never waits for its envelopes") {
  if (allowed_cpus() < 2) {
    SUCCEED("one CPU: every pool takes them all");
    return;
  }
  const long cap = envelope_pool::current().depot_cap;
  envelope_pool::set_depot_cap(0);  // leave nothing in the depot for the next case
  const outcome o = outrun_a_slow_receiver(allowed_cpus() - 1);
  envelope_pool::set_depot_cap(cap);
  CHECK_FALSE(o.shared_cores);
  CHECK(o.freed == blocks);
  CHECK(o.waits == 0);
}

// The bound is on what the sender itself put out: chunks other threads hold
// (each worker opens its own per size class its actors allocate: an ask's
// request, envelope and reply) do not make it wait. Classes no other case
// here uses (128 and 192 B), so their depots are empty: a sender that may
// wait does so at its first refill.
TEST_CASE("an outside sender is paced by the envelopes it cut, not by chunks other threads hold") {
  constexpr std::size_t held_bytes = 128, sent_bytes = 192;
  constexpr std::size_t mib = std::size_t{1} << 20;
  const long cap = envelope_pool::current().depot_cap;
  envelope_pool::set_depot_cap(0);  // nothing comes back through the depot
  volley::config cfg;
  cfg.workers = allowed_cpus();
  volley::system sys(cfg);  // idle: it makes the cores crowded
  REQUIRE(envelope_pool::senders_share_cores());
  const std::size_t chunks_before = envelope_pool::current().chunks_live;
  std::vector<void*> held, sent;
  std::thread holder([&] {  // another thread's 5 MiB, kept
    volley::pace_this_thread(false);
    for (std::size_t i = 0; i < 5 * mib / held_bytes; ++i)
      held.push_back(envelope_alloc(held_bytes));
  });
  holder.join();
  // Three 2 MiB chunks at least (more under ASan, whose blocks carry a
  // guard): well past the 2 MiB a pool-wide count would have stopped at.
  REQUIRE(envelope_pool::current().chunks_live - chunks_before >= 3);
  std::uint64_t waits_below_bound = 0, waits_beyond = 0;
  std::thread sender([&] {  // paced, as main() is
    const std::uint64_t w0 = envelope_pool::waits_for_returns();
    for (std::size_t i = 0; i < mib / 2 / sent_bytes; ++i)
      sent.push_back(envelope_alloc(sent_bytes));
    const std::uint64_t w1 = envelope_pool::waits_for_returns();
    // On to 2.5 MiB of its own: past the bound, and nothing comes back.
    for (std::size_t i = 0; i < 2 * mib / sent_bytes; ++i)
      sent.push_back(envelope_alloc(sent_bytes));
    waits_below_bound = w1 - w0;
    waits_beyond = envelope_pool::waits_for_returns() - w1;
  });
  sender.join();
  for (void* p : held) envelope_free(p, held_bytes);
  for (void* p : sent) envelope_free(p, sent_bytes);
  envelope_pool::set_depot_cap(cap);
  CHECK(waits_below_bound == 0);
  CHECK(waits_beyond > 0);
}

// The count is of what the sender has out, not of all it ever cut: a
// service's I/O thread that flooded once (at start-up, say) and whose
// backlog was handled since must not nap in its later tells. A class no
// other case uses (256 B) and a depot that keeps nothing: every refill of
// the sender finds the depot empty, before the drain and after it.
TEST_CASE("an outside sender whose backlog was handled no longer waits for its envelopes") {
  constexpr std::size_t size = 256;
  constexpr std::size_t mib = std::size_t{1} << 20;
  // After the flood the sender may still skip up to 64 refills (the misses
  // it met there); 80 refills of 65 blocks go past them: 1.3 MiB, below the
  // bound a count started afresh would wait at.
  constexpr std::size_t after_drain = 80 * 65;
  const long cap = envelope_pool::current().depot_cap;
  envelope_pool::set_depot_cap(0);  // freed envelopes go back to their chunks
  volley::config cfg;
  cfg.workers = allowed_cpus();
  volley::system sys(cfg);  // idle: it makes the cores crowded
  REQUIRE(envelope_pool::senders_share_cores());
  std::vector<void*> flood, later;
  std::promise<void> flooded, drained;
  std::uint64_t waits_flooding = 0, waits_after_drain = 0;
  std::thread sender([&] {  // paced, as main() is; one thread, so one count
    const std::uint64_t w0 = envelope_pool::waits_for_returns();
    for (std::size_t i = 0; i < 5 * mib / 2 / size; ++i) flood.push_back(envelope_alloc(size));
    waits_flooding = envelope_pool::waits_for_returns() - w0;
    flooded.set_value();
    drained.get_future().wait();
    const std::uint64_t w1 = envelope_pool::waits_for_returns();
    for (std::size_t i = 0; i < after_drain; ++i) later.push_back(envelope_alloc(size));
    waits_after_drain = envelope_pool::waits_for_returns() - w1;
  });
  flooded.get_future().wait();
  for (void* p : flood) envelope_free(p, size);  // the receivers handled the backlog
  const std::size_t out_after_drain = envelope_pool::bytes_out();
  drained.set_value();
  sender.join();
  for (void* p : later) envelope_free(p, size);
  envelope_pool::set_depot_cap(cap);
  CAPTURE(out_after_drain, envelope_pool::counts_lowered());
  CHECK(waits_flooding > 0);  // 2.5 MiB out and nothing back: it waited
  CHECK(out_after_drain < mib);
  CHECK(waits_after_drain == 0);
}

TEST_CASE("an outside sender that does not pace itself never waits, even on crowded cores") {
  const long cap = envelope_pool::current().depot_cap;
  envelope_pool::set_depot_cap(0);  // an empty depot: a paced sender would wait here
  const outcome o = outrun_a_slow_receiver(allowed_cpus(), /*paced=*/false);
  envelope_pool::set_depot_cap(cap);
  CHECK(o.shared_cores);
  CHECK(o.freed == blocks);
  CHECK(o.waits == 0);
  CHECK(volley::pace_this_thread(true));  // this thread's own setting was never touched
}

TEST_CASE(
    "an outside sender that outruns its receiver while the workers take every CPU keeps its "
    "backlog to a few chunks") {
  const outcome o = outrun_a_slow_receiver(allowed_cpus());
  CAPTURE(o.peak_chunks, o.waits);
  CHECK(o.shared_cores);
  CHECK(o.freed == blocks);  // a wait delays an allocation, never loses a block
  CHECK(o.waits > 0);
  // How far ahead it got depends on whether the receiver had a CPU when
  // the sender waited (a timed figure, so not asserted): under ASan on the
  // 2-core VM at load ~8 (400k blocks, one per 2 µs), 6-22 chunks, against
  // 45 for a sender that never waits.
  CHECK_FALSE(envelope_pool::senders_share_cores());  // the pool stopped: counted out
}

// A thread whose cache is gone (a thread_local's destructor that sends, at
// the thread's exit) cuts its envelopes from a shared chunk under the
// registry's lock (chunk_late_alloc). They are out as any other envelope
// is, and come back as any other does: the pool's figure must count them,
// or each one's return takes its size off the figure for good, and a
// drained sender's count is lowered below what it still has out. Last in
// the file: its frees fill the 64 B depot, which the first case needs empty.
TEST_CASE("envelopes allocated after their thread's cache is gone count as out") {
  constexpr std::size_t size = 64;
  constexpr std::size_t late_blocks = 1000;
  struct sends_at_exit {
    std::vector<void*>* into = nullptr;
    ~sends_at_exit() {
      for (std::size_t i = 0; i < late_blocks; ++i) into->push_back(envelope_alloc(size));
    }
  };
  std::vector<void*> late;
  late.reserve(late_blocks);
  const std::size_t before = envelope_pool::bytes_out();
  std::thread exiting([&] {
    // Made before the thread's first envelope registers the cache's flush,
    // so destroyed after it: its envelopes are late ones.
    thread_local sends_at_exit at_exit;
    at_exit.into = &late;
    envelope_free(envelope_alloc(size), size);
  });
  exiting.join();
  REQUIRE(late.size() == late_blocks);
  const std::size_t with_late = envelope_pool::bytes_out();
  for (void* p : late) envelope_free(p, size);
  const std::size_t after = envelope_pool::bytes_out();
  CAPTURE(before, with_late, after);
  CHECK(with_late >= before + late_blocks * size);
  CHECK(after < with_late);
}

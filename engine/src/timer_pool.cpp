// engine/src/timer_pool.cpp — memory for timer nodes, recycled in batches
// between the thread that frees them (the timer thread) and the threads
// that allocate them (the workers).
//
// Why
// ---
// A worker allocates a timer node for every ctx.ask timeout and every FSM
// state timeout, and the timer thread drops it when it next meets it
// (timer_service.hpp). With plain new/delete the worker allocated and the
// timer thread freed, and jemalloc moved the memory the long way round: the
// timer thread's thread cache filled and flushed into the arena bin, the
// worker's ran dry and refilled from it under the bin's lock, once per ~100
// allocations. Measured (volley-micro-timer-service, 1 asker, 0 live timers,
// bench preset, MALLOC_CONF=stats_print:true), the 160 B class the ask
// timeout used: 166,622 requests, 1,667 tcache fills, 1,263 bin lock
// operations — one ask in a hundred paid a refill, which is where the ask's
// p99 went. The lock-based service, which freed the node on the worker,
// showed 2 fills in 306,732 requests of its class.
//
// How
// ---
// A magazine scheme (Bonwick's, as in the envelope pool, but over intrusive
// lists): every thread keeps a `loaded` and a `spare` list of free slots of
// `slot_bytes`, each at most `batch` long. Allocation pops `loaded`, swaps in
// `spare` when it is empty, and only then takes a full list from the depot
// (one lock per `batch` allocations). Freeing pushes onto `loaded`, moves a
// full `loaded` to `spare`, and a full `spare` to the depot. So the timer
// thread hands the workers its freed nodes `batch` at a time, whichever
// worker allocated them (an actor may move between workers), and neither
// side meets the allocator in the steady state.
//
// Bounds: two lists of `batch` per thread (192 KiB), `depot_batches` lists
// in the depot (3 MiB); beyond that a list goes back to the allocator. The
// end of a burst (a million asks with deadlines answered at once, a million
// keyed timers cancelled) is `depot_batches` lists handed in with no thread
// asking for one in between: then the depot frees all but `depot_keep`
// (768 KiB), and keeps doing so until a thread takes a list again. So what
// the pool holds after a burst is a stock for the next asks, not the
// burst's high-water mark, while in the steady state (hand-ins and
// take-outs interleaved) the depot works as before. At thread exit a
// thread's lists go to the depot. Nodes larger than a slot,
// or aligned beyond 16 bytes, use the allocator directly.
//
// Under ASan a free slot is poisoned (all but its link), so a use after
// free of a timer node is still reported.
#include <volley/engine/detail/timer.hpp>
#include <volley/queues/cache_line.hpp>

#include <array>
#include <cstddef>
#include <mutex>
#include <new>
#include <vector>

#include "pool_poisoning.hpp"
#include "timer_pool.hpp"

namespace volley::detail {

namespace {

// A slot holds a node of up to 192 B: an ask timeout or an FSM state
// timeout (136 B each on x86-64), a keyed timer whose message is up to 56 B
// (timer_base is 128 B). 192 is one of jemalloc's size classes.
constexpr std::size_t slot_bytes = 192;
// Slots per list: a worker takes the depot's lock once per 512 timers, so
// at most ~0.2% of asks pay for it (a p99 cannot see that), and one batch
// of the timer thread's frees is an eighth of what it drains per forced
// wake-up (timer_service: 4096 arms).
constexpr std::size_t batch = 512;
// Full lists the depot holds: 32 x 512 slots, 3 MiB. The timer thread hands
// its frees in faster than one worker draws them at times (a wake-up drains
// 4096 nodes and more; 1024 when this was measured): a cap of 8 lists made
// volley-micro-timer-service's 1-asker ask fall back to malloc 66% more often (0.092 vs 0.055
// 192-byte requests per ask, p99 0.464 vs 0.401 us), so the cap stays at 32.
constexpr std::size_t depot_batches = 32;
// What the depot keeps once a burst is over (see above): 8 x 512 slots,
// 768 KiB, enough for the first 4096 asks after it without malloc.
constexpr std::size_t depot_keep = 8;

struct free_slot {
  free_slot* next;
};

struct slot_list {
  free_slot* head = nullptr;
  std::size_t count = 0;

  void push(free_slot* s) noexcept {
    s->next = head;
    head = s;
    ++count;
  }
  free_slot* pop() noexcept {
    free_slot* s = head;
    head = s->next;
    --count;
    return s;
  }
};

// All but the link: the list still walks through a poisoned slot.
void poison_slot(free_slot* s) noexcept {
  pool_poison(reinterpret_cast<char*>(s) + sizeof(free_slot), slot_bytes - sizeof(free_slot));
}

void unpoison_slot(free_slot* s) noexcept {
  pool_unpoison(s, slot_bytes);
}

void free_slots(slot_list& l) noexcept {
  while (l.head != nullptr) {
    free_slot* s = l.pop();
    unpoison_slot(s);
    ::operator delete(s);
  }
}

// Full lists shared by all threads. Leaked on purpose: threads may exit
// (and hand their lists in) after static destructors have run.
struct depot {
  std::mutex mu;
  std::vector<slot_list> full;
  // Lists handed in since a thread last asked for one: `depot_batches` of
  // them in a row means nobody draws on the stock (a burst is over).
  std::size_t given_since_taken = 0;
  depot() { full.reserve(depot_batches); }  // no allocation under the lock
};

depot& the_depot() {
  static auto* d = new depot();
  return *d;
}

void give_to_depot(slot_list& l) noexcept {
  if (l.head == nullptr) return;
  depot& d = the_depot();
  // Freed after the lock is dropped: a burst's end frees up to 24 lists.
  std::array<slot_list, depot_batches + 1> surplus;
  std::size_t surplus_count = 0;
  {
    std::lock_guard lock(d.mu);
    const bool burst_over = ++d.given_since_taken >= depot_batches;
    const std::size_t limit = burst_over ? depot_keep : depot_batches;
    while (d.full.size() > limit) {
      surplus[surplus_count++] = d.full.back();
      d.full.pop_back();
    }
    if (d.full.size() < limit) {
      d.full.push_back(l);  // within the reserved capacity: cannot throw
    } else {
      surplus[surplus_count++] = l;
    }
  }
  l = slot_list{};
  for (std::size_t i = 0; i < surplus_count; ++i) free_slots(surplus[i]);
}

bool take_from_depot(slot_list& l) noexcept {
  depot& d = the_depot();
  std::lock_guard lock(d.mu);
  d.given_since_taken = 0;  // someone draws on the stock, found or not
  if (d.full.empty()) return false;
  l = d.full.back();
  d.full.pop_back();
  return true;
}

struct thread_slots {
  slot_list loaded;
  slot_list spare;
  ~thread_slots();
};

thread_local thread_slots this_thread;
// Set once this thread's lists are handed in: a timer freed or made later in
// thread exit (by another thread_local's destructor) bypasses the pool.
thread_local bool exited = false;

thread_slots::~thread_slots() {
  exited = true;
  give_to_depot(loaded);
  give_to_depot(spare);
}

// The next slot to hand out was most likely last written by another
// thread (the timer thread freed it): fetch its lines for writing now, one
// allocation ahead, instead of stalling on them when the node is built.
void prefetch_slot(free_slot* s) noexcept {
  if (s == nullptr) return;
  for (std::size_t at = 0; at < slot_bytes; at += queues::cache_line_size) {
    __builtin_prefetch(reinterpret_cast<char*>(s) + at, 1);
  }
}

}  // namespace

void* timer_allocate(std::size_t n) {
  if (n > slot_bytes || exited) return ::operator new(n > slot_bytes ? n : slot_bytes);
  thread_slots& t = this_thread;
  if (t.loaded.head == nullptr) {
    if (t.spare.head != nullptr) {
      std::swap(t.loaded, t.spare);
    } else if (!take_from_depot(t.loaded)) {
      return ::operator new(slot_bytes);
    }
  }
  free_slot* s = t.loaded.pop();
  prefetch_slot(t.loaded.head);
  unpoison_slot(s);
  return s;
}

void timer_deallocate(void* p, std::size_t n) noexcept {
  if (p == nullptr) return;
  if (n > slot_bytes || exited) {
    ::operator delete(p);
    return;
  }
  thread_slots& t = this_thread;
  if (t.loaded.count == batch) {
    if (t.spare.count == batch) give_to_depot(t.spare);
    std::swap(t.loaded, t.spare);
  }
  auto* s = static_cast<free_slot*>(p);
  t.loaded.push(s);
  poison_slot(s);
}

std::size_t timer_pool_depot_slots() noexcept {
  depot& d = the_depot();
  std::lock_guard lock(d.mu);
  std::size_t slots = 0;
  for (const slot_list& l : d.full) slots += l.count;
  return slots;
}

}  // namespace volley::detail

// engine/src/router.cpp — the routee table of a router (see router.hpp).
//
// Protocol: a table is built whole, then published with a release store; a
// sender loads it with acquire and reads it without a lock. A table is never
// changed or freed while the router lives (a sender may be reading any
// table it loaded), so publishing is the only synchronisation; the mutex
// orders publishers (the pool actor, set_routees callers) among themselves.
#include <volley/engine/router.hpp>

#include <algorithm>

#include "system_core.hpp"

namespace volley::detail {

namespace {

// Points per routee on the consistent-hashing ring. With 32, the largest of
// n routees' shares stays within ~1.5x of 1/n for n up to a few dozen (the
// usual figure for virtual nodes; the router test checks the spread).
constexpr std::uint32_t ring_points_per_routee = 32;

std::uint64_t& random_state() noexcept {
  thread_local std::uint64_t s = reinterpret_cast<std::uintptr_t>(&s) | 1;
  return s;
}

}  // namespace

std::uint64_t mix_hash(std::uint64_t x) noexcept {
  // splitmix64's finaliser: every input bit affects every output bit.
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

routee_table::~routee_table() {
  for (cell_base* c : cells) c->release();
}

router_state::~router_state() = default;  // tables_ releases every table's counts

void router_state::publish(const std::vector<cell_base*>& cells) {
  auto t = std::make_unique<routee_table>();
  t->cells = cells;
  for (cell_base* c : t->cells) c->add_ref();
  if (strategy_ == routing::consistent_hashing) {
    // Points depend on the routee's id, not its index, so a routee keeps its
    // arcs of the ring when others come or go.
    for (std::uint32_t i = 0; i < t->cells.size(); ++i) {
      for (std::uint32_t p = 0; p < ring_points_per_routee; ++p) {
        t->ring.emplace_back(mix_hash(t->cells[i]->id() * ring_points_per_routee + p), i);
      }
    }
    std::sort(t->ring.begin(), t->ring.end());
  }
  detail::lock_guard lock(publish_mu_);
  // release: pairs with the acquire in table(), so the filled table is seen.
  table_.store(t.get(), std::memory_order_release);
  tables_.push_back(std::move(t));
}

std::size_t router_state::pick(const routee_table& t, std::uint64_t key) noexcept {
  const std::size_t n = t.cells.size();
  switch (strategy_) {
    case routing::round_robin:
    case routing::broadcast:
    case routing::balancing:  // where the scan for an idle routee starts
      return next_.fetch_add(1, std::memory_order_relaxed) % n;
    case routing::random: {
      std::uint64_t& s = random_state();
      s ^= s << 13;  // xorshift64 (Marsaglia's 13/7/17 triple): a spread, not a secret
      s ^= s >> 7;
      s ^= s << 17;
      return s % n;
    }
    case routing::smallest_mailbox: {
      std::size_t start = next_.fetch_add(1, std::memory_order_relaxed) % n;
      for (std::size_t i = 0; i < n; ++i) {
        std::size_t at = (start + i) % n;
        // Marked = idle: nothing queued and not scheduled (cell.hpp).
        if (t.cells[at]->mailbox_.is_marked()) return at;
      }
      return start;
    }
    case routing::consistent_hashing: {
      auto it = std::upper_bound(t.ring.begin(), t.ring.end(),
                                 std::pair<std::uint64_t, std::uint32_t>{key, UINT32_MAX});
      if (it == t.ring.end()) it = t.ring.begin();  // the ring wraps
      return it->second;
    }
  }
  return 0;
}

void report_unrouted(cell_base* pool, envelope* e) noexcept {
  report_unhandled(pool, e);
}

}  // namespace volley::detail

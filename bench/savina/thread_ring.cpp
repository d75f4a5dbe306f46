// Thread ring on volley: twin of bench/peers/caf/thread_ring.cpp.
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>

#include <future>

namespace volley::savina_on_volley {

namespace {

struct ring_member {
  struct link {
    actor_ref<ring_member> next;
  };
  struct token {
    std::int64_t left;
  };
  std::int64_t id;
  std::int64_t ring_size;
  std::promise<std::int64_t>* done;
  actor_ref<ring_member> next{};
  // The token's `left` this member must see next: hops - id, then ring_size
  // fewer each lap. A duplicated token arrives with a value already seen; a
  // lost one stops the ring (the deadline reports it).
  std::int64_t expect_left;

  ring_member(std::int64_t i, std::int64_t n, std::int64_t hops, std::promise<std::int64_t>* d)
      : id(i), ring_size(n), done(d), expect_left(hops - i) {}
  void on(const link& l) { next = l.next; }
  void on(const token& t) {
    if (t.left != expect_left)
      savina::wrong_answer("ring member " + std::to_string(id) + " got the token with " +
                           std::to_string(t.left) + " hops left, expected " +
                           std::to_string(expect_left));
    expect_left -= ring_size;
    if (t.left == 0) {
      done->set_value(id);
      return;
    }
    for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
      next.tell(token{t.left - 1});
  }
};

}  // namespace

measurement thread_ring(const parameters& p, int workers) {
  const auto n = p.integer("actors");
  const auto hops = p.integer("hops");
  volley::system sys(make_config(workers));
  std::promise<std::int64_t> done;
  std::vector<actor_ref<ring_member>> ring;
  for (std::int64_t i = 0; i < n; ++i) ring.push_back(sys.spawn<ring_member>(i, n, hops, &done));
  for (std::int64_t i = 0; i < n; ++i)
    ring[static_cast<std::size_t>(i)].tell(
        ring_member::link{ring[static_cast<std::size_t>((i + 1) % n)]});
  savina::stopwatch clock;
  ring[0].tell(ring_member::token{hops});
  auto last = done.get_future().get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(last == hops % n, "token stopped at actor " + std::to_string(last) + ", expected " +
                                      std::to_string(hops % n));
  m.messages = m.items = static_cast<std::uint64_t>(hops);
  return m;
}

}  // namespace volley::savina_on_volley

// Big on volley: twin of bench/peers/caf/big.cpp.
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/pseudo_random.hpp>

#include <atomic>
#include <latch>
#include <memory>

namespace volley::savina_on_volley {

namespace {

struct big_actor {
  struct peers_msg {
    std::shared_ptr<const std::vector<actor_ref<big_actor>>> peers;
  };
  struct start {};
  // Each actor has one ping out at a time, numbered; the pong echoes the
  // number, so a duplicated ping gives a pong nobody waits for, and a
  // misrouted pong arrives at an actor expecting another number.
  struct ping {
    std::int64_t from;
    std::int64_t seq;
  };
  struct pong {
    std::int64_t seq;
  };

  std::int64_t id;
  std::int64_t pings;
  std::atomic<std::int64_t>* complete;
  std::latch* done;
  std::shared_ptr<const std::vector<actor_ref<big_actor>>> peers;
  std::int64_t pongs = 0;
  savina::pseudo_random random;

  big_actor(std::int64_t i, std::int64_t n, std::atomic<std::int64_t>* c, std::latch* d)
      : id(i), pings(n), complete(c), done(d), random(static_cast<std::uint64_t>(i) + 1) {}

  void send_ping() {
    auto n = static_cast<std::uint64_t>(peers->size());
    auto target = random.below(n - 1);
    if (target >= static_cast<std::uint64_t>(id)) ++target;  // never ourselves
    for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
      (*peers)[target].tell(ping{id, pongs});
  }
  void on(const peers_msg& m) { peers = m.peers; }
  void on(const start&) { send_ping(); }
  void on(const ping& p) { (*peers)[static_cast<std::size_t>(p.from)].tell(pong{p.seq}); }
  void on(const pong& p) {
    if (p.seq != pongs)
      savina::wrong_answer("big actor " + std::to_string(id) + " got pong " +
                           std::to_string(p.seq) + ", expected " + std::to_string(pongs));
    if (++pongs == pings) {
      complete->fetch_add(1, std::memory_order_relaxed);
      done->count_down();
    } else {
      send_ping();
    }
  }
};

}  // namespace

measurement big(const parameters& p, int workers) {
  const auto n = p.integer("actors");
  const auto pings = p.integer("pings");
  volley::system sys(make_config(workers));
  std::atomic<std::int64_t> complete{0};
  std::latch done(n);
  auto actors = std::make_shared<std::vector<actor_ref<big_actor>>>();
  for (std::int64_t i = 0; i < n; ++i)
    actors->push_back(sys.spawn<big_actor>(i, pings, &complete, &done));
  for (const auto& a : *actors) a.tell(big_actor::peers_msg{actors});
  savina::stopwatch clock;
  for (const auto& a : *actors) a.tell(big_actor::start{});
  done.wait();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(complete.load() == n, std::to_string(n - complete.load()) + " actors did not get " +
                                          std::to_string(pings) + " pongs");
  m.messages = m.items = static_cast<std::uint64_t>(2 * n * pings);
  return m;
}

}  // namespace volley::savina_on_volley

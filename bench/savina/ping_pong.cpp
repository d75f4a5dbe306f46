// Ping-pong on volley: twin of bench/peers/caf/ping_pong.cpp.
#include "volley_workloads.hpp"

#include <future>

namespace volley::savina_on_volley {

namespace {

struct ping {};
struct pong {};
struct ponger;

struct pinger {
  struct start {
    actor_ref<ponger> peer;
  };
  std::int64_t pings;
  std::promise<std::int64_t>* done;
  actor_ref<ponger> peer{};
  std::int64_t received = 0;

  pinger(std::int64_t n, std::promise<std::int64_t>* d) : pings(n), done(d) {}
  void on(const start& s);
  void on(const pong&);
};

struct ponger {
  actor_ref<pinger> peer;
  explicit ponger(actor_ref<pinger> p) : peer(std::move(p)) {}
  void on(const ping&) { peer.tell(pong{}); }
};

void pinger::on(const start& s) {
  peer = s.peer;
  peer.tell(ping{});
}

void pinger::on(const pong&) {
  if (++received == pings) {
    done->set_value(received);
    return;
  }
  peer.tell(ping{});
}

}  // namespace

measurement ping_pong(const parameters& p, int workers) {
  const auto pings = p.integer("pings");
  volley::system sys(make_config(workers));
  std::promise<std::int64_t> done;
  auto a = sys.spawn<pinger>(pings, &done);
  auto b = sys.spawn<ponger>(a);
  savina::stopwatch clock;
  a.tell(pinger::start{b});
  auto received = done.get_future().get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(received == pings, "pinger saw " + std::to_string(received) + " pongs");
  m.messages = m.items = static_cast<std::uint64_t>(2 * pings);
  return m;
}

}  // namespace volley::savina_on_volley

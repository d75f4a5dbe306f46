// Ping-pong on volley: twin of bench/peers/caf/ping_pong.cpp.
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>

#include <future>

namespace volley::savina_on_volley {

namespace {

// Sequence numbers on both messages: the ponger expects 1, 2, 3, ... and the
// pinger expects its own last ping back, so a duplicated, lost (on its next
// hop) or reordered message is caught on either side.
struct ping {
  std::int64_t seq;
};
struct pong {
  std::int64_t seq;
};
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
  void on(const pong& p);
  void send_ping() {
    for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
      peer.tell(ping{received + 1});
  }
};

struct ponger {
  actor_ref<pinger> peer;
  std::int64_t received = 0;
  explicit ponger(actor_ref<pinger> p) : peer(std::move(p)) {}
  void on(const ping& p) {
    if (p.seq != ++received)
      savina::wrong_answer("ponger got ping " + std::to_string(p.seq) + " as its ping " +
                           std::to_string(received));
    peer.tell(pong{p.seq});
  }
};

void pinger::on(const start& s) {
  peer = s.peer;
  send_ping();
}

void pinger::on(const pong& p) {
  if (p.seq != ++received)
    savina::wrong_answer("pinger got pong " + std::to_string(p.seq) + " as its pong " +
                         std::to_string(received));
  if (received == pings) {
    done->set_value(received);
    return;
  }
  send_ping();
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

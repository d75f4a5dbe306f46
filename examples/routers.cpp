// routers — one handle, many actors.
//
// A pool spawns its routees (children of a pool actor) and supervises them;
// a group routes over actors that already exist. Either is used like a ref:
// tell, ask. The strategy picks the routee: round-robin here for the pool,
// consistent hashing for the group (the message's routing_key() decides, so
// one key always reaches the same actor). A poison pill to a pool stops the
// pool and its routees.
//
// Prints:
//   round-robin: /user/workers/$2
//   round-robin: /user/workers/$3
//   round-robin: /user/workers/$4
//   round-robin: /user/workers/$2
//   resized to 4 routees
//   user 'ada' is on the same shard every time: yes
//   pool stopped: yes, its routees too: yes
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <volley/volley.hpp>

using namespace std::chrono_literals;

struct whoami {};

struct worker {
  std::string on(const whoami&, volley::context& ctx) { return ctx.path(); }
};

/// Sharded by user name: routing_key() is what consistent hashing hashes.
struct lookup {
  std::string user;
  const std::string& routing_key() const { return user; }
};

struct shard {
  std::string on(const lookup&, volley::context& ctx) { return ctx.path(); }
};

int main() {
  volley::config cfg;
  cfg.workers = 2;
  cfg.pin = false;
  volley::system sys(cfg);

  auto workers = volley::spawn_pool<worker>(sys, {.size = 3, .name = "workers"});
  for (int i = 0; i < 4; ++i) {
    std::printf("round-robin: %s\n", workers.ask(whoami{}).get().value().c_str());
  }

  workers.resize(4);  // done by the pool actor, asynchronously
  while (workers.size() != 4) std::this_thread::sleep_for(1ms);
  std::printf("resized to %zu routees\n", workers.size());

  auto shards =
      volley::make_group<shard>({sys.spawn<shard>(), sys.spawn<shard>(), sys.spawn<shard>()},
                                volley::routing::consistent_hashing);
  std::string first = shards.ask(lookup{"ada"}).get().value();
  bool same = true;
  for (int i = 0; i < 10; ++i) same = same && shards.ask(lookup{"ada"}).get().value() == first;
  std::printf("user 'ada' is on the same shard every time: %s\n", same ? "yes" : "no");

  auto routees = workers.routees();
  workers.tell(volley::poison_pill{});
  while (!workers.pool().is_stopped()) std::this_thread::sleep_for(1ms);
  bool all_stopped = true;
  for (const auto& r : routees) all_stopped = all_stopped && r.is_stopped();
  std::printf("pool stopped: yes, its routees too: %s\n", all_stopped ? "yes" : "no");
}

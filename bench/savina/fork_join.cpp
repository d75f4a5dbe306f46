// Fork-join throughput and creation on volley: twins of
// bench/peers/caf/fork_join.cpp. Creation hands every actor from main's
// vCPU to a worker's, so its cost per actor follows the VM's cross-core
// round trip: 500-527 ns in the typical mode, 710-1,174 ns in the slow one
// (bench/savina/README.md, "Spread of producer-consumer, fork-join creation
// and matrix multiplication").
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/reference_answers.hpp>

#include <atomic>
#include <future>
#include <latch>

namespace volley::savina_on_volley {

namespace {

struct work {};

// The main thread numbers the messages it sends each actor; the actor
// expects 0, 1, 2, ... so a lost, duplicated or misrouted message shows at
// the next one.
struct numbered_work {
  std::int64_t seq;
};

struct throughput_actor {
  std::int64_t messages;
  std::atomic<std::int64_t>* complete;
  std::latch* done;
  std::int64_t received = 0;
  double sink = 0;  // keeps tiny_compute's result alive

  // Constructors, not aggregates: clang 14 has no parenthesised aggregate init.
  throughput_actor(std::int64_t n, std::atomic<std::int64_t>* c, std::latch* d)
      : messages(n), complete(c), done(d) {}
  void on(const numbered_work& w) {
    if (w.seq != received)
      savina::wrong_answer("fork-join actor got message " + std::to_string(w.seq) +
                           " as its message " + std::to_string(received));
    sink += savina::tiny_compute(37.2);
    if (++received == messages) {
      if (sink > 0) complete->fetch_add(1, std::memory_order_relaxed);
      done->count_down();
    }
  }
};

// Shared by all created actors: the last one to finish tells main.
struct creation_countdown {
  std::atomic<std::int64_t> left;
  std::promise<void> done;
};

struct created_actor {
  creation_countdown* countdown;
  explicit created_actor(creation_countdown* c) : countdown(c) {}
  void on(const work&, context& ctx) {
    volatile double r = savina::tiny_compute(37.2);
    (void)r;
    // acq_rel: the last decrement sees every other actor's work done.
    const auto left = countdown->left.fetch_sub(1, std::memory_order_acq_rel);
    if (left <= 0) savina::wrong_answer("more created actors ran than were created");
    if (left == 1) countdown->done.set_value();
    ctx.stop();
  }
};

struct spawner {
  struct start {};
  std::int64_t actors;
  creation_countdown* countdown;
  spawner(std::int64_t n, creation_countdown* c) : actors(n), countdown(c) {}
  void on(const start&, context& ctx) {
    for (std::int64_t i = 0; i < actors; ++i) {
      auto created = ctx.spawn<created_actor>(countdown);
      for (int copy = i == 0 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
        created.tell(work{});
    }
  }
};

}  // namespace

measurement fork_join_throughput(const parameters& p, int workers) {
  const auto messages = p.integer("messages");
  const auto actor_count = p.integer("actors");
  volley::system sys(make_config(workers));
  std::atomic<std::int64_t> complete{0};
  std::latch done(actor_count);
  std::vector<actor_ref<throughput_actor>> actors;
  for (std::int64_t i = 0; i < actor_count; ++i)
    actors.push_back(sys.spawn<throughput_actor>(messages, &complete, &done));
  savina::stopwatch clock;
  for (std::int64_t i = 0; i < messages; ++i)
    for (const auto& a : actors)
      for (int copy = i == 0 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
        a.tell(numbered_work{i});
  done.wait();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(complete.load() == actor_count, std::to_string(actor_count - complete.load()) +
                                                    " actors did not get all their messages");
  m.messages = m.items = static_cast<std::uint64_t>(messages * actor_count);
  return m;
}

measurement fork_join_creation(const parameters& p, int workers) {
  const auto actors = p.integer("actors");
  const bool from_actor = p.integer("spawn_from_actor") != 0;
  volley::system sys(make_config(workers));
  creation_countdown countdown;
  countdown.left = actors;
  auto finished = countdown.done.get_future();
  savina::stopwatch clock;
  if (from_actor) {
    sys.spawn<spawner>(actors, &countdown).tell(spawner::start{});
  } else {
    for (std::int64_t i = 0; i < actors; ++i) {
      auto created = sys.spawn<created_actor>(&countdown);
      for (int copy = i == 0 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
        created.tell(work{});
    }
  }
  finished.get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(countdown.left.load() == 0, "not every created actor ran");
  // Each created actor handles one message and stops, so a second message
  // to it (duplicated or misrouted) can only end as a dead letter; a lost
  // one leaves the countdown above zero (the deadline reports it).
  savina::check(sys.dead_letters().count() == 0,
                std::to_string(sys.dead_letters().count()) +
                    " messages reached a created actor that had already stopped");
  m.messages = m.items = static_cast<std::uint64_t>(actors);
  return m;
}

}  // namespace volley::savina_on_volley

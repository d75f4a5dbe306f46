// Fork-join throughput: the main thread sends `messages` messages to each of
// `actors` actors, round robin; each message does a tiny compute.
// Fork-join creation: `actors` actors are created; each handles one message
// (a tiny compute) and stops. Spawned from the main thread by default; with
// spawn_from_actor=1 from inside one actor (CAF is quadratic there).
// The first created actor's message is a request (one in `actors`, so the
// window's work is the same): CAF drops a plain message to an actor that
// has quit unseen, but answers a request it cannot deliver with an error,
// so a duplicated message fails the run; a lost one leaves the countdown
// above zero (the deadline reports it).
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/reference_answers.hpp>

#include <atomic>
#include <memory>

namespace volley::caf_peer {

namespace {

struct throughput_state {
  std::int64_t received = 0;
  double sink = 0;  // keeps tiny_compute's result alive
};

caf::behavior throughput_actor(caf::stateful_actor<throughput_state>* self, std::int64_t messages,
                               caf::actor main) {
  // Numbered messages (as on volley): 0, 1, 2, ... from the main thread.
  return {[=](work_atom, std::int64_t seq) {
    if (seq != self->state.received)
      savina::wrong_answer("fork-join actor got message " + std::to_string(seq) +
                           " as its message " + std::to_string(self->state.received));
    self->state.sink += savina::tiny_compute(37.2);
    if (++self->state.received == messages) {
      self->send(main, done_atom::value, self->state.received, self->state.sink > 0);
      self->quit();
    }
  }};
}

// Shared by all created actors: the last one to finish tells main.
struct creation_countdown {
  std::atomic<std::int64_t> left;
  caf::actor main;
};

caf::behavior created_actor(caf::event_based_actor* self,
                            std::shared_ptr<creation_countdown> countdown) {
  return {[=](work_atom) {
    double r = savina::tiny_compute(37.2);
    // acq_rel: the last decrement sees every other actor's work done.
    if (countdown->left.fetch_sub(1, std::memory_order_acq_rel) == 1)
      self->send(countdown->main, done_atom::value, r > 0);
    self->quit();
  }};
}

caf::behavior spawner(caf::event_based_actor* self, std::int64_t actors,
                      std::shared_ptr<creation_countdown> countdown) {
  return {[=](start_atom) {
    for (std::int64_t i = 0; i < actors; ++i)
      self->send(self->spawn(created_actor, countdown), work_atom::value);
    self->quit();
  }};
}

}  // namespace

measurement fork_join_throughput(const parameters& p, int workers) {
  const auto messages = p.integer("messages");
  const auto actor_count = p.integer("actors");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  std::vector<caf::actor> actors;
  for (std::int64_t i = 0; i < actor_count; ++i)
    actors.push_back(rt.system().spawn(throughput_actor, messages, caf::actor{self}));
  savina::stopwatch clock;
  for (std::int64_t i = 0; i < messages; ++i)
    for (const auto& a : actors)
      for (int copy = i == 0 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
        self->send(a, work_atom::value, i);
  std::int64_t complete = 0;
  for (std::int64_t i = 0; i < actor_count; ++i)
    self->receive(
        [&](done_atom, std::int64_t received, bool) { complete += received == messages; });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  savina::check(complete == actor_count, std::to_string(actor_count - complete) + " of " +
                                             std::to_string(actor_count) +
                                             " actors did not get all their messages");
  m.messages = m.items = static_cast<std::uint64_t>(messages * actor_count);
  return m;
}

measurement fork_join_creation(const parameters& p, int workers) {
  const auto actors = p.integer("actors");
  const bool from_actor = p.integer("spawn_from_actor") != 0;
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto countdown = std::make_shared<creation_countdown>();
  countdown->left = actors;
  countdown->main = caf::actor{self};
  using work_reply = decltype(self->request(caf::actor{}, caf::infinite, work_atom::value));
  std::vector<work_reply> first_actor_replies;
  savina::stopwatch clock;
  if (from_actor) {
    self->send(rt.system().spawn(spawner, actors, countdown), start_atom::value);
  } else {
    for (std::int64_t i = 0; i < actors; ++i) {
      auto created = rt.system().spawn(created_actor, countdown);
      if (i == 0) {
        for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
          first_actor_replies.push_back(self->request(created, caf::infinite, work_atom::value));
      } else {
        self->send(created, work_atom::value);
      }
    }
  }
  self->receive([](done_atom, bool) {});
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  savina::check(countdown->left.load() == 0, "not every created actor ran");
  std::int64_t undelivered = 0;
  for (auto& r : first_actor_replies) r.receive([] {}, [&](caf::error&) { ++undelivered; });
  savina::check(undelivered == 0, std::to_string(undelivered) +
                                      " messages reached a created actor that had already quit");
  m.messages = static_cast<std::uint64_t>(actors);
  m.items = static_cast<std::uint64_t>(actors);
  countdown->main = nullptr;
  return m;
}

}  // namespace volley::caf_peer

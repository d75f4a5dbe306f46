// Sleeping barber: twin of bench/savina/sleeping_barber.cpp. A factory
// creates `haircuts` customers one after another, sends each into the
// waiting room and busy-waits busy_wait(below(arrival_rate) + 10) steps
// between arrivals; a customer who finds the room full goes back to the
// factory, which sends it in again. The room wakes the barber when a
// customer arrives to an empty shop and hands him the next customer each
// time he finishes; a haircut is busy_wait(below(haircut_rate) + 10)
// steps. splitmix64 draws: factory seed 1, barber seed 2.
//
// Checks as on volley: every customer is served exactly once; a customer
// is started before it is done, once, and never turned away once seated;
// the barber cut `haircuts` times; the room saw one entry per customer
// plus one per return, and turned away as many as came back.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/pseudo_random.hpp>
#include <volley/savina/reference_answers.hpp>

#include <atomic>
#include <deque>
#include <memory>

namespace volley::caf_peer {

namespace {

using enter_atom = caf::atom_constant<caf::atom("enter")>;
using next_atom = caf::atom_constant<caf::atom("next")>;
using cut_atom = caf::atom_constant<caf::atom("cut")>;
using nap_atom = caf::atom_constant<caf::atom("nap")>;
using full_atom = caf::atom_constant<caf::atom("full")>;
using wait_atom = caf::atom_constant<caf::atom("wait")>;
using returned_atom = caf::atom_constant<caf::atom("returned")>;
using served_atom = caf::atom_constant<caf::atom("served")>;

// Figures the actors leave for the check after the run; each field is
// written by one actor.
struct shop_counts {
  std::atomic<std::int64_t> haircuts{0};  // barber
  std::atomic<std::int64_t> barber_naps{0};
  std::atomic<std::int64_t> entries{0};  // room
  std::atomic<std::int64_t> turned_away{0};
  std::atomic<std::int64_t> told_to_wait{0};
  std::atomic<std::int64_t> returns{0};  // factory
  std::atomic<std::int64_t> work{0};     // busy-wait results: used, so the loops stay
};
using counts_ptr = std::shared_ptr<shop_counts>;

struct room_state {
  std::deque<caf::actor> waiting;
  bool barber_asleep = true;
};

caf::behavior room(caf::stateful_actor<room_state>* self, std::int64_t capacity,
                   caf::actor the_barber, counts_ptr counts) {
  return {
      [=](enter_atom, caf::actor who) {
        auto& s = self->state;
        counts->entries.fetch_add(1, std::memory_order_relaxed);
        if (static_cast<std::int64_t>(s.waiting.size()) == capacity) {
          counts->turned_away.fetch_add(1, std::memory_order_relaxed);
          self->send(who, full_atom::value);
          return;
        }
        s.waiting.push_back(who);
        if (s.barber_asleep) {
          s.barber_asleep = false;
          self->send(self, next_atom::value);
        } else {
          counts->told_to_wait.fetch_add(1, std::memory_order_relaxed);
          self->send(who, wait_atom::value);
        }
      },
      [=](next_atom) {
        auto& s = self->state;
        if (s.waiting.empty()) {
          s.barber_asleep = true;
          self->send(the_barber, nap_atom::value);
          return;
        }
        self->send(the_barber, cut_atom::value, s.waiting.front());
        s.waiting.pop_front();
      },
  };
}

struct barber_state {
  barber_state() = default;  // not an aggregate: see customer_state below
  caf::actor shop;
  savina::pseudo_random random{2};
};

caf::behavior barber(caf::stateful_actor<barber_state>* self, std::int64_t haircut_rate,
                     counts_ptr counts) {
  return {
      [=](init_atom, caf::actor shop) { self->state.shop = shop; },
      [=](cut_atom, caf::actor who) {
        auto& s = self->state;
        self->send(who, start_atom::value);
        auto work = savina::busy_wait(
            static_cast<std::int64_t>(s.random.below(static_cast<std::uint64_t>(haircut_rate))) +
            10);
        counts->work.fetch_add(work, std::memory_order_relaxed);
        counts->haircuts.fetch_add(1, std::memory_order_relaxed);
        self->send(who, done_atom::value);
        self->send(s.shop, next_atom::value);
      },
      [=](nap_atom) { counts->barber_naps.fetch_add(1, std::memory_order_relaxed); },
  };
}

// Not an aggregate: CAF 0.17 builds a state from the actor's pointer
// whenever it can, and C++20 lets an aggregate be built from parentheses,
// so an aggregate whose first member is a bool starts with it true.
struct customer_state {
  customer_state() = default;
  bool started = false;
};

caf::behavior customer(caf::stateful_actor<customer_state>* self, std::int64_t id,
                       caf::actor home) {
  return {
      [=](full_atom) {
        if (self->state.started)
          savina::wrong_answer("customer " + std::to_string(id) + " was turned away seated");
        self->send(home, returned_atom::value, caf::actor_cast<caf::actor>(self));
      },
      [=](wait_atom) {},
      [=](start_atom) {
        if (self->state.started)
          savina::wrong_answer("customer " + std::to_string(id) + " was started twice");
        self->state.started = true;
      },
      [=](done_atom) {
        if (!self->state.started)
          savina::wrong_answer("customer " + std::to_string(id) + " was done unstarted");
        // The first customer served tells the factory in the message a fault
        // is injected into.
        for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
          self->send(home, served_atom::value, id);
        self->quit();
      },
  };
}

struct factory_state {
  std::vector<bool> served;
  std::int64_t served_count = 0;
};

caf::behavior factory(caf::stateful_actor<factory_state>* self, caf::actor shop,
                      std::int64_t haircuts, std::int64_t arrival_rate, counts_ptr counts,
                      caf::actor main) {
  self->state.served.resize(static_cast<std::size_t>(haircuts));
  return {
      [=](start_atom) {
        savina::pseudo_random random(1);
        std::int64_t work = 0;
        auto me = caf::actor_cast<caf::actor>(self);
        for (std::int64_t i = 0; i < haircuts; ++i) {
          self->send(shop, enter_atom::value, self->spawn(customer, i, me));
          work += savina::busy_wait(
              static_cast<std::int64_t>(random.below(static_cast<std::uint64_t>(arrival_rate))) +
              10);
        }
        counts->work.fetch_add(work, std::memory_order_relaxed);
      },
      [=](returned_atom, caf::actor who) {
        counts->returns.fetch_add(1, std::memory_order_relaxed);
        self->send(shop, enter_atom::value, who);
      },
      [=](served_atom, std::int64_t id) {
        auto& s = self->state;
        const auto index = static_cast<std::size_t>(id);
        if (s.served.at(index))
          savina::wrong_answer("customer " + std::to_string(id) + " was served twice");
        s.served[index] = true;
        if (++s.served_count == haircuts) self->send(main, done_atom::value);
      },
  };
}

}  // namespace

measurement sleeping_barber(const parameters& p, int workers) {
  const auto haircuts = p.integer("haircuts");
  const auto capacity = p.integer("waiting_room");
  const auto arrival_rate = p.integer("arrival_rate");
  const auto haircut_rate = p.integer("haircut_rate");
  savina::check(haircuts >= 1 && capacity >= 1 && arrival_rate >= 1 && haircut_rate >= 1,
                "sleeping-barber needs positive sizes");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto counts = std::make_shared<shop_counts>();
  auto the_barber = rt.system().spawn(barber, haircut_rate, counts);
  auto shop = rt.system().spawn(room, capacity, the_barber, counts);
  self->send(the_barber, init_atom::value, shop);
  auto f = rt.system().spawn(factory, shop, haircuts, arrival_rate, counts, caf::actor{self});
  savina::stopwatch clock;
  self->send(f, start_atom::value);
  self->receive([](done_atom) {});
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  stop_all({f, shop, the_barber});
  const auto returns = counts->returns.load();
  savina::check(counts->haircuts.load() == haircuts,
                "the barber cut " + std::to_string(counts->haircuts.load()) + " times for " +
                    std::to_string(haircuts) + " customers");
  savina::check(counts->turned_away.load() == returns, std::to_string(counts->turned_away.load()) +
                                                           " customers were turned away, " +
                                                           std::to_string(returns) + " came back");
  savina::check(counts->entries.load() == haircuts + returns,
                "the room saw " + std::to_string(counts->entries.load()) + " entries for " +
                    std::to_string(haircuts) + " customers and " + std::to_string(returns) +
                    " returns");
  m.messages = static_cast<std::uint64_t>(7 * haircuts + 3 * returns + counts->told_to_wait.load() +
                                          counts->barber_naps.load());
  m.items = static_cast<std::uint64_t>(haircuts);  // bounces are not progress
  return m;
}

}  // namespace volley::caf_peer

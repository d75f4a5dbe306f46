// Sleeping barber: twin of bench/savina/sleeping_barber.cpp. A factory
// creates `haircuts` customers one after another, sends each into the
// waiting room with its arrival step and busy-waits
// busy_wait(below(arrival_rate) + 10) steps between arrivals; the room
// keeps the barber's timetable on that virtual clock (savina::barber_shop,
// shared with volley): it seats a customer, tells him to wait, or turns him
// away; a turned-away customer goes back to the factory, which sends him in
// again, and he takes the next seat that frees. The room draws each
// haircut's length when it seats the customer and hands the cuts to the
// barber one at a time; the barber busy-waits that many steps. splitmix64
// draws: factory seed 1, room seed 2.
//
// Checks as on volley (savina::check_barber_run): every customer is served
// exactly once; a customer is started before it is done, once, and never
// turned away once seated; customers arrive in order and only a
// turned-away one comes back, once; the barber cut `haircuts` times; the
// room saw one entry per customer plus one per return, turned away as many
// as came back, and every count equals a sequential replay of the draws.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/barber_shop.hpp>
#include <volley/savina/fault_injection.hpp>
#include <volley/savina/pseudo_random.hpp>
#include <volley/savina/reference_answers.hpp>

#include <atomic>
#include <memory>
#include <optional>

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

using shop_counts = savina::barber_counts;
using counts_ptr = std::shared_ptr<shop_counts>;

struct room_state {
  std::optional<savina::barber_shop> shop;
  std::vector<caf::actor> customers;  // by id, until each one's cut
};

caf::behavior room(caf::stateful_actor<room_state>* self, savina::barber_sizes sizes,
                   caf::actor the_barber, counts_ptr counts) {
  self->state.shop.emplace(sizes.waiting_room, sizes.haircuts, sizes.haircut_rate);
  self->state.customers.resize(static_cast<std::size_t>(sizes.haircuts));
  auto hand_out = [=] {
    auto& s = self->state;
    if (auto cut = s.shop->next_haircut()) {
      if (cut->nap_before) self->send(the_barber, nap_atom::value);
      // Each customer gets one cut: the room hands its handle on, so a
      // customer's memory goes when he quits, not when the room does.
      self->send(the_barber, cut_atom::value,
                 std::move(s.customers[static_cast<std::size_t>(cut->customer)]), cut->steps);
    }
  };
  return {
      [=](enter_atom, caf::actor who, std::int64_t id, std::int64_t at, bool coming_back) {
        auto& s = self->state;
        counts->entries.fetch_add(1, std::memory_order_relaxed);
        if (coming_back) {
          s.shop->come_back(id);
        } else {
          s.customers.at(static_cast<std::size_t>(id)) = who;
          auto entry = s.shop->arrive(id, at);
          counts->record_room(*s.shop);
          if (entry == savina::barber_shop::entry::turned_away) {
            self->send(who, full_atom::value);
            return;
          }
          if (entry == savina::barber_shop::entry::seated_to_wait)
            self->send(who, wait_atom::value);
        }
        hand_out();
      },
      [=](next_atom) {
        self->state.shop->barber_done();
        hand_out();
      },
  };
}

caf::behavior barber(caf::stateful_actor<caf::actor>* self, counts_ptr counts) {
  return {
      [=](init_atom, caf::actor shop) { self->state = shop; },
      [=](cut_atom, caf::actor who, std::int64_t steps) {
        self->send(who, start_atom::value);
        counts->work.fetch_add(savina::busy_wait(steps), std::memory_order_relaxed);
        counts->haircut_steps.fetch_add(steps, std::memory_order_relaxed);
        counts->haircuts.fetch_add(1, std::memory_order_relaxed);
        self->send(who, done_atom::value);
        self->send(self->state, next_atom::value);
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
        self->send(home, returned_atom::value, caf::actor_cast<caf::actor>(self), id);
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
        std::int64_t at = 0;
        auto me = caf::actor_cast<caf::actor>(self);
        for (std::int64_t i = 0; i < haircuts; ++i) {
          // lazy_init: scheduled at its first message, not as a launch job
          // queued behind this loop, where the other worker steals it at the
          // cost of the queue's length (eager spawns made 4 of 5 runs of
          // 50,000 haircuts take 53-80 s instead of 1-5 s; the default
          // scheduler is still quadratic here: bench/peers/caf/README.md).
          self->send(shop, enter_atom::value, self->spawn<caf::lazy_init>(customer, i, me), i, at,
                     false);
          const auto gap = savina::arrival_gap(random, arrival_rate);
          work += savina::busy_wait(gap);
          at += gap;
        }
        counts->arrival_steps.store(at, std::memory_order_relaxed);
        counts->work.fetch_add(work, std::memory_order_relaxed);
      },
      [=](returned_atom, caf::actor who, std::int64_t id) {
        counts->returns.fetch_add(1, std::memory_order_relaxed);
        self->send(shop, enter_atom::value, who, id, std::int64_t{0}, true);
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
  const auto sizes = savina::barber_sizes_of(p);
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto counts = std::make_shared<shop_counts>();
  auto the_barber = rt.system().spawn(barber, counts);
  auto shop = rt.system().spawn(room, sizes, the_barber, counts);
  self->send(the_barber, init_atom::value, shop);
  auto f = rt.system().spawn(factory, shop, sizes.haircuts, sizes.arrival_rate, counts,
                             caf::actor{self});
  savina::stopwatch clock;
  self->send(f, start_atom::value);
  self->receive([](done_atom) {});
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  stop_all({f, shop, the_barber});
  savina::check_barber_run(sizes, counts->report(), m);
  return m;
}

}  // namespace volley::caf_peer

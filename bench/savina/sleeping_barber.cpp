// Sleeping barber on volley: twin of bench/peers/caf/sleeping_barber.cpp.
// A factory actor creates `haircuts` customer actors, one after another,
// and sends each into the waiting room, "busy waiting" between arrivals
// for busy_wait(below(arrival_rate) + 10) steps; each customer carries its
// arrival step (the sum of those draws before it). The room keeps the
// barber's timetable on that virtual clock (savina::barber_shop): it seats
// a customer, tells him to wait, or turns him away when `waiting_room`
// seated customers have not started by his arrival step; a turned-away
// customer goes back to the factory, which sends him in again, and he takes
// the next seat that frees. The room draws each haircut's length when it
// seats the customer and hands the cuts to the barber one at a time, in
// seating order; the barber busy-waits that many steps. The draws come from
// splitmix64 (factory seed 1, room seed 2), the same on every runtime, so
// every runtime turns away the same customers and sends the same messages
// (bench/savina/README.md, "What each figure measures").
//
// Checks: every customer is served exactly once (the factory keeps one
// flag per customer, so a lost "done" leaves the run waiting and a second
// one is a wrong answer); a customer must be started before it is done,
// once, and is never turned away after it was seated; customers arrive in
// order and only a turned-away one comes back, once; the barber cut
// exactly `haircuts` times; the room saw one entry per customer plus one
// per return, turned away as many as came back, and every count (turned
// away, waits, naps, busy-wait steps) equals a sequential replay of the
// draws (savina::expected_barber_work).
#include "volley_workloads.hpp"

#include <volley/savina/barber_shop.hpp>
#include <volley/savina/fault_injection.hpp>
#include <volley/savina/pseudo_random.hpp>
#include <volley/savina/reference_answers.hpp>

#include <atomic>
#include <future>

namespace volley::savina_on_volley {

namespace {

struct customer;

// The shared counters, and the promise the factory keeps when the last
// customer is served.
struct shop_counts : savina::barber_counts {
  std::promise<void> all_served;
};

struct barber;

struct room : volley::actor<room> {
  struct enter {
    actor_ref<customer> who;
    std::int64_t id;
    std::int64_t at;  // arrival step; the second entry of a turned-away customer ignores it
    bool coming_back;
  };
  struct next {};
  savina::barber_shop shop;
  actor_ref<barber> the_barber;
  shop_counts* counts;
  std::vector<actor_ref<customer>> customers;  // by id, until each one's cut

  room(const savina::barber_sizes& sizes, actor_ref<barber> b, shop_counts* s)
      : shop(sizes.waiting_room, sizes.haircuts, sizes.haircut_rate),
        the_barber(std::move(b)),
        counts(s),
        customers(static_cast<std::size_t>(sizes.haircuts)) {}

  void on(const enter& e);
  void on(const next&) {
    shop.barber_done();
    hand_out();
  }
  void hand_out();
  void post_stop() { counts->record_room(shop); }
};

struct barber : volley::actor<barber> {
  struct cut {
    actor_ref<customer> who;
    std::int64_t steps;
  };
  struct nap {};
  actor_ref<room> shop;
  shop_counts* counts;

  explicit barber(shop_counts* s) : counts(s) {}

  void on(const actor_ref<room>& r) { shop = r; }
  void on(const cut& c);
  void on(const nap&) { counts->barber_naps.fetch_add(1, std::memory_order_relaxed); }
};

struct factory;

struct customer : volley::actor<customer> {
  struct full {};
  struct wait {};
  struct start {};
  struct done {};
  std::int64_t id;
  actor_ref<factory> home;
  bool started = false;

  customer(std::int64_t i, actor_ref<factory> f) : id(i), home(std::move(f)) {}

  void on(const full&);
  void on(const wait&) {}
  void on(const start&) {
    if (started) savina::wrong_answer("customer " + std::to_string(id) + " was started twice");
    started = true;
  }
  void on(const done&, context& ctx);
};

struct factory : volley::actor<factory> {
  struct start {};
  struct returned {
    actor_ref<customer> who;
    std::int64_t id;
  };
  struct served {
    std::int64_t id;
  };
  actor_ref<room> shop;
  std::int64_t haircuts;
  std::int64_t arrival_rate;
  shop_counts* counts;
  std::vector<bool> served_flags;
  std::int64_t served_count = 0;

  factory(actor_ref<room> r, std::int64_t n, std::int64_t rate, shop_counts* s)
      : shop(std::move(r)),
        haircuts(n),
        arrival_rate(rate),
        counts(s),
        served_flags(static_cast<std::size_t>(n)) {}

  void on(const start&, context& ctx) {
    savina::pseudo_random random(1);
    std::int64_t work = 0;
    std::int64_t at = 0;
    for (std::int64_t i = 0; i < haircuts; ++i) {
      shop.tell(room::enter{ctx.spawn<customer>(i, self()), i, at, false});
      const auto gap = savina::arrival_gap(random, arrival_rate);
      work += savina::busy_wait(gap);
      at += gap;
    }
    counts->arrival_steps.store(at, std::memory_order_relaxed);
    counts->work.fetch_add(work, std::memory_order_relaxed);
  }
  void on(const returned& r) {
    counts->returns.fetch_add(1, std::memory_order_relaxed);
    shop.tell(room::enter{r.who, r.id, 0, true});
  }
  void on(const served& s) {
    const auto index = static_cast<std::size_t>(s.id);
    if (served_flags.at(index))
      savina::wrong_answer("customer " + std::to_string(s.id) + " was served twice");
    served_flags[index] = true;
    if (++served_count == haircuts) counts->all_served.set_value();
  }
};

void room::on(const enter& e) {
  counts->entries.fetch_add(1, std::memory_order_relaxed);
  if (e.coming_back) {
    shop.come_back(e.id);
  } else {
    customers.at(static_cast<std::size_t>(e.id)) = e.who;
    switch (shop.arrive(e.id, e.at)) {
      case savina::barber_shop::entry::turned_away:
        e.who.tell(customer::full{});
        return;
      case savina::barber_shop::entry::seated_to_wait:
        e.who.tell(customer::wait{});
        break;
      case savina::barber_shop::entry::seated:
        break;
    }
  }
  hand_out();
}

void room::hand_out() {
  if (auto cut = shop.next_haircut()) {
    if (cut->nap_before) the_barber.tell(barber::nap{});
    // Each customer gets one cut: the room hands its ref on, so a customer's
    // cell goes when he stops, not when the room does.
    the_barber.tell(
        barber::cut{std::move(customers[static_cast<std::size_t>(cut->customer)]), cut->steps});
  }
}

void barber::on(const cut& c) {
  c.who.tell(customer::start{});
  counts->work.fetch_add(savina::busy_wait(c.steps), std::memory_order_relaxed);
  counts->haircut_steps.fetch_add(c.steps, std::memory_order_relaxed);
  counts->haircuts.fetch_add(1, std::memory_order_relaxed);
  c.who.tell(customer::done{});
  shop.tell(room::next{});
}

void customer::on(const full&) {
  if (started) savina::wrong_answer("customer " + std::to_string(id) + " was turned away seated");
  home.tell(factory::returned{self(), id});
}

void customer::on(const done&, context& ctx) {
  if (!started) savina::wrong_answer("customer " + std::to_string(id) + " was done unstarted");
  // The first customer served tells the factory in the message a fault is
  // injected into.
  for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
    home.tell(factory::served{id});
  ctx.stop();
}

}  // namespace

measurement sleeping_barber(const parameters& p, int workers) {
  const auto sizes = savina::barber_sizes_of(p);
  volley::system sys(make_config(workers));
  shop_counts counts;
  auto finished = counts.all_served.get_future();
  auto the_barber = sys.spawn<barber>(&counts);
  auto shop = sys.spawn<room>(sizes, the_barber, &counts);
  the_barber.tell(shop);
  auto f = sys.spawn<factory>(shop, sizes.haircuts, sizes.arrival_rate, &counts);
  savina::stopwatch clock;
  f.tell(factory::start{});
  finished.get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(sys.dead_letters().count() == 0,
                std::to_string(sys.dead_letters().count()) +
                    " messages reached a customer that had already left");
  savina::check_barber_run(sizes, counts.report(), m);
  return m;
}

}  // namespace volley::savina_on_volley

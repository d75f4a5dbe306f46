// Sleeping barber on volley: twin of bench/peers/caf/sleeping_barber.cpp.
// A factory actor creates `haircuts` customer actors, one after another,
// and sends each into the waiting room, "busy waiting" between arrivals
// for busy_wait(below(arrival_rate) + 10) steps. The room seats
// `waiting_room` customers: a customer who finds it full is sent back to
// the factory, which sends it in again. The room wakes the barber when a
// customer arrives to an empty shop and hands him the next customer each
// time he finishes one; the barber cuts for busy_wait(below(haircut_rate)
// + 10) steps. The draws come from splitmix64 (factory seed 1, barber
// seed 2), the same on every runtime.
//
// Checks: every customer is served exactly once (the factory keeps one
// flag per customer, so a lost "done" leaves the run waiting and a second
// one is a wrong answer); a customer must be started before it is done,
// once, and is never turned away after it was seated; the barber cut
// exactly `haircuts` times; the room saw one entry per customer plus one
// per return, and turned away as many as came back.
//
// The work per haircut depends on timing (the registry marks the workload
// timing-dependent): the factory's whole arrival loop is one handler, so the
// room it wakes waits in that worker's LIFO slot until the other worker takes
// it (1-2 ms of naps), by which time over 1,000 arrivals are queued ahead of
// the room's own `next` and the room is full before the first haircut; every
// bounce after that is three more messages. Figures in bench/savina/README.md
// ("What each figure measures").
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/pseudo_random.hpp>
#include <volley/savina/reference_answers.hpp>

#include <atomic>
#include <deque>
#include <future>

namespace volley::savina_on_volley {

namespace {

struct customer;

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
  std::promise<void> all_served;
};

struct barber;

struct room : volley::actor<room> {
  struct enter {
    actor_ref<customer> who;
  };
  struct next {};
  std::int64_t capacity;
  actor_ref<barber> the_barber;
  shop_counts* counts;
  std::deque<actor_ref<customer>> waiting;
  bool barber_asleep = true;

  room(std::int64_t c, actor_ref<barber> b, shop_counts* s)
      : capacity(c), the_barber(std::move(b)), counts(s) {}

  void on(const enter& e);
  void on(const next&);
};

struct barber : volley::actor<barber> {
  struct cut {
    actor_ref<customer> who;
  };
  struct nap {};
  actor_ref<room> shop;
  std::int64_t haircut_rate;
  shop_counts* counts;
  savina::pseudo_random random{2};

  barber(std::int64_t rate, shop_counts* s) : haircut_rate(rate), counts(s) {}

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
    for (std::int64_t i = 0; i < haircuts; ++i) {
      shop.tell(room::enter{ctx.spawn<customer>(i, self())});
      work += savina::busy_wait(
          static_cast<std::int64_t>(random.below(static_cast<std::uint64_t>(arrival_rate))) + 10);
    }
    counts->work.fetch_add(work, std::memory_order_relaxed);
  }
  void on(const returned& r) {
    counts->returns.fetch_add(1, std::memory_order_relaxed);
    shop.tell(room::enter{r.who});
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
  if (static_cast<std::int64_t>(waiting.size()) == capacity) {
    counts->turned_away.fetch_add(1, std::memory_order_relaxed);
    e.who.tell(customer::full{});
    return;
  }
  waiting.push_back(e.who);
  if (barber_asleep) {
    barber_asleep = false;
    self().tell(next{});
  } else {
    counts->told_to_wait.fetch_add(1, std::memory_order_relaxed);
    e.who.tell(customer::wait{});
  }
}

void room::on(const next&) {
  if (waiting.empty()) {
    barber_asleep = true;
    the_barber.tell(barber::nap{});
    return;
  }
  the_barber.tell(barber::cut{waiting.front()});
  waiting.pop_front();
}

void barber::on(const cut& c) {
  c.who.tell(customer::start{});
  auto work = savina::busy_wait(
      static_cast<std::int64_t>(random.below(static_cast<std::uint64_t>(haircut_rate))) + 10);
  counts->work.fetch_add(work, std::memory_order_relaxed);
  counts->haircuts.fetch_add(1, std::memory_order_relaxed);
  c.who.tell(customer::done{});
  shop.tell(room::next{});
}

void customer::on(const full&) {
  if (started) savina::wrong_answer("customer " + std::to_string(id) + " was turned away seated");
  home.tell(factory::returned{self()});
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
  const auto haircuts = p.integer("haircuts");
  const auto capacity = p.integer("waiting_room");
  const auto arrival_rate = p.integer("arrival_rate");
  const auto haircut_rate = p.integer("haircut_rate");
  savina::check(haircuts >= 1 && capacity >= 1 && arrival_rate >= 1 && haircut_rate >= 1,
                "sleeping-barber needs positive sizes");
  volley::system sys(make_config(workers));
  shop_counts counts;
  auto finished = counts.all_served.get_future();
  auto the_barber = sys.spawn<barber>(haircut_rate, &counts);
  auto shop = sys.spawn<room>(capacity, the_barber, &counts);
  the_barber.tell(shop);
  auto f = sys.spawn<factory>(shop, haircuts, arrival_rate, &counts);
  savina::stopwatch clock;
  f.tell(factory::start{});
  finished.get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  const auto returns = counts.returns.load();
  savina::check(counts.haircuts.load() == haircuts,
                "the barber cut " + std::to_string(counts.haircuts.load()) + " times for " +
                    std::to_string(haircuts) + " customers");
  savina::check(counts.turned_away.load() == returns, std::to_string(counts.turned_away.load()) +
                                                          " customers were turned away, " +
                                                          std::to_string(returns) + " came back");
  savina::check(counts.entries.load() == haircuts + returns,
                "the room saw " + std::to_string(counts.entries.load()) + " entries for " +
                    std::to_string(haircuts) + " customers and " + std::to_string(returns) +
                    " returns");
  savina::check(sys.dead_letters().count() == 0,
                std::to_string(sys.dead_letters().count()) +
                    " messages reached a customer that had already left");
  // Per haircut: enter, next, cut, start, done, next, served; per return:
  // full, returned, enter; plus every wait and nap.
  m.messages = static_cast<std::uint64_t>(7 * haircuts + 3 * returns + counts.told_to_wait.load() +
                                          counts.barber_naps.load());
  m.items = static_cast<std::uint64_t>(haircuts);  // bounces are not progress
  return m;
}

}  // namespace volley::savina_on_volley

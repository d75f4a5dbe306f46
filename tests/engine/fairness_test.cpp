// Fairness of the scheduler: a runnable actor is never starved by others
// that keep waking each other (engine/src/scheduler.cpp: the LIFO slot, its
// streak bound, and taking the oldest local item every few picks).
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <volley/volley.hpp>

#include "engine_test_support.hpp"

namespace {

using namespace std::chrono_literals;

struct philosopher;
struct hungry {
  int id;
  volley::actor_ref<philosopher> reply_to;
};
struct release_forks {
  int id;
};
struct answer {
  bool granted;
};

// Savina's dining philosophers, two of them: a denied philosopher asks again
// at once, so the arbitrator and the denied one keep waking each other
// through the LIFO slot while the philosopher holding the forks waits in the
// worker's deque. Its answer must still be handled, or nobody eats again.
struct arbitrator {
  explicit arbitrator(std::atomic<long>* meals) : meals_(meals) {}
  void on(const hungry& h);
  void on(const release_forks&) { taken_ = false; }
  bool taken_ = false;
  std::atomic<long>* meals_;
};

struct philosopher : volley::actor<philosopher> {
  philosopher(volley::actor_ref<arbitrator> a, int id, int rounds)
      : arb_(std::move(a)), id_(id), left_(rounds) {}
  void on(const answer& a) {
    if (!a.granted) {
      arb_.tell(hungry{id_, self()});
      return;
    }
    arb_.tell(release_forks{id_});
    if (--left_ > 0) arb_.tell(hungry{id_, self()});
  }
  volley::actor_ref<arbitrator> arb_;
  int id_;
  int left_;
};

void arbitrator::on(const hungry& h) {
  if (taken_) {
    h.reply_to.tell(answer{false});
    return;
  }
  taken_ = true;
  meals_->fetch_add(1);
  h.reply_to.tell(answer{true});
}

}  // namespace

TEST_CASE("an actor waiting in the deque runs while two others keep waking each other",
          "[scheduler][fairness]") {
  for (unsigned workers : {1u, 2u}) {
    std::atomic<long> meals{0};
    volley::config cfg;
    cfg.workers = workers;
    cfg.pin = false;
    volley::system sys(cfg);
    const int rounds = 500;
    auto arb = sys.spawn<arbitrator>(&meals);
    std::vector<volley::actor_ref<philosopher>> ps;
    for (int i = 0; i < 2; ++i) ps.push_back(sys.spawn<philosopher>(arb, i, rounds));
    for (int i = 0; i < 2; ++i) arb.tell(hungry{i, ps[i]});
    INFO("workers " << workers);
    CHECK(volley::test::wait_until([&] { return meals.load() == 2 * rounds; }, 20s));
  }
}

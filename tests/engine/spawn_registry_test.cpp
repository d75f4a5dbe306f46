// Stress tests of the children registry (system.cpp's attach_cell, cell.cpp's
// unlink on death): spawns and deaths under one parent from many threads at
// once, with path look-ups and a parent's stop racing them. Every child must
// be accounted for: registered once, found by select() while alive, gone from
// select_all() once dead, and waited for by a stopping parent. These pin the
// semantics a faster registry (sharded or lock-free, see the fork-join
// creation profile: spawn and death lock /user's mutex) has to keep.
#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine_test_support.hpp"

using volley::test::scaled;
using volley::test::wait_until;

namespace {

struct go_away {};
struct spawn_some {
  int count;
};

struct tally {
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  std::atomic<int> children_stopped{0};
  std::atomic<int> children_left_at_parent_stop{-1};
};

/// Counts its stop (post_stop runs even for an actor stopped before its
/// first message); stops itself on go_away.
struct counted {
  explicit counted(tally& t) : t_(t) {}
  void post_stop() { ++t_.stopped; }
  void on(const go_away&, volley::context& ctx) { ctx.stop(); }
  tally& t_;
};

/// A child of `spawner`: stops itself at once on go_away.
struct short_lived {
  explicit short_lived(tally& t) : t_(t) {}
  void post_stop() { ++t_.children_stopped; }
  void on(const go_away&, volley::context& ctx) { ctx.stop(); }
  tally& t_;
};

/// Spawns children on request; half of them are told to go at once, the
/// rest stay until the spawner stops. Its post_stop records how many of its
/// children had not finished their own post_stop yet (must be none).
struct spawner {
  explicit spawner(tally& t) : t_(t) {}
  void on(const spawn_some& s, volley::context& ctx) {
    for (int i = 0; i < s.count; ++i) {
      auto child = ctx.spawn<short_lived>(t_);
      ++t_.started;
      if (i % 2 == 0) child.tell(go_away{});
    }
  }
  void post_stop() { t_.children_left_at_parent_stop = t_.started - t_.children_stopped; }
  tally& t_;
};

}  // namespace

TEST_CASE("spawns and stops under /user from many threads leave every child accounted for",
          "[system][spawn][stress]") {
  tally t;
  const int threads = 4;
  const int per_thread = static_cast<int>(scaled(4'000));
  std::vector<std::vector<volley::actor_ref<counted>>> survivors(threads);
  std::atomic<bool> spawning{true};
  std::atomic<int> bad_paths{0};
  {
    volley::system sys(volley::test::two_workers());
    // A reader walks /user's children all along: it must only ever see
    // anonymous actors, each once.
    std::thread reader([&] {
      while (spawning.load()) {
        std::set<std::string> seen;
        for (const auto& ref : sys.select_all("/user/*")) {
          if (ref.path().rfind("/user/$", 0) != 0 || !seen.insert(ref.path()).second) ++bad_paths;
        }
      }
    });
    std::vector<std::thread> spawners;
    for (int k = 0; k < threads; ++k) {
      spawners.emplace_back([&, k] {
        for (int i = 0; i < per_thread; ++i) {
          auto a = sys.spawn<counted>(t);
          ++t.started;
          if (i % 8 == 0) {
            survivors[static_cast<std::size_t>(k)].push_back(a);
          } else if (i % 2 == 0) {
            a.tell(go_away{});
          } else {
            a.stop();
          }
        }
      });
    }
    for (auto& s : spawners) s.join();
    const int total = threads * per_thread;
    std::size_t kept = 0;
    for (const auto& v : survivors) kept += v.size();
    REQUIRE(wait_until([&] { return t.stopped.load() == total - static_cast<int>(kept); }));
    spawning = false;
    reader.join();
    CHECK(bad_paths.load() == 0);
    CHECK(t.started.load() == total);
    // Exactly the survivors are left, each found by its own path.
    std::set<std::string> expected;
    for (const auto& v : survivors)
      for (const auto& a : v) {
        expected.insert(a.path());
        CHECK(sys.select(a.path()) == a.untyped());
      }
    std::set<std::string> found;
    for (const auto& ref : sys.select_all("/user/*")) found.insert(ref.path());
    CHECK(found == expected);
    sys.shutdown();
    CHECK(t.stopped.load() == total);
  }
}

TEST_CASE("a parent stopped while its children spawn and die waits for every one of them",
          "[system][spawn][stress]") {
  const int rounds = static_cast<int>(scaled(200));
  for (int round = 0; round < rounds; ++round) {
    tally t;
    auto cfg = volley::test::two_workers();
    cfg.dead_letter_log_first = 0;  // the spawn requests the stop overtakes
    volley::system sys(cfg);
    const volley::props p{.name = "spawner", .dispatcher = ""};
    auto parent = sys.spawn<spawner>(p, t);
    for (int i = 0; i < 8; ++i) parent.tell(spawn_some{16});
    // Stop at a different point of the storm each round.
    for (int spin = 0; spin < round % 32; ++spin) std::this_thread::yield();
    parent.stop();
    REQUIRE(wait_until([&] { return parent.is_stopped(); }));
    INFO("round " << round << ": " << t.started.load() << " children started, "
                  << t.children_stopped.load() << " stopped");
    CHECK(t.children_left_at_parent_stop.load() == 0);
    CHECK(t.children_stopped.load() == t.started.load());
    // The path leaves /user just after the actor is marked dead.
    CHECK(wait_until([&] { return !sys.select("/user/spawner"); }));
  }
}

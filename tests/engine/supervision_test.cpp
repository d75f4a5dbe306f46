// Tests of supervision (supervision.hpp): each directive — resume keeps the
// state; restart builds a fresh instance from the original spawn arguments,
// keeps the mailbox and runs pre_restart/post_restart; stop; escalate hands
// the failure to the grandparent — one_for_one against all_for_one, restart
// limits in a window (then stop, or escalate), backoff before a restart
// (manual clock), the default strategy (stop the failed child), post_stop
// of children before their parent, and select_all with wildcards.
//
// All on the deterministic dispatcher with a manual clock: after
// run_until_idle() every failure has been decided and obeyed, so each
// outcome is checked exactly.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::dead_letter_reason;
using volley::directive;

namespace {

volley::props named(std::string name) {
  volley::props p;
  p.name = std::move(name);
  return p;
}

struct add {
  int n;
};
struct fail {
  std::string why = "on purpose";
};
struct get_state {};
struct child_at {
  std::size_t i;
};

struct journal {
  std::vector<std::string> events;
  std::size_t count(const std::string& e) const {
    return static_cast<std::size_t>(std::count(events.begin(), events.end(), e));
  }
  /// Index of the first event equal to `e`, or events.size().
  std::size_t index(const std::string& e) const {
    return static_cast<std::size_t>(std::find(events.begin(), events.end(), e) - events.begin());
  }
};

/// A supervised worker with a number as its state.
struct leaf {
  leaf(journal* j, std::string name, int initial)
      : j_(j), name_(std::move(name)), state_(initial) {}
  void pre_start() { j_->events.push_back(name_ + " pre_start"); }
  void post_stop() { j_->events.push_back(name_ + " post_stop"); }
  void pre_restart(const std::exception_ptr&) {
    j_->events.push_back(name_ + " pre_restart " + std::to_string(state_));
  }
  void post_restart(const std::exception_ptr&) {
    j_->events.push_back(name_ + " post_restart " + std::to_string(state_));
  }
  void on(const add& m) { state_ += m.n; }
  int on(const get_state&) const { return state_; }
  void on(const fail& m) { throw std::runtime_error(m.why); }

  journal* j_;
  std::string name_;
  int state_;
};

/// A supervisor of `kids` leaves (initial states 100, 200, ...).
struct node {
  node(journal* j, std::string name, volley::supervisor_strategy s, int kids,
       bool named_kids = false)
      : j_(j),
        name_(std::move(name)),
        strategy_(std::move(s)),
        kids_(kids),
        named_kids_(named_kids) {}
  volley::supervisor_strategy supervisor_strategy() const { return strategy_; }
  void pre_start(volley::context& ctx) {
    j_->events.push_back(name_ + " pre_start");
    spawn_kids(ctx);
  }
  void post_stop() { j_->events.push_back(name_ + " post_stop"); }
  void pre_restart(const std::exception_ptr&) { j_->events.push_back(name_ + " pre_restart"); }
  void post_restart(const std::exception_ptr&, volley::context& ctx) {
    j_->events.push_back(name_ + " post_restart");
    spawn_kids(ctx);
  }
  volley::actor_ref<leaf> on(const child_at& m) const { return refs_.at(m.i); }
  void on(const fail& m) { throw std::runtime_error(m.why); }

  void spawn_kids(volley::context& ctx) {
    for (int i = 0; i < kids_; ++i) {
      std::string kid = "c" + std::to_string(i);
      volley::props p;
      if (named_kids_) p.name = kid;
      refs_.push_back(ctx.spawn<leaf>(p, j_, name_ + "." + kid, 100 * (i + 1)));
    }
  }

  journal* j_;
  std::string name_;
  volley::supervisor_strategy strategy_;
  int kids_;
  bool named_kids_;
  std::vector<volley::actor_ref<leaf>> refs_;
};

/// Supervises one node ("p"); its decider records what it was asked about.
struct grandparent {
  grandparent(journal* j, directive d, volley::supervisor_strategy for_p, int p_kids)
      : j_(j), d_(d), for_p_(std::move(for_p)), p_kids_(p_kids) {}
  volley::supervisor_strategy supervisor_strategy() const {
    journal* j = j_;
    directive d = d_;
    return volley::supervisor_strategy::one_for_one().decide([j, d](const std::exception_ptr& e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        j->events.push_back(std::string("gp decides on: ") + ex.what());
      }
      return d;
    });
  }
  void pre_start(volley::context& ctx) {
    p_ = ctx.spawn<node>(named("p"), j_, std::string("p"), for_p_, p_kids_);
  }
  void post_stop() { j_->events.push_back("gp post_stop"); }
  volley::actor_ref<node> on(const get_state&) const { return p_; }

  journal* j_;
  directive d_;
  volley::supervisor_strategy for_p_;
  int p_kids_;
  volley::actor_ref<node> p_;
};

/// A parent that declares no strategy: the default applies.
struct plain_parent {
  explicit plain_parent(journal* j) : j_(j) {}
  void pre_start(volley::context& ctx) { kid_ = ctx.spawn<leaf>(j_, std::string("kid"), 1); }
  volley::actor_ref<leaf> on(const child_at&) const { return kid_; }
  journal* j_;
  volley::actor_ref<leaf> kid_;
};

volley::supervisor_strategy always(directive d, bool all_for_one = false) {
  auto s = all_for_one ? volley::supervisor_strategy::all_for_one()
                       : volley::supervisor_strategy::one_for_one();
  s.decide([d](const std::exception_ptr&) { return d; });
  return s;
}

/// A deterministic system on a manual clock.
struct det_env {
  std::shared_ptr<volley::manual_clock> clock = std::make_shared<volley::manual_clock>();
  volley::system sys{[this] {
    volley::config cfg;
    cfg.deterministic_seed = 7;
    cfg.clock = clock;
    cfg.workers = 1;
    cfg.pin = false;
    return cfg;
  }()};

  template <class R>
  R answer(volley::future<R> f) {
    sys.run_until_idle();
    return f.get(1s).value();
  }
  /// A supervisor `node` named "n" with its first child.
  std::pair<volley::actor_ref<node>, std::vector<volley::actor_ref<leaf>>> tree(
      journal& j, volley::supervisor_strategy s, int kids = 1) {
    auto n = sys.spawn<node>(named("n"), &j, std::string("n"), std::move(s), kids);
    std::vector<volley::actor_ref<leaf>> leaves;
    for (int i = 0; i < kids; ++i)
      leaves.push_back(answer(n.ask(child_at{static_cast<std::size_t>(i)})));
    return {n, leaves};
  }
};

}  // namespace

TEST_CASE("resume: the failed child keeps its state and goes on with the next message",
          "[supervision]") {
  journal j;
  det_env env;
  auto [n, kids] = env.tree(j, always(directive::resume));
  kids[0].tell(add{5});
  kids[0].tell(fail{});
  kids[0].tell(add{1});
  CHECK(env.answer(kids[0].ask(get_state{})) == 106);
  CHECK(j.count("n.c0 pre_restart 105") == 0);
  CHECK(j.count("n.c0 pre_start") == 1);
  CHECK(env.sys.dead_letters().count() == 0);
}

TEST_CASE(
    "restart: a fresh instance from the original spawn arguments; the mailbox is kept and the "
    "restart hooks run",
    "[supervision]") {
  journal j;
  det_env env;
  auto [n, kids] = env.tree(j, always(directive::restart));
  kids[0].tell(add{5});
  kids[0].tell(fail{});
  kids[0].tell(add{1});  // queued behind the failure: handled by the new instance
  kids[0].tell(add{2});
  CHECK(env.answer(kids[0].ask(get_state{})) == 103);  // 100 from the spawn arguments, + 1 + 2

  CHECK(j.count("n.c0 pre_start") == 1);  // post_restart replaces it on restart
  const auto pre = j.index("n.c0 pre_restart 105");
  const auto post = j.index("n.c0 post_restart 100");
  REQUIRE(pre < j.events.size());
  REQUIRE(post < j.events.size());
  CHECK(pre < post);
  CHECK(j.count("n.c0 post_stop") == 0);  // pre_restart is defined: it replaces post_stop
  CHECK_FALSE(kids[0].is_stopped());
  CHECK(env.sys.dead_letters().count() == 0);
}

TEST_CASE(
    "stop: the failed child stops, its queued messages become dead letters, its parent lives on",
    "[supervision]") {
  journal j;
  det_env env;
  auto [n, kids] = env.tree(j, always(directive::stop));
  kids[0].tell(fail{});
  kids[0].tell(add{1});
  env.sys.run_until_idle();
  CHECK(kids[0].is_stopped());
  CHECK(j.count("n.c0 post_stop") == 1);
  CHECK(env.sys.dead_letters().count(dead_letter_reason::recipient_stopped) == 1);
  CHECK_FALSE(n.is_stopped());
  CHECK(env.answer(n.ask(child_at{0})) == kids[0]);  // the parent still answers
}

TEST_CASE("escalate: the parent fails with the child's exception and the grandparent decides",
          "[supervision]") {
  journal j;
  det_env env;
  auto gp = env.sys.spawn<grandparent>(&j, directive::restart, always(directive::escalate), 1);
  auto p = env.answer(gp.ask(get_state{}));
  auto old_kid = env.answer(p.ask(child_at{0}));
  old_kid.tell(fail{"deep trouble"});
  env.sys.run_until_idle();

  CHECK(j.count("gp decides on: deep trouble") == 1);
  CHECK(j.count("p pre_restart") == 1);  // the grandparent restarted p
  CHECK(j.count("p post_restart") == 1);
  CHECK(old_kid.is_stopped());
  CHECK(j.count("p.c0 post_stop") == 1);
  CHECK(j.count("p.c0 pre_start") == 2);  // the restarted p spawned a fresh child
  CHECK_FALSE(p.is_stopped());
  CHECK_FALSE(gp.is_stopped());
}

TEST_CASE("escalate from a top-level actor stops it: the /user guardian has nobody to ask",
          "[supervision]") {
  journal j;
  det_env env;
  auto [n, kids] = env.tree(j, always(directive::escalate));
  kids[0].tell(fail{});
  env.sys.run_until_idle();
  CHECK(kids[0].is_stopped());
  CHECK(n.is_stopped());
}

TEST_CASE("one_for_one restarts only the failed child", "[supervision]") {
  journal j;
  det_env env;
  auto [n, kids] = env.tree(j, always(directive::restart), 3);
  for (auto& k : kids) k.tell(add{1});
  kids[1].tell(fail{});
  CHECK(env.answer(kids[0].ask(get_state{})) == 101);
  CHECK(env.answer(kids[1].ask(get_state{})) == 200);
  CHECK(env.answer(kids[2].ask(get_state{})) == 301);
  CHECK(j.count("n.c1 post_restart 200") == 1);
  CHECK(j.count("n.c0 post_restart 100") == 0);
  CHECK(j.count("n.c2 post_restart 300") == 0);
}

TEST_CASE("all_for_one restarts every child when one fails", "[supervision]") {
  journal j;
  det_env env;
  auto [n, kids] = env.tree(j, always(directive::restart, true), 3);
  for (auto& k : kids) k.tell(add{1});
  env.sys.run_until_idle();
  kids[1].tell(fail{});
  CHECK(env.answer(kids[0].ask(get_state{})) == 100);
  CHECK(env.answer(kids[1].ask(get_state{})) == 200);
  CHECK(env.answer(kids[2].ask(get_state{})) == 300);
  CHECK(j.count("n.c0 post_restart 100") == 1);
  CHECK(j.count("n.c1 post_restart 200") == 1);
  CHECK(j.count("n.c2 post_restart 300") == 1);
}

TEST_CASE("all_for_one stop stops every child", "[supervision]") {
  journal j;
  det_env env;
  auto [n, kids] = env.tree(j, always(directive::stop, true), 3);
  kids[2].tell(fail{});
  env.sys.run_until_idle();
  for (auto& k : kids) CHECK(k.is_stopped());
  CHECK_FALSE(n.is_stopped());
}

TEST_CASE("at_most(n, window): past n restarts in the window the child is stopped",
          "[supervision]") {
  journal j;
  det_env env;
  // A window of an hour: the test's real time never leaves it.
  auto [n, kids] = env.tree(j, always(directive::restart).at_most(2, std::chrono::hours(1)));
  for (int i = 0; i < 3; ++i) kids[0].tell(fail{});
  kids[0].tell(add{1});
  env.sys.run_until_idle();
  CHECK(j.count("n.c0 post_restart 100") == 2);
  CHECK(kids[0].is_stopped());
  CHECK(env.sys.dead_letters().count(dead_letter_reason::recipient_stopped) == 1);
  CHECK_FALSE(n.is_stopped());
}

TEST_CASE("at_most with escalate_when_exhausted hands the last failure to the grandparent",
          "[supervision]") {
  journal j;
  det_env env;
  auto gp = env.sys.spawn<grandparent>(
      &j, directive::stop,
      always(directive::restart).at_most(1, std::chrono::hours(1)).escalate_when_exhausted(), 1);
  auto p = env.answer(gp.ask(get_state{}));
  auto kid = env.answer(p.ask(child_at{0}));
  kid.tell(fail{"first"});
  kid.tell(fail{"second"});
  env.sys.run_until_idle();
  CHECK(j.count("p.c0 post_restart 100") == 1);
  CHECK(j.count("gp decides on: first") == 0);
  CHECK(j.count("gp decides on: second") == 1);
  CHECK(p.is_stopped());  // the grandparent chose stop
  CHECK(kid.is_stopped());
  CHECK_FALSE(gp.is_stopped());
}

TEST_CASE("backoff: the restart waits for the backoff, doubling per restart (manual clock)",
          "[supervision]") {
  journal j;
  det_env env;
  auto [n, kids] = env.tree(
      j,
      always(directive::restart).backoff(std::chrono::milliseconds(100), std::chrono::seconds(1)));
  kids[0].tell(add{7});
  kids[0].tell(fail{});
  auto state = kids[0].ask(get_state{});  // waits: a failed actor takes no user messages
  env.sys.run_until_idle();
  env.clock->advance(99ms);
  env.sys.run_until_idle();
  CHECK(j.count("n.c0 post_restart 100") == 0);
  CHECK_FALSE(state.get(1ms));
  env.clock->advance(1ms);
  env.sys.run_until_idle();
  CHECK(j.count("n.c0 post_restart 100") == 1);
  CHECK(state.get(1s).value() == 100);

  kids[0].tell(fail{});  // the second restart in the window waits twice as long
  env.sys.run_until_idle();
  env.clock->advance(199ms);
  env.sys.run_until_idle();
  CHECK(j.count("n.c0 post_restart 100") == 1);
  env.clock->advance(1ms);
  env.sys.run_until_idle();
  CHECK(j.count("n.c0 post_restart 100") == 2);
}

TEST_CASE("the default strategy stops the failed child and leaves the parent running",
          "[supervision]") {
  journal j;
  det_env env;
  auto p = env.sys.spawn<plain_parent>(&j);
  auto kid = env.answer(p.ask(child_at{0}));
  kid.tell(fail{});
  env.sys.run_until_idle();
  CHECK(kid.is_stopped());
  CHECK(j.count("kid post_stop") == 1);
  CHECK(j.count("kid post_restart 1") == 0);
  CHECK_FALSE(p.is_stopped());
}

TEST_CASE("when a parent stops, every child's post_stop runs before its parent's",
          "[supervision]") {
  journal j;
  det_env env;
  auto gp = env.sys.spawn<grandparent>(&j, directive::stop, always(directive::stop), 3);
  env.sys.run_until_idle();
  gp.stop();
  env.sys.run_until_idle();
  const auto p_stop = j.index("p post_stop");
  const auto gp_stop = j.index("gp post_stop");
  REQUIRE(gp_stop < j.events.size());
  CHECK(p_stop < gp_stop);
  for (int i = 0; i < 3; ++i) {
    const auto kid_stop = j.index("p.c" + std::to_string(i) + " post_stop");
    REQUIRE(kid_stop < j.events.size());
    CHECK(kid_stop < p_stop);
  }
}

// Akka's order: a restart stops the old instance's children and creates the
// new instance only once they have gone, so the new one may spawn children
// under the same names (engine/src/supervision.cpp, finish_restart).
TEST_CASE("a restarted parent spawns its children again under the same names", "[supervision]") {
  journal j;
  det_env env;
  struct restarter {
    explicit restarter(journal* j) : j_(j) {}
    volley::supervisor_strategy supervisor_strategy() const { return always(directive::restart); }
    void pre_start(volley::context& ctx) {
      n_ = ctx.spawn<node>(named("n"), j_, std::string("n"), always(directive::restart), 2, true);
    }
    volley::actor_ref<node> on(const get_state&) const { return n_; }
    journal* j_;
    volley::actor_ref<node> n_;
  };
  auto r = env.sys.spawn<restarter>(named("r"), &j);
  env.sys.run_until_idle();
  auto n = env.answer(r.ask(get_state{}));
  n.tell(fail{});
  env.sys.run_until_idle();
  CHECK(j.count("n post_restart") == 1);
  CHECK(j.count("n.c0 post_stop") == 1);  // the old children stopped...
  CHECK(j.count("n.c0 pre_start") == 2);  // ...and new ones with the same names started
  CHECK(env.sys.select("/user/r/n/c0"));
  CHECK(env.sys.select("/user/r/n/c1"));
  CHECK_FALSE(n.is_stopped());
}

TEST_CASE("select_all matches '*' against any child at that level", "[supervision][select]") {
  journal j;
  det_env env;
  struct group {
    explicit group(std::vector<std::string> kids) : kids_(std::move(kids)) {}
    void pre_start(volley::context& ctx) {
      for (auto& k : kids_) ctx.spawn<group>(named(k), std::vector<std::string>{});
    }
    void on(const get_state&) {}
    std::vector<std::string> kids_;
  };
  env.sys.spawn<group>(named("a"), std::vector<std::string>{"w"});
  env.sys.spawn<group>(named("b"), std::vector<std::string>{"w", "x"});
  env.sys.spawn<group>(named("c"), std::vector<std::string>{});
  env.sys.run_until_idle();

  auto paths = [&](std::string_view pattern) {
    std::set<std::string> out;
    for (const auto& r : env.sys.select_all(pattern)) out.insert(r.path());
    return out;
  };
  CHECK(paths("/user/*/w") == std::set<std::string>{"/user/a/w", "/user/b/w"});
  CHECK(paths("/user/*") == std::set<std::string>{"/user/a", "/user/b", "/user/c"});
  CHECK(paths("/user/b/*") == std::set<std::string>{"/user/b/w", "/user/b/x"});
  CHECK(paths("/user/*/x") == std::set<std::string>{"/user/b/x"});
  CHECK(paths("/user/c/*").empty());
  CHECK(paths("/user/*/*/*").empty());
  CHECK(paths("/user/nobody/*").empty());
  CHECK(paths("/user/a/w") == std::set<std::string>{"/user/a/w"});  // no wildcard: exact
}

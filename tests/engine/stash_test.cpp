// Tests of stash/unstash_all (context.hpp): unstash_all puts the stashed
// messages back in their original order, before whatever is still in the
// mailbox; a stashed ask is answered once it is handled; stashing past the
// capacity throws stash_overflow, which fails the actor (its supervisor
// decides: by default it stops); messages still stashed when the actor
// stops become dead letters with reason `stashed_on_stop` (a stashed ask
// fails with recipient_stopped).
//
// All on the deterministic dispatcher: everything a test sends is queued
// before any actor runs, so "before the later mailbox messages" is exact.
#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::dead_letter_reason;
using volley::errc;
using volley::test::deterministic;

namespace {

struct item {
  int n;
};
struct open_up {};
struct close_down {};
struct request {
  int n;
};

struct stash_log {
  std::vector<std::string> events;
  std::size_t stash_size_at_open = 0;
};

/// Stashes items and requests while closed; open_up unstashes them all.
struct gatekeeper {
  explicit gatekeeper(stash_log* log, std::size_t capacity = 1000)
      : log_(log), capacity_(capacity) {}
  void pre_start(volley::context& ctx) { ctx.set_stash_capacity(capacity_); }
  void on(const item& m, volley::context& ctx) {
    if (!open_) {
      ctx.stash();
      return;
    }
    log_->events.push_back("item " + std::to_string(m.n));
  }
  int on(const request& m, volley::context& ctx) {
    if (!open_) {
      ctx.stash();
      return 0;  // not a reply: a stashed request is answered when it is handled again
    }
    log_->events.push_back("request " + std::to_string(m.n));
    return m.n * 10;
  }
  void on(const open_up&, volley::context& ctx) {
    open_ = true;
    log_->stash_size_at_open = ctx.stash_size();
    ctx.unstash_all();
  }
  void on(const close_down&) { open_ = false; }
  void post_stop() { log_->events.push_back("post_stop"); }

  stash_log* log_;
  std::size_t capacity_;
  bool open_ = false;
};

volley::props named(std::string name) {
  volley::props p;
  p.name = std::move(name);
  return p;
}

std::vector<std::string> items(std::initializer_list<int> ns) {
  std::vector<std::string> out;
  for (int n : ns) out.push_back("item " + std::to_string(n));
  return out;
}

}  // namespace

TEST_CASE(
    "unstash_all puts stashed messages back in their original order, before later mailbox "
    "messages",
    "[stash]") {
  stash_log log;
  volley::system sys(deterministic());
  auto g = sys.spawn<gatekeeper>(&log);
  for (int i = 1; i <= 3; ++i) g.tell(item{i});
  g.tell(open_up{});
  for (int i = 4; i <= 6; ++i) g.tell(item{i});  // still in the mailbox when open_up is handled
  sys.run_until_idle();
  CHECK(log.stash_size_at_open == 3);
  CHECK(log.events == items({1, 2, 3, 4, 5, 6}));
  CHECK(sys.dead_letters().count() == 0);
}

TEST_CASE("stashing and unstashing again keeps each round in order", "[stash]") {
  stash_log log;
  volley::system sys(deterministic());
  auto g = sys.spawn<gatekeeper>(&log);
  g.tell(item{1});
  g.tell(item{2});
  g.tell(open_up{});
  g.tell(close_down{});
  g.tell(item{3});
  g.tell(item{4});
  g.tell(open_up{});
  g.tell(item{5});
  sys.run_until_idle();
  CHECK(log.events == items({1, 2, 3, 4, 5}));
}

TEST_CASE("a stashed ask is answered when it is handled after unstash_all", "[stash]") {
  stash_log log;
  volley::system sys(deterministic());
  auto g = sys.spawn<gatekeeper>(&log);
  auto f = g.ask(request{4});
  g.tell(item{1});
  sys.run_until_idle();
  CHECK(log.events.empty());

  g.tell(open_up{});
  sys.run_until_idle();
  CHECK(log.events == std::vector<std::string>{"request 4", "item 1"});
  CHECK(f.get(1s).value() == 40);
}

TEST_CASE("stashing past the capacity throws stash_overflow: the actor fails and by default stops",
          "[stash]") {
  stash_log log;
  volley::system sys(deterministic());
  auto g = sys.spawn<gatekeeper>(&log, 3);
  for (int i = 1; i <= 5; ++i) g.tell(item{i});
  sys.run_until_idle();
  // item 4 overflowed: the actor failed, the /user guardian stopped it.
  CHECK(g.is_stopped());
  CHECK(log.events == std::vector<std::string>{"post_stop"});
  CHECK(sys.dead_letters().count(dead_letter_reason::stashed_on_stop) == 3);    // items 1-3
  CHECK(sys.dead_letters().count(dead_letter_reason::recipient_stopped) == 1);  // item 5
  // item 4 is the failed message: its handler ran (and threw), so it is
  // neither kept nor a dead letter.
  CHECK(sys.dead_letters().count() == 4);
}

namespace {

struct restarting_parent {
  explicit restarting_parent(stash_log* log) : log_(log) {}
  volley::supervisor_strategy supervisor_strategy() const {
    return volley::supervisor_strategy::one_for_one().decide([](const std::exception_ptr& e) {
      try {
        std::rethrow_exception(e);
      } catch (const volley::stash_overflow&) {
        return volley::directive::restart;
      } catch (...) {
        return volley::directive::stop;
      }
    });
  }
  void pre_start(volley::context& ctx) {
    child_ = ctx.spawn<gatekeeper>(named("g"), log_, std::size_t{2});
  }
  volley::actor_ref<gatekeeper> on(const open_up&) const { return child_; }
  stash_log* log_;
  volley::actor_ref<gatekeeper> child_;
};

}  // namespace

TEST_CASE(
    "a stash_overflow goes to the supervisor, who may restart the actor; the old stash is "
    "dropped as stashed_on_stop",
    "[stash]") {
  stash_log log;
  volley::system sys(deterministic());
  auto p = sys.spawn<restarting_parent>(&log);
  auto f = p.ask(open_up{});
  sys.run_until_idle();
  auto g = f.get(1s).value();
  for (int i = 1; i <= 4; ++i) g.tell(item{i});  // 3 overflows; 4 goes to the new instance
  g.tell(open_up{});
  g.tell(item{5});
  sys.run_until_idle();
  CHECK_FALSE(g.is_stopped());
  CHECK(sys.dead_letters().count(dead_letter_reason::stashed_on_stop) == 2);  // 1 and 2
  // The old instance ended with post_stop (the default pre_restart); the
  // fresh one stashed item 4 (it starts closed), then opened.
  std::vector<std::string> expected{"post_stop"};
  for (auto& e : items({4, 5})) expected.push_back(e);
  CHECK(log.events == expected);
}

TEST_CASE(
    "messages still stashed when the actor stops are stashed_on_stop dead letters; a stashed "
    "ask fails",
    "[stash]") {
  stash_log log;
  volley::system sys(deterministic());
  auto g = sys.spawn<gatekeeper>(&log);
  for (int i = 1; i <= 5; ++i) g.tell(item{i});
  auto f = g.ask(request{1});
  sys.run_until_idle();
  g.stop();
  sys.run_until_idle();
  CHECK(g.is_stopped());
  CHECK(sys.dead_letters().count(dead_letter_reason::stashed_on_stop) == 6);
  CHECK(sys.dead_letters().count() == 6);
  auto r = f.get(1s);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::recipient_stopped);
}

TEST_CASE("a stashed dead letter names the message's type and the actor", "[stash]") {
  volley::system sys(deterministic());
  volley::test::dead_letter_log seen(sys);
  stash_log log;
  auto g = sys.spawn<gatekeeper>(named("keeper"), &log);
  g.tell(item{1});
  sys.run_until_idle();
  g.stop();
  sys.run_until_idle();
  auto letters = seen.seen();
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].reason == dead_letter_reason::stashed_on_stop);
  CHECK(letters[0].recipient == "/user/keeper");
  CHECK(letters[0].type.find("item") != std::string::npos);
}

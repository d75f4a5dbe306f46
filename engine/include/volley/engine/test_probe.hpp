// volley/engine/test_probe.hpp — a test thread's window into an actor system.
//
// A test_probe is an actor that a test thread owns: everything sent to it is
// queued, and the test takes the messages out one by one with expectations:
//
//     volley::test_probe probe(sys);
//     echo.tell(ping{1, probe.ref()});             // the probe's ref in a message
//     pong p = probe.expect_msg<pong>();           // the next message must be a pong
//     probe.expect_msg<pong>([](const pong& p) { return p.n == 2; });
//     probe.send(echo, ping{3});                   // the probe is the sender...
//     probe.expect_msg<pong>();                    // ...so ctx.sender() replies reach it
//     probe.expect_no_msg();                       // nothing else arrived
//     probe.expect_terminated(echo);               // watch echo, wait for it to stop
//
// A failed expectation throws volley::test_failure, whose what() names the
// type that was expected and the one that came instead (or that nothing
// came). Catch2 reports an exception escaping a test case as a failure with
// that text, so `auto p = probe.expect_msg<pong>();` needs no REQUIRE around
// it; REQUIRE_THROWS_AS(..., volley::test_failure) checks that one fails.
// The message that failed an expectation is consumed, as in Akka's TestKit:
// the next expectation looks at the message after it.
//
// Expectations take the messages in arrival order and never skip one.
// Their timeouts are upper bounds for a failing test, not timed assertions:
// an expectation that holds returns as soon as its message is there.
//
// Typed and untyped replies: `ref()` is an actor_ref whose tell accepts any
// message type, so an actor that keeps a typed ref, or a test that sends
// directly, needs nothing more. A reply through an untyped ref
// (`ctx.sender().tell(m, ctx)`, an any_ref field) is checked against the
// probe actor's `accepts` list like any untyped send; name the types the
// probe must accept that way as template arguments:
//
//     volley::basic_test_probe<pong, ack> probe(sys);  // ctx.sender() may send pong and ack
//
// Not for: asks *to* the probe (the reply would be `unit` at once), or for
// counting messages under load (use an actor and an atomic for that).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <volley/engine/actor_ref.hpp>
#include <volley/engine/context.hpp>
#include <volley/engine/detail/thread_safety.hpp>
#include <volley/engine/messages.hpp>
#include <volley/engine/system.hpp>
#include <volley/engine/type_info.hpp>
#include <volley/engine/watch.hpp>

namespace volley {

/// Thrown by a test_probe expectation that does not hold; what() says what
/// was expected and what came instead.
class test_failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

/// One message the probe received, its type erased. shared_ptr<void>
/// because it remembers how to destroy the message (the probe may die with
/// messages of any type still queued) and holds move-only messages too.
struct probe_entry {
  type_id_t id;
  std::string_view type;
  std::shared_ptr<void> msg;
  any_ref sender;  ///< empty when the message came without one
};

/// The queue between the probe's actor (producer, on a worker) and the test
/// thread (consumer). Shared by both, so a message that arrives after the
/// test_probe object is gone has somewhere to go.
class probe_queue {
 public:
  void push(probe_entry e) {
    {
      lock_guard lock(mu_);
      entries_.push_back(std::move(e));
    }
    cv_.notify_one();
  }

  /// The oldest message, or nothing when none came before `deadline`.
  std::optional<probe_entry> pop(std::chrono::steady_clock::time_point deadline) {
    unique_lock lock(mu_);
    // A loop rather than wait_until's predicate: the analysis cannot see
    // that a lambda runs with mu_ held.
    while (entries_.empty()) {
      if (cv_.wait_until(lock.native(), deadline) == std::cv_status::timeout && entries_.empty()) {
        return std::nullopt;
      }
    }
    probe_entry e = std::move(entries_.front());
    entries_.pop_front();
    return e;
  }

 private:
  mutex mu_;
  std::condition_variable cv_;
  std::deque<probe_entry> entries_ VOLLEY_GUARDED_BY(mu_);
};

/// Commands from the test thread that must run on the probe's actor
/// (ctx.watch only works there). Sent as asks, so they have happened when
/// the call returns.
struct probe_watch {
  any_ref target;
};
struct probe_unwatch {
  any_ref target;
};

template <class M>
inline constexpr bool is_probe_command_v =
    std::is_same_v<M, probe_watch> || std::is_same_v<M, probe_unwatch>;

/// The actor behind a probe: records every message with its sender.
template <class... Accepts>
class probe_actor {
 public:
  using accepts = volley::accepts<Accepts...>;

  explicit probe_actor(std::shared_ptr<probe_queue> queue) : queue_(std::move(queue)) {}

  void on(probe_watch&& w, context& ctx) { ctx.watch(w.target); }
  void on(probe_unwatch&& w, context& ctx) { ctx.unwatch(w.target); }

  // Any other type, terminated included. A poison pill still stops the
  // probe, as it stops every actor. The engine hands handlers an rvalue, so
  // M is the message type itself and move-only messages are kept too.
  template <class M>
  requires(!std::is_reference_v<M> && !std::is_same_v<M, poison_pill> &&
           !is_probe_command_v<M>) void on(M&& m, context& ctx) {
    queue_->push(
        probe_entry{type_id<M>(), type_name<M>(), std::make_shared<M>(std::move(m)), ctx.sender()});
  }

 private:
  std::shared_ptr<probe_queue> queue_;
};

}  // namespace detail

/// A probe that accepts `Accepts...` through untyped refs as well (see the
/// file comment); `test_probe` is the one that accepts typed sends only.
template <class... Accepts>
class basic_test_probe {
 public:
  using actor_type = detail::probe_actor<Accepts...>;
  using duration = std::chrono::milliseconds;

  /// How long an expectation waits before it fails. One that holds returns
  /// when its message arrives, so this only bounds how long a failing test
  /// waits; it is long because sanitizer builds on a loaded 2-core machine
  /// take hundreds of ms for what takes µs in a release build, and a
  /// timeout must never make a healthy test fail.
  static constexpr duration default_timeout{10'000};
  /// How long expect_no_msg() listens by default: enough for a message
  /// already on its way to arrive on an idle machine. Silence can never be
  /// proven, so this is a sanity check, not a guarantee.
  static constexpr duration default_quiet{100};

  /// Spawns the probe's actor in `sys` (a top-level actor, named `name`
  /// when given).
  explicit basic_test_probe(system& sys, std::string name = {})
      : queue_(std::make_shared<detail::probe_queue>()),
        ref_(sys.spawn<actor_type>(props{.name = std::move(name), .dispatcher = {}}, queue_)) {}

  /// Stops the probe's actor; messages still queued are dropped with it.
  ~basic_test_probe() {
    try {
      ref_.stop();
    } catch (...) {
      // The system is gone or stopping: the actor is stopping anyway.
    }
  }
  basic_test_probe(const basic_test_probe&) = delete;
  basic_test_probe& operator=(const basic_test_probe&) = delete;

  /// The probe as a target and as a sender to put in messages.
  const actor_ref<actor_type>& ref() const noexcept { return ref_; }

  // -- sending as the probe ---------------------------------------------------------

  /// `to.tell(m)` with the probe as the sender, so the receiver's
  /// ctx.sender() is the probe. Works with actor_ref<A> and any_ref.
  template <class Ref, class M>
  void send(const Ref& to, M&& m) const {
    to.tell(std::forward<M>(m), context(ref_.cell()));
  }

  /// The sender of the last message an expectation returned (empty if it
  /// had none). The ref is counted: it stays valid after that actor stops.
  const any_ref& last_sender() const noexcept { return last_sender_; }

  /// Send `m` to last_sender(), with the probe as the sender.
  template <class M>
  void reply(M&& m) const {
    if (!last_sender_) {
      throw test_failure("test_probe::reply: the last message had no sender to reply to");
    }
    send(last_sender_, std::forward<M>(m));
  }

  // -- expectations ---------------------------------------------------------------

  /// The next message, which must be a T within `timeout`.
  template <class T>
  T expect_msg(duration timeout = default_timeout) {
    return expect_msg<T>([](const T&) { return true; }, timeout);
  }

  /// The next message, which must be a T for which `pred` holds.
  template <class T, class Pred>
  requires std::is_invocable_r_v<bool, Pred&, const T&> T
  expect_msg(Pred pred, duration timeout = default_timeout) {
    const std::string what = "expect_msg<" + std::string(type_name<T>()) + ">";
    detail::probe_entry e = next(what, timeout);
    if (e.id != type_id<T>()) {
      throw test_failure(what + ": got a message of type " + std::string(e.type) + " instead");
    }
    T& m = *static_cast<T*>(e.msg.get());
    if (!pred(std::as_const(m))) {
      throw test_failure(what + ": the message did not satisfy the predicate");
    }
    last_sender_ = std::move(e.sender);
    return std::move(m);
  }

  /// Nothing may arrive within `quiet`.
  void expect_no_msg(duration quiet = default_quiet) {
    if (auto e = queue_->pop(std::chrono::steady_clock::now() + quiet)) {
      throw test_failure("expect_no_msg: got a message of type " + std::string(e->type));
    }
  }

  /// Watch `target` (once per probe and target) and expect the next
  /// message to be its volley::terminated.
  terminated expect_terminated(const any_ref& target, duration timeout = default_timeout) {
    watch(target);
    const std::string what = "expect_terminated(" + target.path() + ")";
    detail::probe_entry e = next(what, timeout);
    if (e.id != type_id<terminated>()) {
      throw test_failure(what + ": got a message of type " + std::string(e.type) + " instead");
    }
    auto& t = *static_cast<terminated*>(e.msg.get());
    if (!(t.actor == target)) {
      throw test_failure(what + ": got the termination of " + t.actor.path() + " instead");
    }
    return std::move(t);
  }

  // -- death watch ---------------------------------------------------------------

  /// Watch `target` from the probe's actor: its volley::terminated will be
  /// queued like any message. Done when this returns. Watching a target a
  /// second time does nothing (the probe would otherwise be told twice when
  /// the first terminated was already taken).
  void watch(const any_ref& target) {
    for (const any_ref& w : watched_) {
      if (w == target) return;
    }
    command(detail::probe_watch{target}, "watch");
    watched_.push_back(target);
  }

  /// Stop watching `target`; a terminated not yet queued will not come.
  void unwatch(const any_ref& target) {
    command(detail::probe_unwatch{target}, "unwatch");
    std::erase_if(watched_, [&](const any_ref& w) { return w == target; });
  }

 private:
  detail::probe_entry next(const std::string& what, duration timeout) {
    auto e = queue_->pop(std::chrono::steady_clock::now() + timeout);
    if (!e) {
      throw test_failure(what + ": no message within " + std::to_string(timeout.count()) + " ms");
    }
    return std::move(*e);
  }

  template <class Command>
  void command(Command c, const char* name) {
    auto r = ref_.ask(std::move(c)).get(default_timeout);
    if (!r) {
      throw test_failure(std::string("test_probe::") + name +
                         ": the probe's actor did not answer (" + r.err().message + ")");
    }
  }

  std::shared_ptr<detail::probe_queue> queue_;
  actor_ref<actor_type> ref_;
  any_ref last_sender_;
  std::vector<any_ref> watched_;  // test thread only
};

/// The usual probe: accepts any message through its typed ref().
using test_probe = basic_test_probe<>;

}  // namespace volley

// volley/engine/ask.hpp — request/response from outside the actors.
//
//     volley::future<int> f = counter.ask(get_total{});
//     volley::result<int> r = f.get(std::chrono::seconds(1));
//     if (r) use(r.value()); else log(r.err().message);
//
// The reply is the handler's return value (void handlers reply `unit`), or
// comes later through ctx.reply_later<R>() / a reply_task<R> (reply.hpp).
// get() and get(timeout) block the calling thread: first a short spin (a
// futex wake-up across cores costs tens of µs, a reply often comes sooner),
// then a futex wait. A request whose reply a busy-polling remote node will
// bring spins longer (poll_for_reply).
//
// Inside an actor on a shared pool (the default pool, a configured pool, the
// deterministic dispatcher) a blocking get is refused with
// errc::would_deadlock, always — whether or not the reply has already
// arrived, so code that passes a test cannot fail under load: it would hold
// a worker hostage waiting for actors that may need that very worker. The
// request has already been sent by then: the actor handles it, and its reply
// is dropped (a `reply_undeliverable` dead letter once the future is gone);
// the future stays usable with then(). An actor on the `pinned` dispatcher
// has a thread of its own and may block. Inside actors prefer ctx.ask
// (ask_from_actor.hpp). then(f) runs f on the thread that completes the
// request (usually a worker) — keep it short.
//
// If the send throws (the message's copy, or memory running out), ask()
// throws and nothing was sent: there is no future and nothing to clean up.
// If the reply's move throws as it is stored in the request, the asker gets
// errc::handler_failed naming the exception (never a hang). A timeout's
// error ("deadline passed") is built without allocating: the timer thread
// cannot fail to complete a request.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include <volley/engine/detail/ask_status.hpp>
#include <volley/engine/detail/envelope.hpp>
#include <volley/engine/detail/timer.hpp>
#include <volley/engine/result.hpp>

namespace volley {

namespace detail {

/// Futex helpers shared by every blocking wait in the engine (futex.cpp).
/// wait: sleeps while `word == expected`, at most until `deadline` (or
/// forever when deadline is nullopt). Returns false on timeout.
bool futex_wait_until(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                      std::optional<std::chrono::steady_clock::time_point> deadline) noexcept;
void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept;

/// what() of an exception, or a fixed text for other thrown types (ask.cpp).
std::string describe_exception(const std::exception_ptr& e);

/// An error whose making cannot throw: with `text` if there is memory for
/// it, else with the code alone (a completion that failed to build its
/// error would leave its request open for ever).
inline error error_or_bare(errc code, const char* text) noexcept {
  error e{code, {}};
  try {
    e.message = text;
  } catch (...) {
  }
  return e;
}

/// Inside a catch: `code` with "<what>: <the exception's what()>", or with
/// the code alone when there is no memory for the text.
inline error current_exception_error(errc code, const char* what) noexcept {
  error e{code, {}};
  try {
    e.message = std::string(what) + ": " + describe_exception(std::current_exception());
  } catch (...) {
  }
  return e;
}

/// An ask's timeout, as the timer thread completes it: the text is short
/// enough for std::string's inline buffer (15 characters in libstdc++, 22
/// in libc++), so it costs no allocation there (ask_allocation_test counts
/// them), and error_or_bare covers a library whose buffer is smaller.
inline error timeout_error() noexcept {
  return error_or_bare(errc::timeout, "deadline passed");
}

/// A reply that a busy-polling transport will bring: the next blocking wait
/// of this thread on `request` looks for it (yielding the core on each
/// look) for up to `window` before it sleeps on the futex, instead of the
/// usual 20 µs (ask_sync::spin). For a remote node whose loop never sleeps
/// (remote `transport.busy_poll`), whose asks come back in about a busy-
/// poll round trip: a futex wake would cost a switch in and out of this
/// thread, and a core left idle meanwhile for the answering loop's wake-up
/// to land on. One request per thread, noted by the thread that sends it;
/// a wait on another request, or on another thread, spins as usual. ask.cpp.
void poll_for_reply(const void* request, std::chrono::nanoseconds window) noexcept;
/// The window poll_for_reply() noted for `request` on this thread, or zero;
/// any note is cleared (a note lasts one wait).
std::chrono::nanoseconds take_reply_poll(const void* request) noexcept;
/// The window of this thread's note, whatever request it names, or zero;
/// leaves it in place (tests: whether a send noted its request).
std::chrono::nanoseconds noted_reply_poll() noexcept;

/// True on a thread that runs actors.
bool on_worker_thread() noexcept;
/// True where a blocking get() is refused: a thread of a shared worker pool
/// (every actor thread but a `pinned` actor's own). ask.cpp.
bool blocking_refused_here() noexcept;

/// Everything an ask_state synchronises through: its status word, its
/// count, the futex its reader sleeps on, its timeout timer's cancel. This
/// is the product's; tests/checker/ask_state_checker_test.cpp puts model
/// atomics, a model futex and a model timer in its place (as the queues
/// take `Atom`) to run ask_state's own finish() and wait() under every
/// interleaving, and ask_timeout_race_test a known-bad status word.
struct ask_sync {
  using status = ask_status;  // detail/ask_status.hpp
  template <class T>
  using atomic = std::atomic<T>;
  using timer = timer_base;
  using deadline = std::optional<std::chrono::steady_clock::time_point>;

  static bool blocking_refused() noexcept { return blocking_refused_here(); }

  /// Wait actively for a while before the futex: replies from a busy system
  /// arrive in a few µs, far less than a futex wake-to-run (~38 µs from the
  /// waker's FUTEX_WAKE until this thread runs again, across cores on the
  /// reference box). The first 2 µs spin; after that each look yields, so
  /// that a caller sharing a core with the worker that must answer (one
  /// worker per core plus this thread is one thread too many) hands the core
  /// over instead of burning it (measured: a pure 20 µs spin made the answer
  /// wait for the spin to end, p50 25 µs). A request that poll_for_reply()
  /// named looks for as long as its window says, never past `d`.
  /// The pure spin at the start of the wait, and the whole active wait
  /// (spin, then yielding looks) unless a poll window asks for longer.
  static constexpr std::chrono::microseconds pure_spin{2};
  static constexpr std::chrono::microseconds active_wait{20};

  template <class Done>
  static void spin(const void* request, deadline d, Done done) {
    auto start = std::chrono::steady_clock::now();
    auto spin_until = start + pure_spin;
    auto yield_until = start + std::max<std::chrono::steady_clock::duration>(
                                   active_wait, take_reply_poll(request));
    if (d.has_value() && *d < yield_until) yield_until = *d;
    for (auto now = start; !done() && now < yield_until; now = std::chrono::steady_clock::now()) {
      if (now >= spin_until) std::this_thread::yield();
    }
  }
  /// Sleeps while `word == expected`, until `d`; false on timeout.
  static bool futex_wait(atomic<std::uint32_t>& word, std::uint32_t expected, deadline d) noexcept {
    return futex_wait_until(word, expected, d);
  }
  static void futex_wake(atomic<std::uint32_t>& word) noexcept { futex_wake_all(word); }
  /// One atomic exchange (timer_service.hpp): no lock, no wake.
  static void cancel_timer(timer* t) noexcept { timer_cancel(t->core, t); }
  static void release_timer(timer* t) noexcept { t->release(); }
};

/// Where the engine's requests live: the envelope pool (envelope.hpp,
/// envelope_alloc), not the general allocator. A request is made on the
/// asker's thread and often freed on the replier's or the timer's, as a
/// message is, and costs about as much to new/delete as the rest of an ask
/// (callgrind, bank transaction: ~225 of 1,520 instructions per transfer).
/// Sized: `delete this` through ask_state's virtual destructor hands the
/// dynamic type's size, so the block goes back to its own class. Freed
/// blocks are poisoned under ASan (pool_poisoning.hpp), so a request used
/// after its last release is still reported, and freed twice too
/// (block_cache.hpp). A mixin rather than in ask_state: the checker's
/// requests (ask_state with model atomics) link no engine.
struct pooled_request {
  static void* operator new(std::size_t n) { return envelope_alloc(n); }
  static void operator delete(void* p, std::size_t n) noexcept { envelope_free(p, n); }
};

/// One request: its state word, its result, its timeout, its count. What
/// reads the result is the subclass's: future_state (get(), then()), or
/// ctx.ask's continued_ask and resumed_ask (ask_from_actor.hpp), which hold
/// their continuation inline and so carry no std::function (32 B).
/// `Sync` is ask_sync except under the checker and in ask_timeout_race_test
/// (see ask_sync); every request the engine makes uses the default.
template <class R, class Sync = ask_sync>
class ask_state {
  using status_word = typename Sync::status;

 public:
  ask_state() noexcept {}
  ask_state(const ask_state&) = delete;
  ask_state& operator=(const ask_state&) = delete;
  virtual ~ask_state() {
    if (stored_) value_.~result<R>();
  }

  /// First completion wins (a reply, a timeout, a dead letter). Returns
  /// false for a later one, or when the future was dropped unanswered: the
  /// caller reports that reply as undeliverable.
  bool complete(result<R> r) { return finish(std::move(r), false); }

  /// `from_timer`: called by the timeout timer itself, on the timer thread
  /// (it has claimed the firing, no lock held), so the timer need not be
  /// cancelled — only our count on it dropped. Otherwise the cancel is one
  /// atomic exchange (timer_service.hpp): a reply before the timeout takes
  /// no lock and wakes no thread.
  bool finish(result<R> r, bool from_timer) {
    if (!status_.claim()) return false;
    if (typename Sync::timer* t = std::exchange(timeout_, nullptr)) {
      if (!from_timer) Sync::cancel_timer(t);
      Sync::release_timer(t);
    }
    store(std::move(r));
    std::uint32_t old = status_.publish();  // the protocol: detail/ask_status.hpp
    if (old == status_word::waiting) Sync::futex_wake(status_.word());
    if (old == status_word::has_callback) run_callback();
    return true;
  }

  /// The future went away without a result: nobody will read a reply.
  void abandon() noexcept { status_.abandon(); }

  /// A snapshot: completed (answered, timed out) or abandoned.
  bool claimed() const noexcept { return status_.claimed(); }

  /// A timer that completes this request with errc::timeout (ctx.ask).
  void set_timeout(typename Sync::timer* t) noexcept { timeout_ = t; }

  /// The winner's value, or, when R's move throws (the request is claimed
  /// by then: nobody else will complete it), errc::handler_failed saying
  /// why. Never throws, so a claimed request is always published.
  void store(result<R>&& r) noexcept {
    try {
      ::new (static_cast<void*>(&value_)) result<R>(std::move(r));
    } catch (...) {
      ::new (static_cast<void*>(&value_)) result<R>(current_exception_error(
          errc::handler_failed, "the reply could not be moved into the request"));
    }
    stored_ = true;
  }

  result<R> wait(std::optional<std::chrono::steady_clock::time_point> deadline) {
    // Refused before looking at the status: the answer must not depend on
    // whether the reply happens to be there already.
    if (Sync::blocking_refused()) {
      return error{errc::would_deadlock,
                   "blocking get() on an actor worker thread (the request was sent); use ctx.ask, "
                   "or the pinned dispatcher for blocking work"};
    }
    if (!status_.is_done()) {
      // The address the sender noted (poll_for_reply): the request as an
      // ask_state<R>*, which is what an ask's envelope hands on.
      Sync::spin(static_cast<const void*>(this), deadline, [this] { return status_.is_done(); });
      status_.announce_wait();
      while (!status_.is_done()) {
        if (!Sync::futex_wait(status_.word(), status_word::waiting, deadline) &&
            !status_.is_done()) {
          return timeout_error();
        }
      }
    } else {
      // The reply came before the wait: the sender's note (poll_for_reply)
      // is spent all the same, so that it cannot lengthen a later wait.
      static_cast<void>(take_reply_poll(this));
    }
    return std::move(value_);
  }

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  /// add_ref() for a request that no other thread can reach yet: not sent,
  /// its timer not armed. A plain load and store, not an atomic add: the
  /// send (the mailbox's exchange) and the timer's arming publish it.
  /// ctx.ask and an outside ask count their envelope's hold this way.
  void add_ref_unpublished() noexcept {
    refs_.store(refs_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 protected:
  /// Makes run_callback() the continuation; runs it now if already done.
  void arm_callback() {
    if (!status_.register_callback()) run_callback();
  }

  /// The continuation, once the request is done (take_result() holds the
  /// result): on the completing thread, or on the arming one if the request
  /// was done before arm_callback().
  virtual void run_callback() = 0;

  /// The result, once done; taken once.
  result<R> take_result() { return std::move(value_); }

 private:
  // Layout (x86-64): the vptr, the status (8 B), the count and stored_ in
  // one 8-byte word, the timer, the value. Where a std::optional held the
  // value, its flag took a word of its own; stored_ sits in the count's
  // padding instead. ctx.ask's request with a 16-byte continuation
  // (continued_ask, ask_from_actor.hpp) is then 128 bytes: two lines.
  status_word status_;
  typename Sync::template atomic<std::uint32_t> refs_{1};
  // Written by the winner between claim() and publish(), read by the
  // destructor: the last release's acq_rel orders the two.
  bool stored_ = false;
  typename Sync::timer* timeout_ = nullptr;  // counted; set before the request is sent
  union {
    result<R> value_;  // alive once stored_
  };
};

/// A request read through a future: a blocking get(), or then()'s function.
template <class R>
class future_state final : public ask_state<R>, public pooled_request {
 public:
  template <class F>
  void then(F&& f) {
    callback_ = std::forward<F>(f);
    this->arm_callback();
  }

 private:
  void run_callback() override { callback_(this->take_result()); }

  std::function<void(result<R>)> callback_;
};

/// Completes an ask with errc::timeout when its deadline passes first.
/// Holds a count on the request; the request holds one on the timer until
/// it completes (whichever way), which breaks the cycle.
template <class R, class Sync = ask_sync>
struct ask_timeout final : timer_base {
  ask_state<R, Sync>* state;
  explicit ask_timeout(ask_state<R, Sync>* s) : state(s) {
    s->add_ref();
    // On the timer thread, where a throw is std::terminate: the error is
    // built without allocating, and a then() continuation that throws is
    // dropped here as reply_handle drops it on a worker.
    callback = [](timer_base* t) {
      try {
        static_cast<ask_timeout*>(t)->state->finish(timeout_error(), true);
      } catch (...) {  // a continuation threw: nobody is left to tell
      }
    };
    destroy = [](timer_base* t) noexcept {
      auto* self = static_cast<ask_timeout*>(t);
      if (self->state != nullptr) self->state->release();
      delete self;
    };
    // The reply came first and the cancel stopped the firing: the request
    // need not wait for the timer thread to meet this node (it would then
    // be freed there, away from the worker's allocator cache). The
    // completer holds its own count, so this is never the last one.
    on_cancelled = [](timer_base* t) noexcept {
      std::exchange(static_cast<ask_timeout*>(t)->state, nullptr)->release();
    };
    // The system stopped before the deadline: the timeout would have been
    // the request's last resort, so it completes now rather than never.
    on_dropped = [](timer_base* t) noexcept {
      try {
        static_cast<ask_timeout*>(t)->state->finish(
            error_or_bare(errc::broken_promise, "the actor system stopped before a reply came"),
            true);
      } catch (...) {  // a continuation threw: nobody is left to tell
      }
    };
  }
};

}  // namespace detail

/// The eventual reply of an ask. Move-only; get() or then(), once.
template <class R>
class future {
 public:
  explicit future(detail::future_state<R>* s) noexcept : state_(s) {}
  future(future&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  future& operator=(future&& o) noexcept {
    if (this != &o) {
      reset();
      state_ = std::exchange(o.state_, nullptr);
    }
    return *this;
  }
  future(const future&) = delete;
  future& operator=(const future&) = delete;
  ~future() { reset(); }

  /// Wait for the reply without a deadline.
  result<R> get() { return settle(take()->wait(std::nullopt)); }

  /// Wait at most `timeout`; errc::timeout after that (the request stays
  /// open: a later get may still receive the reply).
  template <class Rep, class Period>
  result<R> get(std::chrono::duration<Rep, Period> timeout) {
    return settle(take()->wait(std::chrono::steady_clock::now() + timeout));
  }

  /// Run f(result<R>) when the reply arrives, on the completing thread.
  template <class F>
  void then(F&& f) {
    consumed_ = true;
    take()->then(std::forward<F>(f));
  }

 private:
  result<R> settle(result<R> r) {
    // A timeout or a refusal leaves the request open: then() may still take it.
    if (r.ok() || (r.err().code != errc::timeout && r.err().code != errc::would_deadlock)) {
      consumed_ = true;
    }
    return r;
  }

  detail::future_state<R>* take() {
    if (!state_) throw std::logic_error("volley::future: get() on an empty or moved-from future");
    return state_;
  }
  void reset() noexcept {
    if (state_) {
      if (!consumed_) state_->abandon();
      std::exchange(state_, nullptr)->release();
    }
  }

  detail::future_state<R>* state_;
  bool consumed_ = false;  // a result was taken or a continuation registered
};

}  // namespace volley

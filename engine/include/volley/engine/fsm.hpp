// volley/engine/fsm.hpp — actors written as finite state machines.
//
// Use an fsm when an actor's reaction to a message depends on where it is in
// a protocol (waiting for a reply, retrying, closed) and some states should
// end by themselves after a while: states, the data they carry, per-state
// idle timeouts and a transition hook, instead of flags and hand-kept timers.
// For an actor whose every message means the same thing, use a plain actor.
//
//     enum class light { off, red, green };
//     struct timing { int cycles = 0; };
//     struct power_on {};
//
//     struct traffic_light : volley::fsm<traffic_light, light, timing> {
//       using accepts = volley::accepts<power_on>;   // what the states may handle
//       traffic_light() : fsm(light::off, timing{}) {
//         when(light::off).on([](const power_on&) { return goto_(light::red); });
//         when(light::red, 2s)                                   // idle timeout
//             .on([](const volley::state_timeout&) { return goto_(light::green); });
//         when(light::green, 3s).on([this](const volley::state_timeout&) {
//           return goto_(light::red).using_(timing{data().cycles + 1});
//         });
//         on_transition([](light from, light to) { log(from, to); });
//       }
//     };
//
// The rules:
//  * Messages. An fsm handles the types listed in `accepts` (plus
//    volley::state_timeout); sending it any other type does not compile, as
//    with any actor. Do not declare on() in the derived class: it would hide
//    the fsm's. List volley::terminated to let the states see deaths of
//    watched actors.
//  * Handlers. `when(s).on(f)`: f takes `const M&` (and optionally a
//    `volley::context&`) and returns a transition: goto_(s), stay(), stop()
//    or unhandled(); `.using_(d)` on any of them replaces the data. A
//    message with no handler in the current state, or whose handler returns
//    unhandled(), goes to the when_unhandled handler.
//  * Timeouts. `when(s, d)` gives state s an idle timeout: a
//    volley::state_timeout arrives once the actor has spent `d` in s without
//    taking a message. Every message taken re-arms it — handled or unhandled,
//    ending in stay() or in goto_(s) (Akka's rule, and the seed guide's "does
//    not receive any messages") — and leaving s cancels it. It runs on the
//    actor's keyed timers (key "volley.fsm.state_timeout", reserved), so a
//    timeout already queued when it is re-armed or cancelled is never
//    handled: it becomes a dead letter with reason timer_cancelled.
//  * Transition hook. on_transition(f) runs f(from, to) on every goto_ —
//    also goto_ to the current state, as in Akka, so "re-enter s" is
//    observable; stay() never runs it. It runs after the state and data have
//    changed (data() is the new data) and before the new state's timeout is
//    armed. Several hooks run in the order they were added.
//  * Unhandled. when_unhandled(f) gets the state, the data and the
//    message's type name, and may return a transition (void means stay()).
//    Without one, an unhandled message is published as a dead letter with
//    reason `unhandled` (counted, logged with the usual rate limit) and the
//    fsm stays.
//  * Start. The fsm arms the first state's timeout in its pre_start. A
//    derived class with a pre_start of its own must call
//    `fsm::pre_start(ctx)` from it (and a post_restart of its own must call
//    pre_start); forgetting fails the actor at its first message with a
//    std::logic_error that says so.
//  * Asks. Handlers return transitions, not replies: an ask to an fsm gets
//    volley::unit once the message is taken. Reply by telling the sender.
//
// Cost: the per-state handlers are stored type-erased (a std::function per
// state and message type, found by a linear scan of the current state's
// few handlers) and every message re-arms a keyed timer when its state has
// a timeout. That is a few hundred nanoseconds per message, fine for
// protocol logic; an actor on the message hot path should be a plain actor.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <volley/engine/actor.hpp>
#include <volley/engine/context.hpp>
#include <volley/engine/dead_letters.hpp>
#include <volley/engine/detail/handler.hpp>
#include <volley/engine/messages.hpp>
#include <volley/engine/system.hpp>
#include <volley/engine/type_info.hpp>

namespace volley {

/// Delivered to an fsm that has stayed in a state with a timeout (`when(s, d)`)
/// for `d` without taking a message.
struct state_timeout {};

/// The data of an fsm that needs none: `fsm<Self, State>`.
struct no_data {};

namespace detail {

template <class M, class List>
inline constexpr bool listed_in = false;
template <class M, class... Ms>
inline constexpr bool listed_in<M, accepts<Ms...>> = (std::is_same_v<M, Ms> || ...);

/// The messages an fsm's on() takes: its `accepts` list and state_timeout.
template <class Self, class M>
concept fsm_message =
    std::is_same_v<M, state_timeout> || listed_in<M, typename accepted_list<Self>::type>;

/// The message type of a handler `f(const M&)` or `f(const M&, context&)`.
template <class Sig>
struct handler_signature {};
template <class C, class R, class A, class... Rest>
struct handler_signature<R (C::*)(A, Rest...) const> {
  using message = std::remove_cvref_t<A>;
};
template <class C, class R, class A, class... Rest>
struct handler_signature<R (C::*)(A, Rest...)> {
  using message = std::remove_cvref_t<A>;
};
template <class F>
using handler_message_t =
    typename handler_signature<decltype(&std::remove_cvref_t<F>::operator())>::message;

}  // namespace detail

/// Base of an actor that is a finite state machine over `State` (usually an
/// enum) carrying `Data`. `Self` is the derived class, as for volley::actor.
template <class Self, class State, class Data = no_data>
class fsm : public actor<Self> {
 public:
  // -- transitions --------------------------------------------------------------

  /// What a handler decides: returned by goto_(), stay(), stop(), unhandled().
  class transition {
   public:
    /// Replace the fsm's data as part of this transition.
    transition using_(Data d) && {
      data_.emplace(std::move(d));
      return std::move(*this);
    }

   private:
    friend class fsm;
    enum class kind { go, stay, stop, unhandled };
    explicit transition(kind k, std::optional<State> target = std::nullopt)
        : kind_(k), target_(std::move(target)) {}
    kind kind_;
    std::optional<State> target_;
    std::optional<Data> data_;
  };

  /// Move to state `s` (runs the transition hooks, also when `s` is the current state).
  static transition goto_(State s) { return transition(transition::kind::go, std::move(s)); }
  /// Remain in the current state; its timeout is re-armed.
  static transition stay() { return transition(transition::kind::stay); }
  /// Stop the actor once this message is handled (post_stop runs; what is
  /// still queued becomes dead letters).
  static transition stop() { return transition(transition::kind::stop); }
  /// Hand the message to the when_unhandled handler.
  static transition unhandled() { return transition(transition::kind::unhandled); }

  // -- what the engine calls ------------------------------------------------------

  /// Arms the initial state's timeout. A derived pre_start must call it.
  void pre_start(context&) {
    started_ = true;
    arm_timeout();
  }

  /// Every message of the fsm comes through here and goes to the current state.
  template <class M>
  requires detail::fsm_message<Self, M>
  void on(const M& m, context& ctx) { dispatch(type_id<M>(), type_name<M>(), &m, ctx); }

  // -- inspection -------------------------------------------------------------------

  const State& state() const noexcept { return state_; }
  const Data& data() const noexcept { return data_; }

 protected:
  // -- building the machine (in the derived constructor) ------------------------------

  /// The handlers of one state, added with on(); returned by when().
  class state_handlers {
   public:
    /// Handle `M` in this state with `f(const M&)` or `f(const M&, context&)`.
    template <class M, class F>
    state_handlers& on(F&& f) {
      owner_->template add_handler<M>(index_, std::forward<F>(f));
      return *this;
    }
    /// The same, with M taken from f's parameter (f must not be generic).
    template <class F>
    requires requires { typename detail::handler_message_t<F>; }
    state_handlers& on(F&& f) { return on<detail::handler_message_t<F>>(std::forward<F>(f)); }

   private:
    friend class fsm;
    state_handlers(fsm* owner, std::size_t index) noexcept : owner_(owner), index_(index) {}
    fsm* owner_;
    std::size_t index_;
  };

  explicit fsm(State initial, Data data = Data{})
      : state_(std::move(initial)), data_(std::move(data)) {}

  /// The handlers of state `s`.
  state_handlers when(const State& s) { return state_handlers(this, index_of(s, true)); }

  /// The handlers of state `s`, which times out after `timeout` without a message.
  template <class Rep, class Period>
  state_handlers when(const State& s, std::chrono::duration<Rep, Period> timeout) {
    if (timeout <= std::chrono::duration<Rep, Period>::zero()) {
      throw std::invalid_argument("volley::fsm: a state timeout must be positive");
    }
    std::size_t i = index_of(s, true);
    states_[i].timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout);
    return state_handlers(this, i);
  }

  /// Call `f(from, to)` on every goto_.
  template <class F>
  void on_transition(F&& f) {
    static_assert(std::is_invocable_v<F&, const State&, const State&>,
                  "volley::fsm: a transition hook is called as f(from, to)");
    transition_hooks_.emplace_back(std::forward<F>(f));
  }

  /// Call `f(state, data, type_name)` for messages the current state does not
  /// handle; f returns a transition, or void for stay().
  template <class F>
  void when_unhandled(F&& f) {
    using R = std::invoke_result_t<F&, const State&, const Data&, std::string_view>;
    static_assert(std::is_void_v<R> || std::is_same_v<R, transition>,
                  "volley::fsm: an unhandled handler returns void or a transition");
    if constexpr (std::is_void_v<R>) {
      unhandled_ = [f = std::forward<F>(f)](const State& s, const Data& d,
                                            std::string_view type) mutable -> transition {
        f(s, d, type);
        return stay();
      };
    } else {
      unhandled_ = std::forward<F>(f);
    }
  }

 private:
  using erased_handler = std::function<transition(const void*, context&)>;

  struct handler_entry {
    type_id_t type;
    erased_handler fn;
  };

  struct state_entry {
    State state;
    std::optional<std::chrono::nanoseconds> timeout;
    std::vector<handler_entry> handlers;
  };

  static constexpr std::size_t none = static_cast<std::size_t>(-1);
  static constexpr std::string_view timeout_key = "volley.fsm.state_timeout";

  std::size_t index_of(const State& s, bool create) {
    for (std::size_t i = 0; i < states_.size(); ++i) {
      if (states_[i].state == s) return i;
    }
    if (!create) return none;
    states_.push_back(state_entry{s, std::nullopt, {}});
    return states_.size() - 1;
  }

  template <class M, class F>
  void add_handler(std::size_t index, F&& f) {
    static_assert(detail::fsm_message<Self, M>,
                  "volley::fsm: add this message type to the fsm's `accepts` list");
    constexpr bool with_context = std::is_invocable_v<F&, const M&, context&>;
    static_assert(with_context || std::is_invocable_v<F&, const M&>,
                  "volley::fsm: a state handler is called as f(const M&) or f(const M&, context&)");
    if constexpr (with_context) {
      static_assert(std::is_same_v<std::invoke_result_t<F&, const M&, context&>, transition>,
                    "volley::fsm: a state handler returns goto_(s), stay(), stop() or unhandled()");
    } else {
      static_assert(std::is_same_v<std::invoke_result_t<F&, const M&>, transition>,
                    "volley::fsm: a state handler returns goto_(s), stay(), stop() or unhandled()");
    }
    auto& handlers = states_[index].handlers;
    for (const auto& h : handlers) {
      if (h.type == type_id<M>()) {
        throw std::logic_error("volley::fsm: a state has one handler per message type (" +
                               std::string(type_name<M>()) + ")");
      }
    }
    handlers.push_back(handler_entry{
        type_id<M>(), [f = std::forward<F>(f)](const void* m, context& ctx) mutable -> transition {
          const M& msg = *static_cast<const M*>(m);
          if constexpr (with_context) {
            return f(msg, ctx);
          } else {
            return f(msg);
          }
        }});
  }

  // One non-template path per fsm type: on<M>() only erases the type.
  void dispatch(type_id_t type, std::string_view name, const void* m, context& ctx) {
    if (!started_) {
      throw std::logic_error(
          "volley::fsm: pre_start of " + std::string(type_name<Self>()) +
          " hides fsm::pre_start; call fsm::pre_start(ctx) from it (and pre_start from a "
          "post_restart of your own)");
    }
    const erased_handler* handler = nullptr;
    if (std::size_t i = index_of(state_, false); i != none) {
      for (auto& h : states_[i].handlers) {
        if (h.type == type) {
          handler = &h.fn;
          break;
        }
      }
    }
    transition t = handler != nullptr ? (*handler)(m, ctx) : unhandled();
    if (t.kind_ == transition::kind::unhandled) {
      t = handle_unhandled(name, ctx);
      // An unhandled handler that answers unhandled() again means "stay".
      if (t.kind_ == transition::kind::unhandled) t.kind_ = transition::kind::stay;
    }
    apply(std::move(t), ctx);
  }

  transition handle_unhandled(std::string_view type, context& ctx) {
    if (unhandled_) return unhandled_(state_, data_, type);
    ctx.system().dead_letters().publish(dead_letter{
        ctx.sender().path(), ctx.path(), std::string(type), dead_letter_reason::unhandled});
    return stay();
  }

  void apply(transition t, context& ctx) {
    if (t.data_) data_ = std::move(*t.data_);
    switch (t.kind_) {
      case transition::kind::stop:
        this->timers().cancel(timeout_key);
        ctx.stop();
        return;
      case transition::kind::go: {
        State from = std::exchange(state_, std::move(*t.target_));
        for (auto& hook : transition_hooks_) hook(from, state_);
        break;
      }
      case transition::kind::stay:
      case transition::kind::unhandled:
        break;
    }
    arm_timeout();
  }

  // Starting the key again replaces the pending timeout, and the keyed
  // timers' generation check drops one already queued: only the newest
  // arming of the current state can ever be handled.
  void arm_timeout() {
    std::size_t i = index_of(state_, false);
    if (i != none && states_[i].timeout) {
      this->timers().start_single(timeout_key, *states_[i].timeout, state_timeout{});
    } else {
      this->timers().cancel(timeout_key);
    }
  }

  State state_;
  Data data_;
  std::vector<state_entry> states_;  // a handful per fsm: a linear scan beats hashing
  std::vector<std::function<void(const State&, const State&)>> transition_hooks_;
  std::function<transition(const State&, const Data&, std::string_view)> unhandled_;
  bool started_ = false;
};

}  // namespace volley

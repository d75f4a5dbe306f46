// volley/engine/context.hpp — what a handler can do besides touching its state.
//
// A handler may take a `context&` as its last parameter:
//
//     void on(const ping& p, volley::context& ctx) {
//       ctx.sender().tell(pong{p.n}, ctx);   // reply, naming ourselves as sender
//       if (p.n == 0) ctx.stop();            // stop after this message
//     }
//
// A context is valid only during the call it was passed to; do not keep it.
#pragma once

#include <string>

#include <volley/engine/fwd.hpp>

namespace volley {

struct props;

class context {
 public:
  /// This actor, untyped. (`self_as<A>()` gives the typed ref.)
  any_ref self() const;
  template <class A>
  actor_ref<A> self_as() const;

  /// The sender of the message being handled, or an empty ref when it was
  /// sent without one (a tell from outside any actor, or without `ctx`).
  any_ref sender() const;

  /// Stop this actor once the current message is handled; the messages
  /// still queued become dead letters. Children are stopped first.
  void stop();

  /// Spawn a child of this actor (defined in system.hpp).
  template <class A, class... Args>
  actor_ref<A> spawn(Args&&... args);
  template <class A, class... Args>
  actor_ref<A> spawn(const props& p, Args&&... args);

  volley::system& system() const;

  /// This actor's path ("/user/parent/child").
  std::string path() const;

  // -- engine side ----------------------------------------------------------

  explicit context(detail::cell_base* self) noexcept : cell_(self) {}
  detail::cell_base* cell() const noexcept { return cell_; }
  void set_current(detail::envelope* e) noexcept { current_ = e; }
  detail::envelope* current() const noexcept { return current_; }
  /// Whether this activation holds a count on the cell (see cell.hpp).
  bool& holds_ref() noexcept { return holds_ref_; }

 private:
  detail::cell_base* cell_;
  detail::envelope* current_ = nullptr;
  bool holds_ref_ = false;
};

}  // namespace volley

// volley/engine/actor.hpp — an optional base for actors that need to know
// their own type: typed self(), and timers.
//
//     struct ticker : volley::actor<ticker> {
//       void pre_start() { timers().start_periodic("tick", 1s, [] { return tick{}; }); }
//       void on(const tick&) { self().tell(tock{}); }
//       void on(const tock&) {}
//     };
//
// Plain classes are actors too; derive from volley::actor<Self> only for
// what it adds. The base learns its cell while spawn constructs the actor,
// so self() works in the constructor already; an actor<Self> made outside
// spawn throws std::logic_error.
#pragma once

#include <stdexcept>

#include <volley/engine/actor_ref.hpp>
#include <volley/engine/timers.hpp>

namespace volley {

namespace detail {
/// The cell whose actor the calling thread is constructing (spawn, restart).
cell_base*& constructing_cell() noexcept;
}  // namespace detail

template <class Self>
class actor {
 public:
  /// This actor, typed.
  actor_ref<Self> self() const { return actor_ref<Self>(cell_); }
  /// This actor's keyed timers (see timers.hpp).
  timer_set<Self> timers() const noexcept { return timer_set<Self>(cell_); }

 protected:
  actor() : cell_(detail::constructing_cell()) {
    if (cell_ == nullptr) {
      throw std::logic_error("volley::actor<Self>: actors are created by spawn, not directly");
    }
  }
  actor(const actor&) = delete;
  actor& operator=(const actor&) = delete;

 private:
  detail::cell_base* cell_;
};

}  // namespace volley

// volley/engine/watch.hpp — death watch: learning that another actor stopped.
//
//     struct monitor {
//       void on(const start_watching& m, volley::context& ctx) { ctx.watch(m.target); }
//       void on(const volley::terminated& t) { std::printf("%s is gone (%s)\n",
//                                               t.actor.path().c_str(), to_string(t.reason)); }
//     };
//
// Exactly one `terminated` per watcher and target, also when the target had
// already stopped when the watch was made. `ctx.unwatch(target)` drops a
// terminated that is queued but not yet handled. A watcher that stops is
// removed from its targets' lists by a message to each of them — nothing
// walks all actors. An actor that watches but has no handler for
// `terminated` gets it as a dead letter (reason: unhandled). A terminated
// for a watcher that has begun stopping itself is dropped without a dead
// letter: it could not act on it, and a parent watching its children is
// always stopping when they die at shutdown (one report per child of every
// clean shutdown would drown the real ones).
#pragma once

#include <volley/engine/actor_ref.hpp>
#include <volley/engine/detail/handler.hpp>

namespace volley {

/// Why a watched actor is gone.
enum class termination_reason {
  stopped,    ///< stop(), poison_pill, or its parent stopped
  killed,     ///< kill()
  failed,     ///< a failure its supervisor answered with stop
  shutdown,   ///< the actor system shut down
  node_down,  ///< its remote node was declared down
};

constexpr const char* to_string(termination_reason r) noexcept {
  switch (r) {
    case termination_reason::stopped:
      return "stopped";
    case termination_reason::killed:
      return "killed";
    case termination_reason::failed:
      return "failed";
    case termination_reason::shutdown:
      return "shutdown";
    case termination_reason::node_down:
      return "node down";
  }
  return "unknown";
}

/// Delivered to a watcher when the actor it watches has stopped.
struct terminated {
  any_ref actor;
  termination_reason reason;
};

namespace detail {

/// Stop an actor so that its watchers see `why` in their terminated (for
/// extensions: remoting stops a remote actor's proxy with node_down).
void stop_with_reason(const any_ref& ref, termination_reason why);

/// Consumer side (watcher): is `target` still watched? Removes it if so.
bool take_watched(cell_base* watcher, cell_base* target) noexcept;

template <class A>
void invoke_terminated(envelope* e, cell_base* c, context& ctx) {
  auto* te = static_cast<message_envelope<terminated>*>(e);
  payload_guard<terminated> guard{te->msg};
  if (!take_watched(c, te->msg.actor.cell())) return;  // unwatched meanwhile: dropped
  if constexpr (has_handler<A, terminated>) {
    (void)call_handler(actor_of<A>(c), std::move(te->msg), ctx);
  } else {
    report_unhandled_in_place(c, e);
  }
}

}  // namespace detail
}  // namespace volley

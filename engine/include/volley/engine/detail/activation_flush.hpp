// volley/engine/detail/activation_flush.hpp — work a layer above the engine
// holds on a thread for the actor running there, pushed out before the actor
// can run on another thread.
//
// A layer that batches an actor's output per thread (remote's send stages,
// remote/src/transport_stage.cpp) must push that batch before the actor can
// run anywhere else: the actor's next activation may run on another worker
// (a steal, the hand-back rule, an injection batch), after a co_await or a
// supervisor's directive, or after an inline turn on a node's I/O loop, and
// its later output, batched there, could otherwise leave first. The layer
// calls flush_at_activation_end() when it leaves something batched; the
// engine calls the function once, on that thread, when the running
// activation ends and before it gives the cell up (run_activation in
// engine/src/activation.cpp: before the budget's requeue, before park()
// and before mark_empty(); after any of those another thread may own the
// cell). On a thread that runs no activation (a plain thread) the request
// simply stays; such a thread does not carry an actor from one place to
// another.
//
// Cost on the engine's hot path: one thread-local load and a not-taken
// branch per activation end; no call, lock or syscall when nothing is
// batched.
#pragma once

namespace volley::detail {

/// Pushes out what the calling thread holds for the actor it ran. Must not
/// throw, and must not run an activation.
using activation_flush = void (*)() noexcept;

/// Asks for `flush` to run on this thread when the activation running here
/// ends, before its cell is given up. One slot per thread, cleared when it
/// runs: a second request before then replaces the first (the one user,
/// remote, flushes all of the thread's batches in one call). nullptr
/// withdraws the request (a thread whose batches are gone).
void flush_at_activation_end(activation_flush flush) noexcept;

}  // namespace volley::detail

// engine/src/ask.cpp — where a blocking get() may wait, and replies that
// reach nobody (reply handles, reply_task).
#include <volley/engine/ask.hpp>

#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include <volley/engine/reply.hpp>

#include "scheduler.hpp"
#include "system_core.hpp"

namespace volley::detail {

bool blocking_refused_here() noexcept {
  // A pinned actor's pool has one thread that runs that actor alone: blocking
  // it holds up nobody else. Every other pool's workers are shared. The name
  // "pinned" is reserved (config validation), so no configured pool has it.
  // A handler that a remote node's loop runs inline (inline_turns) would
  // stall that node's I/O, its own reply included.
  const worker* w = current_worker();
  return (w != nullptr && w->pool->name() != "pinned") || in_inline_turn();
}

namespace {

/// poll_for_reply's note: one per thread, as a thread waits on one request
/// at a time. Trivially constructible, so reaching it costs no guard.
struct reply_poll_note {
  const void* request;
  std::chrono::nanoseconds window;
};
thread_local reply_poll_note reply_poll{nullptr, std::chrono::nanoseconds::zero()};

}  // namespace

void poll_for_reply(const void* request, std::chrono::nanoseconds window) noexcept {
  reply_poll = {request, window};
}

std::chrono::nanoseconds take_reply_poll(const void* request) noexcept {
  // Cleared whatever it named: a note lasts one wait. A note for a request
  // answered through then() and freed can still meet a later request that
  // the allocator put at its address, if no wait came between: that wait
  // then looks longer before it sleeps, never past its window.
  reply_poll_note note = std::exchange(reply_poll, {nullptr, std::chrono::nanoseconds::zero()});
  return note.request == request ? note.window : std::chrono::nanoseconds::zero();
}

std::chrono::nanoseconds noted_reply_poll() noexcept {
  return reply_poll.request != nullptr ? reply_poll.window : std::chrono::nanoseconds::zero();
}

void report_reply_to_nobody(cell_base* replier, std::string_view reply_type) noexcept {
  // The dead-letter report reads a type name and a sender from an envelope;
  // a reply has no envelope of its own, so it gets a stand-in.
  message_info info{};
  info.name = reply_type;
  envelope stand_in{};
  stand_in.info = &info;
  stand_in.sender = nullptr;
  replier->core()->dead_letter(replier, &stand_in, dead_letter_reason::reply_undeliverable);
}

std::string describe_exception(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

}  // namespace volley::detail

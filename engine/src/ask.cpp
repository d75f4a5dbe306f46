// engine/src/ask.cpp — where a blocking get() may wait, and replies that
// reach nobody (reply handles, reply_task).
#include <volley/engine/ask.hpp>

#include "scheduler.hpp"

namespace volley::detail {

bool blocking_refused_here() noexcept {
  // A pinned actor's pool has one thread that runs that actor alone: blocking
  // it holds up nobody else. Every other pool's workers are shared. The name
  // "pinned" is reserved (config validation), so no configured pool has it.
  const worker* w = current_worker();
  return w != nullptr && w->pool->name() != "pinned";
}

}  // namespace volley::detail

// engine/src/context.cpp — stash and coroutine handlers: the parts of a
// handler's context that change how the activation takes messages.
//
// Stash: the message being handled is the mailbox's stub (see
// intrusive_mpsc), so keeping it means moving its payload into a fresh
// envelope (message_info::relocate). unstash_all moves the stash to the
// cell's `front` list, which the activation empties before it looks at the
// mailbox again.
//
// Coroutines: a handler coroutine that suspends becomes the cell's
// `suspended_` frame. While it is set, the activation does not take user
// messages; it parks the mailbox (intrusive_mpsc::park), so a user message
// or the resume (a system message) wakes the cell as usual.
#include <coroutine>
#include <cstdio>
#include <memory>

#include <volley/engine/ask_from_actor.hpp>
#include <volley/engine/context.hpp>
#include <volley/engine/detail/cell.hpp>
#include <volley/engine/task.hpp>

#include "system_core.hpp"

namespace volley {

void context::stash() {
  if (current_ == nullptr || current_->info->relocate == nullptr) {
    // A continuation's message (ask_from_actor.hpp) is part of its request
    // and cannot be kept either: kept, it would run a second time.
    throw std::logic_error(
        "volley: stash() outside a user message handler (a continuation cannot be stashed)");
  }
  detail::cell_extras& ext = cell_->extras();
  if (ext.stash.size() >= ext.stash_capacity) {
    throw stash_overflow("volley: stash of " + cell_->path() + " is full (" +
                         std::to_string(ext.stash_capacity) +
                         " messages); unstash, or raise it with set_stash_capacity");
  }
  ext.stash.reserve(ext.stash.size() + 1);  // may throw before we move anything
  ext.stash.push_back(current_->info->relocate(current_));
  stashed_ = true;
}

void context::unstash_all() {
  detail::cell_extras* ext = cell_->extras_if_any();
  if (ext == nullptr || ext->stash.empty()) return;
  // Stashed messages go before whatever is still waiting in front.
  std::vector<detail::envelope*> merged = std::move(ext->stash);
  ext->stash.clear();
  merged.insert(merged.end(), ext->front.begin() + static_cast<std::ptrdiff_t>(ext->front_next),
                ext->front.end());
  ext->front = std::move(merged);
  ext->front_next = 0;
  cell_->has_front_ = !ext->front.empty();
}

std::size_t context::stash_size() const {
  detail::cell_extras* ext = cell_->extras_if_any();
  return ext == nullptr ? 0 : ext->stash.size();
}

void context::set_stash_capacity(std::size_t n) {
  cell_->extras().stash_capacity = n;
}

}  // namespace volley

namespace volley::detail {

namespace {
using task_handle = std::coroutine_handle<>;

// The coroutine's message: its payload is destroyed and its envelope freed
// once the frame is gone.
void release_coroutine_message(cell_extras& ext) noexcept {
  if (envelope* m = std::exchange(ext.coro_msg, nullptr)) {
    m->info->drop(m, dead_letter_reason::recipient_stopped);  // destroys the payload only
    retire(m);
  }
  if (ext.coro_ctx) ext.coro_ctx->set_current(nullptr);
}

void settle(cell_base* c, task_handle h) {
  cell_extras& ext = c->extras();
  if (ext.coro_ctx) ext.coro_ctx->set_current(nullptr);  // sender() ends at the first suspension
  if (!h.done()) {
    ext.frame = h.address();
    c->suspended_ = true;
    return;
  }
  std::exception_ptr error = std::move(*ext.coro_ctx->coroutine_error());
  h.destroy();
  release_coroutine_message(ext);
  if (error) std::rethrow_exception(error);  // the handler failed
}
}  // namespace

envelope* keep_for_coroutine(cell_base* c, envelope* e) {
  cell_extras& ext = c->extras();
  envelope* kept = e->info->relocate(e);
  ext.coro_msg = kept;
  if (!ext.coro_ctx) ext.coro_ctx = std::make_unique<context>(c);
  ext.coro_ctx->set_current(kept);
  return kept;
}

context& coroutine_context(cell_base* c) noexcept {
  return *c->extras_if_any()->coro_ctx;
}

void adopt_task(cell_base* c, task_handle h, std::exception_ptr* error) {
  c->extras_if_any()->coro_ctx->coroutine_error() = error;
  settle(c, h);
}

void await_request(cell_base* c, const void* request) noexcept {
  c->extras_if_any()->awaited = request;  // made by keep_for_coroutine
}

bool awaits_request(cell_base* c, const void* request) noexcept {
  cell_extras* ext = c->extras_if_any();
  return c->suspended_ && ext != nullptr && ext->awaited == request;
}

void resume_task(cell_base* c) {
  cell_extras& ext = c->extras();
  auto h = task_handle::from_address(std::exchange(ext.frame, nullptr));
  ext.awaited = nullptr;
  c->suspended_ = false;
  h.resume();
  settle(c, h);
}

void discard_kept_messages(cell_base* c) noexcept {
  cell_extras* ext = c->extras_if_any();
  if (ext == nullptr) return;
  if (c->suspended_) {
    // Never resumed after this: its resume message finds no frame waiting.
    c->suspended_ = false;
    ext->awaited = nullptr;
    task_handle::from_address(std::exchange(ext->frame, nullptr)).destroy();
  }
  release_coroutine_message(*ext);
  for (envelope* e : std::exchange(ext->stash, {})) {
    c->sys_->dead_letter(c, e, dead_letter_reason::stashed_on_stop);
    discard(e, dead_letter_reason::stashed_on_stop);
  }
  for (std::size_t i = ext->front_next; i < ext->front.size(); ++i) {
    dead_letter_after_stop(c, ext->front[i]);
    retire(ext->front[i]);
  }
  ext->front.clear();
  ext->front_next = 0;
  c->has_front_ = false;
}

envelope* take_front(cell_base* c) noexcept {
  cell_extras* ext = c->extras_if_any();
  envelope* e = ext->front[ext->front_next++];
  if (ext->front_next == ext->front.size()) {
    ext->front.clear();
    ext->front_next = 0;
    c->has_front_ = false;
  }
  return e;
}

}  // namespace volley::detail

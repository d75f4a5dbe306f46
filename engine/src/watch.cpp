// engine/src/watch.cpp — death watch.
//
// Both sides keep a list, each edited only by its owner's activation:
// the target's `watchers` (filled by watch_request system messages) and the
// watcher's `watching` (filled by ctx.watch). When the target dies it sends
// each watcher a `terminated` and forgets them; when a watcher dies it sends
// each of its targets an unwatch_request. A terminated is handled only if
// the target is still in the watcher's `watching` list, which is how unwatch
// drops one that is already queued, and how "exactly once" holds when a
// watch request races with the target's death (the dead target answers the
// request itself, from its still-running activations).
#include <algorithm>

#include <volley/engine/watch.hpp>

#include "system_core.hpp"

namespace volley::detail {

namespace {

struct watch_request {
  cell_base* watcher;  // counted
};
struct unwatch_request {
  cell_base* watcher;  // counted
};

void drop_counted(envelope* e, dead_letter_reason) noexcept {
  static_cast<message_envelope<watch_request>*>(e)->msg.watcher->release();
}

constexpr message_info watch_info{type_id<watch_request>(), "volley::watch", &drop_counted,
                                  sizeof(message_envelope<watch_request>), true};
constexpr message_info unwatch_info{type_id<unwatch_request>(), "volley::unwatch", &drop_counted,
                                    sizeof(message_envelope<unwatch_request>), true};

termination_reason reason_of(const cell_base* c) noexcept {
  switch (static_cast<stop_reason>(c->stop_reason_)) {
    case stop_reason::stopped:
      return termination_reason::stopped;
    case stop_reason::killed:
      return termination_reason::killed;
    case stop_reason::failed:
      return termination_reason::failed;
    case stop_reason::shutdown:
      return termination_reason::shutdown;
    case stop_reason::node_down:
      return termination_reason::node_down;
  }
  return termination_reason::stopped;
}

void send_terminated(cell_base* target, cell_base* watcher) {
  // A watcher that is stopping itself will never handle it: a parent that
  // watches its children is stopping when they die at shutdown, and one
  // dead letter per child there would be noise (watch.hpp).
  if (watcher->state() != lifecycle::alive) return;
  auto* e = make_envelope<terminated>(watcher->ops_->on_terminated, &message_info_of<terminated>,
                                      terminated{any_ref(target), reason_of(target)});
  watcher->deliver(e);
}

void handle_watch(envelope* e, cell_base* c, context&) {
  cell_base* watcher = static_cast<message_envelope<watch_request>*>(e)->msg.watcher;
  if (c->is_dead()) {
    send_terminated(c, watcher);
    watcher->release();
    return;
  }
  auto& watchers = c->extras().watchers;
  if (std::find(watchers.begin(), watchers.end(), watcher) != watchers.end()) {
    watcher->release();  // already watching: once is once
    return;
  }
  watchers.push_back(watcher);  // keeps the count
}

void handle_unwatch(envelope* e, cell_base* c, context&) {
  cell_base* watcher = static_cast<message_envelope<unwatch_request>*>(e)->msg.watcher;
  if (cell_extras* ext = c->extras_if_any()) {
    auto it = std::find(ext->watchers.begin(), ext->watchers.end(), watcher);
    if (it != ext->watchers.end()) {
      (*it)->release();
      ext->watchers.erase(it);
    }
  }
  watcher->release();
}

}  // namespace

bool take_watched(cell_base* watcher, cell_base* target) noexcept {
  cell_extras* ext = watcher->extras_if_any();
  if (ext == nullptr) return false;
  auto it = std::find(ext->watching.begin(), ext->watching.end(), target);
  if (it == ext->watching.end()) return false;
  (*it)->release();
  ext->watching.erase(it);
  return true;
}

void stop_with_reason(const any_ref& ref, termination_reason why) {
  if (!ref) return;
  stop_reason r = stop_reason::stopped;
  switch (why) {
    case termination_reason::stopped:
      r = stop_reason::stopped;
      break;
    case termination_reason::killed:
      r = stop_reason::killed;
      break;
    case termination_reason::failed:
      r = stop_reason::failed;
      break;
    case termination_reason::shutdown:
      r = stop_reason::shutdown;
      break;
    case termination_reason::node_down:
      r = stop_reason::node_down;
      break;
  }
  send_stop(ref.cell(), r);
}

void report_unhandled_in_place(cell_base* c, envelope* e) noexcept {
  c->sys_->dead_letter(c, e, dead_letter_reason::unhandled);
}

/// At death (finalize): tell the watchers, and leave the watched.
void settle_watches(cell_base* c) {
  cell_extras* ext = c->extras_if_any();
  if (ext == nullptr) return;
  for (cell_base* w : std::exchange(ext->watchers, {})) {
    send_terminated(c, w);
    w->release();
  }
  for (cell_base* t : std::exchange(ext->watching, {})) {
    c->add_ref();
    t->deliver_system(
        make_envelope<unwatch_request>(&handle_unwatch, &unwatch_info, unwatch_request{c}));
    t->release();
  }
}

}  // namespace volley::detail

namespace volley {

void context::watch(const any_ref& target) {
  detail::cell_base* t = target.cell();
  if (t == nullptr || t == cell_) return;
  auto& watching = cell_->extras().watching;
  if (std::find(watching.begin(), watching.end(), t) != watching.end()) return;
  t->add_ref();
  watching.push_back(t);
  cell_->add_ref();
  t->deliver_system(detail::make_envelope<detail::watch_request>(
      &detail::handle_watch, &detail::watch_info, detail::watch_request{cell_}));
}

void context::unwatch(const any_ref& target) {
  detail::cell_base* t = target.cell();
  if (t == nullptr || !detail::take_watched(cell_, t)) return;
  cell_->add_ref();
  t->deliver_system(detail::make_envelope<detail::unwatch_request>(
      &detail::handle_unwatch, &detail::unwatch_info, detail::unwatch_request{cell_}));
}

}  // namespace volley

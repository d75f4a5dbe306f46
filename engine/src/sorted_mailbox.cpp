// engine/src/sorted_mailbox.cpp — priority and control-aware mailboxes (protocol:
// sorted_mailbox.hpp).
#include "sorted_mailbox.hpp"

#include <climits>
#include <stdexcept>
#include <utility>

#include "system_core.hpp"

namespace volley::detail {

namespace {

int priority_of(const sorted_mailbox& sm, const envelope* e) noexcept {
  if (sm.what == mailbox::kind::control_aware) return e->info->control ? 0 : 1;
  try {
    return sm.priority(message_view(e));
  } catch (...) {
    return INT_MAX;  // documented: a throwing priority function means "last"
  }
}

void add(sorted_mailbox& sm, envelope* e) {
  const int p = priority_of(sm, e);
  std::size_t i = sm.last;
  if (i >= sm.buckets.size() || sm.buckets[i].priority != p) {
    i = 0;
    while (i < sm.buckets.size() && sm.buckets[i].priority < p) ++i;
    if (i == sm.buckets.size() || sm.buckets[i].priority != p) {
      sm.buckets.insert(sm.buckets.begin() + static_cast<std::ptrdiff_t>(i),
                        sorted_mailbox::bucket{p, {}, 0});
    }
    sm.last = i;
  }
  sm.buckets[i].items.push_back(e);
  ++sm.waiting;
}

}  // namespace

sorted_mailbox::~sorted_mailbox() {
  // Reached with envelopes only if a cell dies without draining (it does
  // not: a dead cell's activation dead-letters all it holds). The stub, if
  // still waiting, is the queue's to free.
  for (bucket& b : buckets) {
    for (std::size_t i = b.next; i < b.items.size(); ++i) {
      if (b.items[i] != stub) discard(b.items[i], dead_letter_reason::recipient_stopped);
    }
  }
}

envelope* take_sorted(cell_base* c, bool& owned) noexcept {
  sorted_mailbox& sm = *c->extras_if_any()->sorted;
  for (;;) {
    queues::mpsc_node* retired;
    queues::mpsc_node* n = c->mailbox_.pop(retired);
    if (retired != nullptr && sm.stub_taken) retire(static_cast<envelope*>(retired));
    // Otherwise the retired stub still waits in its bucket, which owns it now.
    if (n == nullptr) break;
    auto* e = static_cast<envelope*>(n);
    sm.stub = e;
    sm.stub_taken = false;
    add(sm, e);
  }
  if (sm.waiting == 0) return nullptr;
  for (sorted_mailbox::bucket& b : sm.buckets) {
    if (b.next == b.items.size()) continue;
    envelope* e = b.items[b.next++];
    if (b.next == b.items.size()) {
      b.items.clear();  // keeps its capacity: no allocation in steady state
      b.next = 0;
    }
    --sm.waiting;
    owned = e != sm.stub;
    if (!owned) sm.stub_taken = true;
    return e;
  }
  return nullptr;  // unreachable: waiting > 0
}

void install_mailbox(cell_base* c, const mailbox& m) {
  if (m.what == mailbox::kind::fifo) return;
  if (m.what == mailbox::kind::priority && m.priority == nullptr) {
    throw std::invalid_argument("volley: priority_mailbox needs a priority function");
  }
  c->extras().sorted = std::make_unique<sorted_mailbox>(m.what, m.priority);
  c->sorted_ = true;
}

}  // namespace volley::detail

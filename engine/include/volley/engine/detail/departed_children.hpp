// volley/engine/detail/departed_children.hpp — the count that a parent's
// departed children hold on it together, shared by the engine and the
// exhaustive checker.
//
// What it is for
// --------------
// A child that has unlinked from its parent (cell.cpp, unlink_from_parent)
// still walks `parent_` in path(), until its own cell is destroyed; so from
// its unlink to its destroy it must keep the parent's cell alive. One count
// per child was a write to the parent's line 0 at every unlink and destroy
// (cell.hpp, cell_extras::departed_children), so the departed children share
// one: the unlink that makes the counter 1 takes a count on the parent, the
// destroy that makes it 0 drops it.
//
// Protocol
// --------
//   count_departed  at a child's unlink, under the parent's children lock,
//                   before the child leaves the list. The child is still
//                   linked, and a parent dies only after its children have
//                   unlinked (it reads its child count under the same lock),
//                   so the parent is alive for the add_ref.
//   drop_departed   at that child's destroy, without the lock. The parent's
//                   extras (where the counter lives) are freed with the
//                   parent's cell, which the shared count keeps alive until
//                   this very decrement has run.
// A destroy that makes the counter 0 while another child unlinks makes it 1
// again: that unlink takes a fresh count, and the destroy drops the old one.
//
// Memory orders: the increment is relaxed, as add_ref is (a new count is
// made from an existing one: the unlinking child's link). The decrement is
// acq_rel: the add_ref of the unlink that made the counter 1 is sequenced
// before that child's own decrement, which the last decrement reads from
// (directly or through a release sequence), so the add_ref happens before
// the release that drops it. The checker (tests/checker/
// departed_children_checker_test.cpp) runs these two functions with model
// atomics over every sequentially consistent schedule within its bound.
#pragma once

#include <atomic>

namespace volley::detail {

/// A child unlinks from `parent` (under the parent's children lock).
/// Counter: std::atomic<std::size_t>, or the checker's model atomic.
template <class Counter, class Parent>
void count_departed(Counter& departed, Parent& parent) noexcept {
  if (departed.fetch_add(1, std::memory_order_relaxed) == 0) parent.add_ref();
}

/// A departed child of `parent` is destroyed. May free the parent, and the
/// counter with it.
template <class Counter, class Parent>
void drop_departed(Counter& departed, Parent& parent) noexcept {
  if (departed.fetch_sub(1, std::memory_order_acq_rel) == 1) parent.release();
}

}  // namespace volley::detail

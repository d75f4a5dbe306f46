#pragma once
/// The concurrent sorted list workload's shared parts: the list itself, the
/// requests a worker draws, and the totals a run must end with.
///
/// volley and CAF use this one list, so the work their list actor does per
/// request is the same machine code; Erlang's twin
/// (bench/peers/erlang/src/savina_concurrent_sorted_list.erl) walks a plain
/// list the same way and draws the same requests from the same splitmix64
/// seeds. The list is a singly linked list kept in ascending order, as in
/// Savina: `add` and `contains` walk from the head, so a request costs time
/// linear in the list's length and the workload is bound by that walk, not
/// by messaging, once the list has grown to thousands of values.

#include <volley/savina/pseudo_random.hpp>

#include <cstdint>

namespace volley::savina {

/// A singly linked list of values in ascending order (duplicates kept).
class sorted_linked_list {
 public:
  sorted_linked_list() = default;
  sorted_linked_list(const sorted_linked_list&) = delete;
  sorted_linked_list& operator=(const sorted_linked_list&) = delete;
  ~sorted_linked_list();

  /// Inserts `value` before the first element not smaller than it.
  void add(std::int64_t value);
  /// Walks to the first element not smaller than `value`.
  bool contains(std::int64_t value) const;
  std::int64_t size() const { return size_; }
  /// The sum of all elements (a walk; for the check after the run).
  std::int64_t sum() const;

 private:
  struct node {
    std::int64_t value;
    node* next;
  };
  node* head_ = nullptr;
  std::int64_t size_ = 0;
};

enum class sorted_list_op : std::int64_t { size = 0, write = 1, contains = 2 };

/// One request of a worker: the operation and, for write and contains, the
/// value.
struct sorted_list_request {
  sorted_list_op op;
  std::int64_t value;
};

/// Values are drawn below twice the number of writes of the whole run, so
/// about half the contains requests find their value by the end.
std::int64_t sorted_list_value_space(std::int64_t workers, std::int64_t messages,
                                     std::int64_t write_percent);

/// Worker `id`'s generator: seed id * 7919 + 1, as the dictionary's workers.
inline pseudo_random sorted_list_random(std::int64_t id) {
  return pseudo_random(static_cast<std::uint64_t>(id) * 7919 + 1);
}

/// The next request: a draw below 100 picks size (< size_percent), write
/// (< size_percent + write_percent) or contains; write and contains then
/// draw a value below `value_space`.
sorted_list_request sorted_list_draw(pseudo_random& random, std::int64_t write_percent,
                                     std::int64_t size_percent, std::int64_t value_space);

/// What the list must hold after a run: the number of writes and the sum of
/// the values written, by replaying every worker's draws.
struct sorted_list_totals {
  std::int64_t writes = 0;
  std::int64_t value_sum = 0;
};
sorted_list_totals sorted_list_expected(std::int64_t workers, std::int64_t messages,
                                        std::int64_t write_percent, std::int64_t size_percent);

}  // namespace volley::savina

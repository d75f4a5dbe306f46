#include <volley/savina/sorted_list.hpp>

#include <algorithm>

namespace volley::savina {

sorted_linked_list::~sorted_linked_list() {
  // A loop, not a recursive node destructor: the list holds tens of
  // thousands of nodes.
  while (head_ != nullptr) {
    node* next = head_->next;
    delete head_;
    head_ = next;
  }
}

void sorted_linked_list::add(std::int64_t value) {
  node** link = &head_;
  while (*link != nullptr && (*link)->value < value) link = &(*link)->next;
  *link = new node{value, *link};
  ++size_;
}

bool sorted_linked_list::contains(std::int64_t value) const {
  const node* n = head_;
  while (n != nullptr && n->value < value) n = n->next;
  return n != nullptr && n->value == value;
}

std::int64_t sorted_linked_list::sum() const {
  std::int64_t total = 0;
  for (const node* n = head_; n != nullptr; n = n->next) total += n->value;
  return total;
}

std::int64_t sorted_list_value_space(std::int64_t workers, std::int64_t messages,
                                     std::int64_t write_percent) {
  return std::max<std::int64_t>(1, 2 * workers * messages * write_percent / 100);
}

sorted_list_request sorted_list_draw(pseudo_random& random, std::int64_t write_percent,
                                     std::int64_t size_percent, std::int64_t value_space) {
  const auto percent = static_cast<std::int64_t>(random.below(100));
  if (percent < size_percent) return {sorted_list_op::size, 0};
  const auto op =
      percent < size_percent + write_percent ? sorted_list_op::write : sorted_list_op::contains;
  return {op, static_cast<std::int64_t>(random.below(static_cast<std::uint64_t>(value_space)))};
}

sorted_list_totals sorted_list_expected(std::int64_t workers, std::int64_t messages,
                                        std::int64_t write_percent, std::int64_t size_percent) {
  const auto space = sorted_list_value_space(workers, messages, write_percent);
  sorted_list_totals totals;
  for (std::int64_t id = 0; id < workers; ++id) {
    auto random = sorted_list_random(id);
    for (std::int64_t i = 0; i < messages; ++i) {
      auto r = sorted_list_draw(random, write_percent, size_percent, space);
      if (r.op != sorted_list_op::write) continue;
      ++totals.writes;
      totals.value_sum += r.value;
    }
  }
  return totals;
}

}  // namespace volley::savina

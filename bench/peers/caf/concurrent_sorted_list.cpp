// Concurrent sorted list: `workers` worker actors each send `messages`
// requests, one at a time, to one actor that owns a sorted linked list
// (the same list as volley's, common/.../sorted_list.hpp): size_percent ask
// for the size, write_percent insert a value, the rest ask whether a value
// is in the list. Twin of bench/savina/concurrent_sorted_list.cpp, with the
// same checks: numbered requests whose replies echo number, operation and
// written value; sizes that never shrink nor fall below the worker's own
// answered writes; a list that ends with exactly the written values.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/sorted_list.hpp>

namespace volley::caf_peer {

namespace {

using savina::sorted_list_op;
using request_atom = caf::atom_constant<caf::atom("request")>;
using report_atom = caf::atom_constant<caf::atom("report")>;

struct list_state {
  savina::sorted_linked_list list;
  std::int64_t requests = 0;
};

// Requests and replies carry the operation as its integer value.
caf::behavior sorted_list(caf::stateful_actor<list_state>* self) {
  return {
      [=](request_atom, std::int64_t seq, std::int64_t op,
          std::int64_t value) -> caf::result<std::int64_t, std::int64_t, std::int64_t> {
        auto& s = self->state;
        ++s.requests;
        std::int64_t result = 0;
        switch (static_cast<sorted_list_op>(op)) {
          case sorted_list_op::write:
            s.list.add(value);
            result = value;
            break;
          case sorted_list_op::contains:
            result = s.list.contains(value) ? 1 : 0;
            break;
          case sorted_list_op::size:
            result = s.list.size();
            break;
        }
        return {seq, op, result};
      },
      [=](report_atom) -> caf::result<std::int64_t, std::int64_t, std::int64_t> {
        auto& s = self->state;
        return {s.list.size(), s.list.sum(), s.requests};
      },
  };
}

struct worker_state {
  std::int64_t sent = 0;
  savina::sorted_list_request pending{};
  std::int64_t own_writes = 0;  // writes of this worker already answered
  std::int64_t last_size = 0;
  savina::pseudo_random random{0};
};

caf::behavior list_worker(caf::stateful_actor<worker_state>* self, std::int64_t id, caf::actor list,
                          std::int64_t messages, std::int64_t write_percent,
                          std::int64_t size_percent, std::int64_t value_space, caf::actor main) {
  self->state.random = savina::sorted_list_random(id);
  auto next = [=] {
    auto& s = self->state;
    if (s.sent == messages) {
      self->send(main, done_atom::value);
      self->quit();
      return;
    }
    ++s.sent;
    s.pending = savina::sorted_list_draw(s.random, write_percent, size_percent, value_space);
    for (int copy = s.sent == 1 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
      self->send(list, request_atom::value, s.sent, static_cast<std::int64_t>(s.pending.op),
                 s.pending.value);
  };
  return {
      [=](start_atom) { next(); },
      [=](std::int64_t seq, std::int64_t op, std::int64_t result) {
        auto& s = self->state;
        if (seq != s.sent || static_cast<sorted_list_op>(op) != s.pending.op)
          savina::wrong_answer("sorted-list worker got the reply to request " +
                               std::to_string(seq) + ", expected " + std::to_string(s.sent));
        switch (s.pending.op) {
          case sorted_list_op::write:
            if (result != s.pending.value) savina::wrong_answer("a write echoed another value");
            ++s.own_writes;
            break;
          case sorted_list_op::contains:
            if (result != 0 && result != 1)
              savina::wrong_answer("contains answered neither 0 nor 1");
            break;
          case sorted_list_op::size:
            if (result < s.last_size || result < s.own_writes)
              savina::wrong_answer("the list's size went from " + std::to_string(s.last_size) +
                                   " to " + std::to_string(result) + " after " +
                                   std::to_string(s.own_writes) + " writes of this worker");
            s.last_size = result;
            break;
        }
        next();
      },
  };
}

}  // namespace

measurement concurrent_sorted_list(const parameters& p, int workers) {
  const auto n = p.integer("workers");
  const auto messages = p.integer("messages");
  const auto write_percent = p.integer("write_percent");
  const auto size_percent = p.integer("size_percent");
  const auto space = savina::sorted_list_value_space(n, messages, write_percent);
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto list = rt.system().spawn(sorted_list);
  std::vector<caf::actor> all;
  for (std::int64_t i = 0; i < n; ++i)
    all.push_back(rt.system().spawn(list_worker, i, list, messages, write_percent, size_percent,
                                    space, caf::actor{self}));
  savina::stopwatch clock;
  for (const auto& w : all) self->send(w, start_atom::value);
  for (std::int64_t i = 0; i < n; ++i) self->receive([](done_atom) {});
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  std::int64_t size = -1, sum = -1, requests = -1;
  self->request(list, caf::infinite, report_atom::value)
      .receive(
          [&](std::int64_t z, std::int64_t s, std::int64_t r) {
            size = z;
            sum = s;
            requests = r;
          },
          [](caf::error&) {});
  stop_all({list});
  const auto expected = savina::sorted_list_expected(n, messages, write_percent, size_percent);
  savina::check(requests == n * messages, "the list handled " + std::to_string(requests) +
                                              " requests, " + std::to_string(n * messages) +
                                              " were sent");
  savina::check(size == expected.writes, "the list holds " + std::to_string(size) + " values, " +
                                             std::to_string(expected.writes) + " were written");
  savina::check(sum == expected.value_sum, "the list's values sum to " + std::to_string(sum) +
                                               ", the written ones to " +
                                               std::to_string(expected.value_sum));
  m.messages = m.items = static_cast<std::uint64_t>(2 * n * messages);
  return m;
}

}  // namespace volley::caf_peer

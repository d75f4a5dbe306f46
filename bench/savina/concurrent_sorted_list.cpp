// Concurrent sorted list on volley: twin of
// bench/peers/caf/concurrent_sorted_list.cpp. `workers` workers each send
// `messages` requests, one at a time, to one actor that owns a sorted
// linked list (common/.../sorted_list.hpp): size_percent of them ask for
// the size, write_percent insert a value, the rest ask whether a value is
// in the list. Each request walks the list, so once it holds thousands of
// values the workload is bound by that walk.
//
// Checks: requests are numbered per worker, and the reply echoes the
// number, the operation and (for a write) the value, so a lost, duplicated
// or misrouted request or reply shows at the worker; a size never shrinks
// and never falls below the writes the worker itself has seen answered;
// after the run the list holds exactly the values the workers' draws
// write (count and sum), and it handled exactly workers x messages
// requests.
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/sorted_list.hpp>

#include <latch>

namespace volley::savina_on_volley {

namespace {

using savina::sorted_list_op;

struct list_worker;

struct sorted_list {
  struct request {
    std::int64_t seq;
    sorted_list_op op;
    std::int64_t value;
    actor_ref<list_worker> reply_to;
  };
  struct report {};
  struct summary {
    std::int64_t size;
    std::int64_t sum;
    std::int64_t requests;
  };
  savina::sorted_linked_list list;
  std::int64_t requests = 0;

  void on(const request& r);
  summary on(const report&) const { return {list.size(), list.sum(), requests}; }
};

struct list_worker : volley::actor<list_worker> {
  struct start {};
  struct reply {
    std::int64_t seq;
    sorted_list_op op;
    std::int64_t result;  // the value written, 1 or 0 for contains, or the size
  };
  actor_ref<sorted_list> list;
  std::int64_t messages;
  std::int64_t write_percent;
  std::int64_t size_percent;
  std::int64_t value_space;
  std::latch* done;
  savina::pseudo_random random;
  std::int64_t sent = 0;
  savina::sorted_list_request pending{};
  std::int64_t own_writes = 0;  // writes of this worker already answered
  std::int64_t last_size = 0;

  list_worker(std::int64_t id, actor_ref<sorted_list> l, std::int64_t n, std::int64_t wp,
              std::int64_t sp, std::int64_t space, std::latch* d)
      : list(std::move(l)),
        messages(n),
        write_percent(wp),
        size_percent(sp),
        value_space(space),
        done(d),
        random(savina::sorted_list_random(id)) {}

  void next(context& ctx) {
    if (sent == messages) {
      done->count_down();
      ctx.stop();
      return;
    }
    ++sent;
    pending = savina::sorted_list_draw(random, write_percent, size_percent, value_space);
    for (int copy = sent == 1 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
      list.tell(sorted_list::request{sent, pending.op, pending.value, self()});
  }
  void on(const start&, context& ctx) { next(ctx); }
  void on(const reply& r, context& ctx) {
    if (r.seq != sent || r.op != pending.op)
      savina::wrong_answer("sorted-list worker got the reply to request " + std::to_string(r.seq) +
                           ", expected " + std::to_string(sent));
    switch (r.op) {
      case sorted_list_op::write:
        if (r.result != pending.value) savina::wrong_answer("a write echoed another value");
        ++own_writes;
        break;
      case sorted_list_op::contains:
        if (r.result != 0 && r.result != 1)
          savina::wrong_answer("contains answered neither 0 nor 1");
        break;
      case sorted_list_op::size:
        if (r.result < last_size || r.result < own_writes)
          savina::wrong_answer("the list's size went from " + std::to_string(last_size) + " to " +
                               std::to_string(r.result) + " after " + std::to_string(own_writes) +
                               " writes of this worker");
        last_size = r.result;
        break;
    }
    next(ctx);
  }
};

void sorted_list::on(const request& r) {
  ++requests;
  std::int64_t result = 0;
  switch (r.op) {
    case sorted_list_op::write:
      list.add(r.value);
      result = r.value;
      break;
    case sorted_list_op::contains:
      result = list.contains(r.value) ? 1 : 0;
      break;
    case sorted_list_op::size:
      result = list.size();
      break;
  }
  r.reply_to.tell(list_worker::reply{r.seq, r.op, result});
}

}  // namespace

measurement concurrent_sorted_list(const parameters& p, int workers) {
  const auto n = p.integer("workers");
  const auto messages = p.integer("messages");
  const auto write_percent = p.integer("write_percent");
  const auto size_percent = p.integer("size_percent");
  const auto space = savina::sorted_list_value_space(n, messages, write_percent);
  volley::system sys(make_config(workers));
  std::latch done(n);
  auto list = sys.spawn<sorted_list>();
  std::vector<actor_ref<list_worker>> all;
  for (std::int64_t i = 0; i < n; ++i)
    all.push_back(
        sys.spawn<list_worker>(i, list, messages, write_percent, size_percent, space, &done));
  savina::stopwatch clock;
  for (const auto& w : all) w.tell(list_worker::start{});
  done.wait();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  auto summary = list.ask(sorted_list::report{}).get();
  sys.shutdown();
  savina::check(summary.ok(), "the sorted list did not report");
  const auto expected = savina::sorted_list_expected(n, messages, write_percent, size_percent);
  savina::check(summary.value().requests == n * messages,
                "the list handled " + std::to_string(summary.value().requests) + " requests, " +
                    std::to_string(n * messages) + " were sent");
  savina::check(summary.value().size == expected.writes,
                "the list holds " + std::to_string(summary.value().size) + " values, " +
                    std::to_string(expected.writes) + " were written");
  savina::check(summary.value().sum == expected.value_sum,
                "the list's values sum to " + std::to_string(summary.value().sum) +
                    ", the written ones to " + std::to_string(expected.value_sum));
  m.messages = m.items = static_cast<std::uint64_t>(2 * n * messages);
  return m;
}

}  // namespace volley::savina_on_volley

// Counting on volley: twin of bench/peers/caf/counting.cpp. The producer
// sends the increments, then asks for the total through a typed reply.
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>

#include <future>

namespace volley::savina_on_volley {

namespace {

// Each increment carries its index: the counter checks the total and the sum
// of the indices, so a lost or duplicated increment changes both.
struct increment {
  std::int64_t index;
};
struct producer;

struct counter {
  struct get_total {
    actor_ref<producer> reply_to;
  };
  std::int64_t total = 0;
  std::int64_t index_sum = 0;
  void on(const increment& i) {
    ++total;
    index_sum += i.index;
  }
  void on(const get_total& g);
};

struct producer {
  struct start {};
  struct total {
    std::int64_t value;
    std::int64_t index_sum;
  };
  actor_ref<counter> target;
  std::int64_t messages;
  std::promise<total>* done;
  producer(actor_ref<counter> c, std::int64_t n, std::promise<total>* d)
      : target(std::move(c)), messages(n), done(d) {}
  void on(const start&, context& ctx) {
    for (std::int64_t i = 0; i < messages; ++i)
      for (int copy = i == 0 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
        target.tell(increment{i});
    target.tell(counter::get_total{ctx.self_as<producer>()});
  }
  void on(const total& t) { done->set_value(t); }
};

void counter::on(const get_total& g) {
  g.reply_to.tell(producer::total{total, index_sum});
}

}  // namespace

measurement counting(const parameters& p, int workers) {
  const auto messages = p.integer("messages");
  volley::system sys(make_config(workers));
  std::promise<producer::total> done;
  auto c = sys.spawn<counter>();
  auto prod = sys.spawn<producer>(c, messages, &done);
  savina::stopwatch clock;
  prod.tell(producer::start{});
  auto total = done.get_future().get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(total.value == messages, "counter reached " + std::to_string(total.value) +
                                             ", expected " + std::to_string(messages));
  savina::check(total.index_sum == messages * (messages - 1) / 2,
                "the increments' indices sum to " + std::to_string(total.index_sum));
  m.messages = m.items = static_cast<std::uint64_t>(messages + 2);
  return m;
}

}  // namespace volley::savina_on_volley

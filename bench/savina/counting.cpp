// Counting on volley: twin of bench/peers/caf/counting.cpp. The producer
// sends the increments, then asks for the total through a typed reply.
#include "volley_workloads.hpp"

#include <future>

namespace volley::savina_on_volley {

namespace {

struct increment {};
struct producer;

struct counter {
  struct get_total {
    actor_ref<producer> reply_to;
  };
  std::int64_t total = 0;
  void on(const increment&) { ++total; }
  void on(const get_total& g);
};

struct producer {
  struct start {};
  struct total {
    std::int64_t value;
  };
  actor_ref<counter> target;
  std::int64_t messages;
  std::promise<std::int64_t>* done;
  producer(actor_ref<counter> c, std::int64_t n, std::promise<std::int64_t>* d)
      : target(std::move(c)), messages(n), done(d) {}
  void on(const start&, context& ctx) {
    for (std::int64_t i = 0; i < messages; ++i) target.tell(increment{});
    target.tell(counter::get_total{ctx.self_as<producer>()});
  }
  void on(const total& t) { done->set_value(t.value); }
};

void counter::on(const get_total& g) { g.reply_to.tell(producer::total{total}); }

}  // namespace

measurement counting(const parameters& p, int workers) {
  const auto messages = p.integer("messages");
  volley::system sys(make_config(workers));
  std::promise<std::int64_t> done;
  auto c = sys.spawn<counter>();
  auto prod = sys.spawn<producer>(c, messages, &done);
  savina::stopwatch clock;
  prod.tell(producer::start{});
  auto total = done.get_future().get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(total == messages, "counter reached " + std::to_string(total) + ", expected " +
                                       std::to_string(messages));
  m.messages = m.items = static_cast<std::uint64_t>(messages + 2);
  return m;
}

}  // namespace volley::savina_on_volley

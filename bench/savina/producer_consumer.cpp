// Producer-consumer with a bounded buffer on volley: twin of
// bench/peers/caf/producer_consumer.cpp. `producers` producers each make
// `items` items and `consumers` consumers take them, all through one
// buffer actor (Savina's manager). A producer makes an item
// (process_item with produce_cost), sends it to the buffer and waits for
// permission to make the next; the buffer hands an item to an idle
// consumer or queues it, and withholds permission while `buffer` minus
// `producers` items wait (Savina's adjusted size: every producer may have
// one item in flight). A consumer works on its item (consume_cost) and
// tells the buffer it is idle again. When every producer has finished and
// every consumer is idle, the buffer tells the consumers to stop.
//
// Checks: every item carries its producer and number; the buffer expects
// each producer's items in order, and a permission echoes the number of
// the item it answers, so a lost, duplicated or misrouted item or
// permission shows; a consumer reported idle twice is a wrong answer; the
// consumers' counts and checksums of the items must add up to every item
// made exactly once.
//
// Its repetitions spread 1.6-1.7x on the 2-vCPU VM at 1 worker as at 2,
// all in CPU time per item at an unchanged parallelism: the host runs
// process_item's logarithms that much slower at times, with no runtime
// involved (savina-kernel-drift; bench/savina/README.md, "Spread of
// producer-consumer, fork-join creation and matrix multiplication").
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/reference_answers.hpp>

#include <atomic>
#include <deque>
#include <latch>

namespace volley::savina_on_volley {

namespace {

struct buffer;

// What the consumers add up when they stop, for the check after the run.
struct consumed_totals {
  std::atomic<std::int64_t> items{0};
  std::atomic<std::int64_t> checksum{0};
  std::latch stopped;
  explicit consumed_totals(std::int64_t consumers) : stopped(consumers) {}
};

// The checksum of one item: unique per (producer, number).
std::int64_t item_key(std::int64_t producer, std::int64_t seq, std::int64_t items) {
  return producer * items + seq;
}

struct producer : volley::actor<producer> {
  struct produce {
    std::int64_t seq;  // the item this permission answers (0 to begin)
  };
  actor_ref<buffer> buf;
  std::int64_t id;
  std::int64_t items;
  std::int64_t cost;
  std::int64_t made = 0;
  double value = 0;

  producer(actor_ref<buffer> b, std::int64_t i, std::int64_t n, std::int64_t c)
      : buf(std::move(b)), id(i), items(n), cost(c) {}

  void on(const produce& p, context& ctx);
};

struct consumer : volley::actor<consumer> {
  struct item {
    std::int64_t producer;
    std::int64_t seq;
    double value;
  };
  struct stop {};
  actor_ref<buffer> buf;
  std::int64_t id;
  std::int64_t items_per_producer;
  std::int64_t cost;
  consumed_totals* totals;
  std::int64_t consumed = 0;
  std::int64_t checksum = 0;
  double value = 0;

  consumer(actor_ref<buffer> b, std::int64_t i, std::int64_t n, std::int64_t c, consumed_totals* t)
      : buf(std::move(b)), id(i), items_per_producer(n), cost(c), totals(t) {}

  void on(const item& it);
  void on(const stop&, context& ctx) {
    totals->items.fetch_add(consumed, std::memory_order_relaxed);
    totals->checksum.fetch_add(checksum, std::memory_order_relaxed);
    totals->stopped.count_down();
    ctx.stop();
  }
};

struct buffer {
  struct data {
    std::int64_t producer;
    std::int64_t seq;
    double value;
  };
  struct consumer_idle {
    std::int64_t consumer;
  };
  struct producer_done {
    std::int64_t producer;
  };

  std::vector<actor_ref<producer>> producers;
  std::vector<actor_ref<consumer>> consumers;
  std::int64_t items;
  std::size_t adjusted_size;
  std::deque<data> pending;
  std::deque<std::int64_t> idle_consumers;
  std::deque<data> parked;             // the last item of each producer waiting for permission
  std::vector<std::int64_t> next_seq;  // per producer
  std::vector<bool> idle;              // per consumer
  std::int64_t producers_done = 0;

  buffer(std::int64_t buffer_size, std::int64_t producer_count, std::int64_t consumer_count,
         std::int64_t n)
      : items(n),
        adjusted_size(
            static_cast<std::size_t>(std::max<std::int64_t>(1, buffer_size - producer_count))),
        next_seq(static_cast<std::size_t>(producer_count), 1),
        idle(static_cast<std::size_t>(consumer_count), true) {
    for (std::int64_t c = 0; c < consumer_count; ++c) idle_consumers.push_back(c);
  }

  void on(const std::vector<actor_ref<producer>>& p) { producers = p; }
  void on(const std::vector<actor_ref<consumer>>& c) { consumers = c; }

  void on(const data& d) {
    auto& expected = next_seq[static_cast<std::size_t>(d.producer)];
    if (d.seq != expected)
      savina::wrong_answer("the buffer got item " + std::to_string(d.seq) + " of producer " +
                           std::to_string(d.producer) + ", expected " + std::to_string(expected));
    ++expected;
    if (idle_consumers.empty()) {
      pending.push_back(d);
    } else {
      hand_to(idle_consumers.front(), d);
      idle_consumers.pop_front();
    }
    if (pending.size() >= adjusted_size)
      parked.push_back(d);
    else
      producers[static_cast<std::size_t>(d.producer)].tell(producer::produce{d.seq});
  }

  void on(const consumer_idle& c) {
    if (idle[static_cast<std::size_t>(c.consumer)])
      savina::wrong_answer("consumer " + std::to_string(c.consumer) + " was reported idle twice");
    if (pending.empty()) {
      idle[static_cast<std::size_t>(c.consumer)] = true;
      idle_consumers.push_back(c.consumer);
      try_finish();
      return;
    }
    hand_to(c.consumer, pending.front());
    pending.pop_front();
    if (!parked.empty()) {
      const auto& p = parked.front();
      producers[static_cast<std::size_t>(p.producer)].tell(producer::produce{p.seq});
      parked.pop_front();
    }
  }

  void on(const producer_done& p) {
    if (next_seq[static_cast<std::size_t>(p.producer)] != items + 1)
      savina::wrong_answer("producer " + std::to_string(p.producer) + " finished after " +
                           std::to_string(next_seq[static_cast<std::size_t>(p.producer)] - 1) +
                           " items");
    ++producers_done;
    try_finish();
  }

  void hand_to(std::int64_t c, const data& d) {
    idle[static_cast<std::size_t>(c)] = false;
    consumers[static_cast<std::size_t>(c)].tell(consumer::item{d.producer, d.seq, d.value});
  }

  void try_finish() {
    if (producers_done != static_cast<std::int64_t>(producers.size()) ||
        idle_consumers.size() != consumers.size())
      return;
    for (const auto& c : consumers) c.tell(consumer::stop{});
  }
};

void producer::on(const produce& p, context& ctx) {
  if (p.seq != made)
    savina::wrong_answer("producer " + std::to_string(id) + " got the permission for item " +
                         std::to_string(p.seq) + " after item " + std::to_string(made));
  if (made == items) {
    buf.tell(buffer::producer_done{id});
    ctx.stop();
    return;
  }
  value = savina::process_item(value, cost);
  ++made;
  for (int copy = made == 1 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
    buf.tell(buffer::data{id, made, value});
}

void consumer::on(const item& it) {
  value = savina::process_item(value + it.value, cost);
  ++consumed;
  checksum += item_key(it.producer, it.seq, items_per_producer);
  buf.tell(buffer::consumer_idle{id});
}

}  // namespace

measurement producer_consumer(const parameters& p, int workers) {
  const auto buffer_size = p.integer("buffer");
  const auto producer_count = p.integer("producers");
  const auto consumer_count = p.integer("consumers");
  const auto items = p.integer("items");
  const auto produce_cost = p.integer("produce_cost");
  const auto consume_cost = p.integer("consume_cost");
  volley::system sys(make_config(workers));
  consumed_totals totals(consumer_count);
  auto buf = sys.spawn<buffer>(buffer_size, producer_count, consumer_count, items);
  std::vector<actor_ref<producer>> producers;
  std::vector<actor_ref<consumer>> consumers;
  for (std::int64_t i = 0; i < producer_count; ++i)
    producers.push_back(sys.spawn<producer>(buf, i, items, produce_cost));
  for (std::int64_t i = 0; i < consumer_count; ++i)
    consumers.push_back(sys.spawn<consumer>(buf, i, items, consume_cost, &totals));
  buf.tell(producers);
  buf.tell(consumers);
  savina::stopwatch clock;
  for (const auto& pr : producers) pr.tell(producer::produce{0});
  totals.stopped.wait();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  const auto made = producer_count * items;
  // The sum of item_key over every (producer, number) pair: 1 .. made.
  const auto expected_checksum = made * (made + 1) / 2;
  savina::check(totals.items.load() == made, std::to_string(totals.items.load()) +
                                                 " items were consumed, " + std::to_string(made) +
                                                 " made");
  savina::check(totals.checksum.load() == expected_checksum,
                "the consumed items' checksum is " + std::to_string(totals.checksum.load()) +
                    ", expected " + std::to_string(expected_checksum));
  m.messages = m.items = static_cast<std::uint64_t>(4 * made);
  return m;
}

}  // namespace volley::savina_on_volley

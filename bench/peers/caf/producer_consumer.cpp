// Producer-consumer with a bounded buffer: twin of
// bench/savina/producer_consumer.cpp. Producers make items
// (process_item), send them to one buffer actor and wait for permission to
// make the next; the buffer hands items to idle consumers or queues them,
// and withholds permission while `buffer` minus `producers` items wait.
// Consumers work on each item and report idle. When every producer has
// finished and every consumer is idle, the buffer stops the consumers.
//
// Checks as on volley: the buffer expects each producer's items in order
// and a permission echoes the item it answers; a consumer reported idle
// twice is a wrong answer; the consumers' counts and checksums add up to
// every item made exactly once.
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/reference_answers.hpp>

#include <deque>

namespace volley::caf_peer {

namespace {

using produce_atom = caf::atom_constant<caf::atom("produce")>;
using item_atom = caf::atom_constant<caf::atom("item")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using finished_atom = caf::atom_constant<caf::atom("finished")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

// The checksum of one item: unique per (producer, number).
std::int64_t item_key(std::int64_t producer, std::int64_t seq, std::int64_t items) {
  return producer * items + seq;
}

struct pending_item {
  std::int64_t producer;
  std::int64_t seq;
  double value;
};

struct buffer_state {
  std::vector<caf::actor> producers;
  std::vector<caf::actor> consumers;
  std::deque<pending_item> pending;
  std::deque<std::int64_t> idle_consumers;
  std::deque<pending_item> parked;  // the last item of each producer waiting for permission
  std::vector<std::int64_t> next_seq;
  std::vector<bool> idle;
  std::int64_t producers_done = 0;
};

caf::behavior buffer(caf::stateful_actor<buffer_state>* self, std::int64_t buffer_size,
                     std::int64_t items) {
  auto hand_to = [=](std::int64_t c, const pending_item& d) {
    self->state.idle[static_cast<std::size_t>(c)] = false;
    self->send(self->state.consumers[static_cast<std::size_t>(c)], item_atom::value, d.producer,
               d.seq, d.value);
  };
  auto try_finish = [=] {
    auto& s = self->state;
    if (s.producers_done != static_cast<std::int64_t>(s.producers.size()) ||
        s.idle_consumers.size() != s.consumers.size())
      return;
    for (const auto& c : s.consumers) self->send(c, stop_atom::value);
  };
  return {
      [=](init_atom, actor_list producers, actor_list consumers) {
        auto& s = self->state;
        s.producers = *producers;
        s.consumers = *consumers;
        s.next_seq.assign(s.producers.size(), 1);
        s.idle.assign(s.consumers.size(), true);
        for (std::size_t c = 0; c < s.consumers.size(); ++c)
          s.idle_consumers.push_back(static_cast<std::int64_t>(c));
      },
      [=](data_atom, std::int64_t producer, std::int64_t seq, double value) {
        auto& s = self->state;
        auto& expected = s.next_seq[static_cast<std::size_t>(producer)];
        if (seq != expected)
          savina::wrong_answer("the buffer got item " + std::to_string(seq) + " of producer " +
                               std::to_string(producer) + ", expected " + std::to_string(expected));
        ++expected;
        pending_item d{producer, seq, value};
        if (s.idle_consumers.empty()) {
          s.pending.push_back(d);
        } else {
          hand_to(s.idle_consumers.front(), d);
          s.idle_consumers.pop_front();
        }
        // Savina's adjusted size: every producer may have one item in flight.
        const auto limit = static_cast<std::size_t>(
            std::max<std::int64_t>(1, buffer_size - static_cast<std::int64_t>(s.producers.size())));
        if (s.pending.size() >= limit)
          s.parked.push_back(d);
        else
          self->send(s.producers[static_cast<std::size_t>(producer)], produce_atom::value, seq);
      },
      [=](idle_atom, std::int64_t consumer) {
        auto& s = self->state;
        if (s.idle[static_cast<std::size_t>(consumer)])
          savina::wrong_answer("consumer " + std::to_string(consumer) + " was reported idle twice");
        if (s.pending.empty()) {
          s.idle[static_cast<std::size_t>(consumer)] = true;
          s.idle_consumers.push_back(consumer);
          try_finish();
          return;
        }
        hand_to(consumer, s.pending.front());
        s.pending.pop_front();
        if (!s.parked.empty()) {
          const auto& p = s.parked.front();
          self->send(s.producers[static_cast<std::size_t>(p.producer)], produce_atom::value, p.seq);
          s.parked.pop_front();
        }
      },
      [=](finished_atom, std::int64_t producer) {
        auto& s = self->state;
        if (s.next_seq[static_cast<std::size_t>(producer)] != items + 1)
          savina::wrong_answer("producer " + std::to_string(producer) + " finished after " +
                               std::to_string(s.next_seq[static_cast<std::size_t>(producer)] - 1) +
                               " items");
        ++s.producers_done;
        try_finish();
      },
  };
}

struct producer_state {
  std::int64_t made = 0;
  double value = 0;
};

caf::behavior producer(caf::stateful_actor<producer_state>* self, caf::actor buf, std::int64_t id,
                       std::int64_t items, std::int64_t cost) {
  return {[=](produce_atom, std::int64_t seq) {
    auto& s = self->state;
    if (seq != s.made)
      savina::wrong_answer("producer " + std::to_string(id) + " got the permission for item " +
                           std::to_string(seq) + " after item " + std::to_string(s.made));
    if (s.made == items) {
      self->send(buf, finished_atom::value, id);
      self->quit();
      return;
    }
    s.value = savina::process_item(s.value, cost);
    ++s.made;
    for (int copy = s.made == 1 ? savina::copies_of_marked_message() : 1; copy > 0; --copy)
      self->send(buf, data_atom::value, id, s.made, s.value);
  }};
}

struct consumer_state {
  std::int64_t consumed = 0;
  std::int64_t checksum = 0;
  double value = 0;
};

caf::behavior consumer(caf::stateful_actor<consumer_state>* self, caf::actor buf, std::int64_t id,
                       std::int64_t items, std::int64_t cost, caf::actor main) {
  return {
      [=](item_atom, std::int64_t producer, std::int64_t seq, double value) {
        auto& s = self->state;
        s.value = savina::process_item(s.value + value, cost);
        ++s.consumed;
        s.checksum += item_key(producer, seq, items);
        self->send(buf, idle_atom::value, id);
      },
      [=](stop_atom) {
        self->send(main, done_atom::value, self->state.consumed, self->state.checksum);
        self->quit();
      },
  };
}

}  // namespace

measurement producer_consumer(const parameters& p, int workers) {
  const auto buffer_size = p.integer("buffer");
  const auto producer_count = p.integer("producers");
  const auto consumer_count = p.integer("consumers");
  const auto items = p.integer("items");
  const auto produce_cost = p.integer("produce_cost");
  const auto consume_cost = p.integer("consume_cost");
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto buf = rt.system().spawn(buffer, buffer_size, items);
  auto producers = std::make_shared<std::vector<caf::actor>>();
  auto consumers = std::make_shared<std::vector<caf::actor>>();
  for (std::int64_t i = 0; i < producer_count; ++i)
    producers->push_back(rt.system().spawn(producer, buf, i, items, produce_cost));
  for (std::int64_t i = 0; i < consumer_count; ++i)
    consumers->push_back(
        rt.system().spawn(consumer, buf, i, items, consume_cost, caf::actor{self}));
  self->send(buf, init_atom::value, actor_list(producers), actor_list(consumers));
  savina::stopwatch clock;
  for (const auto& pr : *producers) self->send(pr, produce_atom::value, std::int64_t{0});
  std::int64_t consumed = 0, checksum = 0;
  for (std::int64_t i = 0; i < consumer_count; ++i)
    self->receive([&](done_atom, std::int64_t c, std::int64_t sum) {
      consumed += c;
      checksum += sum;
    });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  stop_all({buf});
  const auto made = producer_count * items;
  const auto expected_checksum = made * (made + 1) / 2;
  savina::check(consumed == made, std::to_string(consumed) + " items were consumed, " +
                                      std::to_string(made) + " made");
  savina::check(checksum == expected_checksum, "the consumed items' checksum is " +
                                                   std::to_string(checksum) + ", expected " +
                                                   std::to_string(expected_checksum));
  m.messages = m.items = static_cast<std::uint64_t>(4 * made);
  return m;
}

}  // namespace volley::caf_peer

// Fan-in latency on volley: twin of bench/peers/caf/fan_in_latency.cpp.
// `senders` actors send `messages` timestamped messages each to one
// receiver, keeping at most `window` unacknowledged; the receiver records
// now - timestamp for every message (send-to-handle latency). Each sender
// numbers its messages; the receiver expects the next number from each and
// the ack echoes it, so a duplicated or misrouted message is caught where it
// arrives and a lost one leaves its sender waiting (the deadline reports it).
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>

#include <algorithm>
#include <latch>

namespace volley::savina_on_volley {

namespace {

struct sender;

struct receiver {
  struct data {
    std::int64_t sent_ns;
    std::int64_t from;
    std::int64_t seq;
    actor_ref<sender> reply_to;
  };
  // Owned by the measuring thread, which reads it only after every sender
  // has had its last acknowledgement (each ack follows its push_back).
  std::vector<std::int64_t>* latencies;
  std::vector<std::int64_t> next_seq;  // per sender
  receiver(std::vector<std::int64_t>* l, std::int64_t senders)
      : latencies(l), next_seq(static_cast<std::size_t>(senders), 0) {}
  void on(const data& d);
};

struct sender : volley::actor<sender> {
  struct start {};
  struct ack {
    std::int64_t seq;
  };
  std::int64_t id;
  actor_ref<receiver> target;
  std::int64_t messages;
  std::int64_t window;
  std::latch* done;
  std::int64_t sent = 0;
  std::int64_t acked = 0;

  sender(std::int64_t i, actor_ref<receiver> t, std::int64_t n, std::int64_t w, std::latch* d)
      : id(i), target(std::move(t)), messages(n), window(w), done(d) {}

  void send_one() {
    const auto seq = sent++;
    for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
      target.tell(receiver::data{savina::now_ns(), id, seq, self()});
  }
  void on(const start&) {
    while (sent < std::min(window, messages)) send_one();
  }
  void on(const ack& a, context& ctx) {
    if (a.seq != acked)
      savina::wrong_answer("fan-in sender " + std::to_string(id) + " got ack " +
                           std::to_string(a.seq) + ", expected " + std::to_string(acked));
    if (++acked == messages) {
      done->count_down();
      ctx.stop();
    } else if (sent < messages) {
      send_one();
    }
  }
};

void receiver::on(const data& d) {
  latencies->push_back(savina::now_ns() - d.sent_ns);
  auto& expected = next_seq[static_cast<std::size_t>(d.from)];
  if (d.seq != expected)
    savina::wrong_answer("fan-in receiver got message " + std::to_string(d.seq) + " of sender " +
                         std::to_string(d.from) + ", expected " + std::to_string(expected));
  ++expected;
  d.reply_to.tell(sender::ack{d.seq});
}

}  // namespace

measurement fan_in_latency(const parameters& p, int workers) {
  const auto senders = p.integer("senders");
  const auto messages = p.integer("messages");
  const auto window = std::max<std::int64_t>(1, p.integer("window"));
  volley::system sys(make_config(workers));
  std::vector<std::int64_t> latencies;
  latencies.reserve(static_cast<std::size_t>(senders * messages));
  auto recv = sys.spawn<receiver>(&latencies, senders);
  std::latch done(senders);
  std::vector<actor_ref<sender>> all;
  for (std::int64_t i = 0; i < senders; ++i)
    all.push_back(sys.spawn<sender>(i, recv, messages, window, &done));
  savina::stopwatch clock;
  for (const auto& s : all) s.tell(sender::start{});
  done.wait();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(static_cast<std::int64_t>(latencies.size()) == senders * messages,
                "receiver handled " + std::to_string(latencies.size()) + " messages, expected " +
                    std::to_string(senders * messages));
  m.messages = m.items = static_cast<std::uint64_t>(2 * senders * messages);
  m.latencies_ns = std::move(latencies);
  return m;
}

}  // namespace volley::savina_on_volley

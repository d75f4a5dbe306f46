// Concurrent dictionary on volley: twin of bench/peers/caf/concurrent_dictionary.cpp.
// `workers` workers each send `messages` requests, one at a time, to one
// dictionary actor; write_percent of them are writes. Every writer stores
// value_of(key) under key, so a read returns either "absent" (-1) or
// value_of(key): anything else is a bug. Requests are numbered per worker
// and the reply echoes the number, so a lost, duplicated or misrouted
// request or reply shows at the worker.
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/pseudo_random.hpp>

#include <algorithm>
#include <atomic>
#include <latch>
#include <unordered_map>

namespace volley::savina_on_volley {

namespace {

// Keys are drawn from a space twice the number of writes, so reads hit and
// miss in about equal measure.
std::int64_t value_of(std::int64_t key) {
  return key * 31 + 7;
}

struct worker;

// A request names its worker, so the reply is a typed tell (CAF replies to
// the sender of a request instead).
struct dictionary {
  struct write {
    std::int64_t seq;
    std::int64_t key;
    std::int64_t value;
    actor_ref<worker> reply_to;
  };
  struct read {
    std::int64_t seq;
    std::int64_t key;
    actor_ref<worker> reply_to;
  };
  std::unordered_map<std::int64_t, std::int64_t> map;

  void on(const write& w);
  void on(const read& r);
};

struct worker : volley::actor<worker> {
  struct start {};
  struct reply {
    std::int64_t seq;
    std::int64_t value;
  };
  actor_ref<dictionary> dict;
  std::int64_t messages;
  std::int64_t write_percent;
  std::int64_t key_space;
  std::atomic<std::int64_t>* wrong_total;
  std::latch* done;
  std::int64_t sent = 0;
  std::int64_t wrong = 0;
  std::int64_t pending_key = 0;
  savina::pseudo_random random;

  worker(std::int64_t id, actor_ref<dictionary> d, std::int64_t n, std::int64_t wp, std::int64_t ks,
         std::atomic<std::int64_t>* w, std::latch* l)
      : dict(std::move(d)),
        messages(n),
        write_percent(wp),
        key_space(ks),
        wrong_total(w),
        done(l),
        random(static_cast<std::uint64_t>(id) * 7919 + 1) {}

  void next(context& ctx) {
    if (sent == messages) {
      wrong_total->fetch_add(wrong, std::memory_order_relaxed);
      done->count_down();
      ctx.stop();
      return;
    }
    ++sent;
    pending_key = static_cast<std::int64_t>(random.below(static_cast<std::uint64_t>(key_space)));
    bool is_write = static_cast<std::int64_t>(random.below(100)) < write_percent;
    for (int copy = savina::copies_of_marked_message(); copy > 0; --copy) {
      if (is_write)
        dict.tell(dictionary::write{sent, pending_key, value_of(pending_key), self()});
      else
        dict.tell(dictionary::read{sent, pending_key, self()});
    }
  }
  void on(const start&, context& ctx) { next(ctx); }
  void on(const reply& r, context& ctx) {
    if (r.seq != sent)
      savina::wrong_answer("dictionary worker got the reply to request " + std::to_string(r.seq) +
                           ", expected " + std::to_string(sent));
    if (r.value != -1 && r.value != value_of(pending_key)) ++wrong;
    next(ctx);
  }
};

void dictionary::on(const write& w) {
  map[w.key] = w.value;
  w.reply_to.tell(worker::reply{w.seq, w.value});
}

void dictionary::on(const read& r) {
  auto it = map.find(r.key);
  r.reply_to.tell(worker::reply{r.seq, it == map.end() ? std::int64_t{-1} : it->second});
}

}  // namespace

measurement concurrent_dictionary(const parameters& p, int workers) {
  const auto n = p.integer("workers");
  const auto messages = p.integer("messages");
  const auto write_percent = p.integer("write_percent");
  const auto key_space = std::max<std::int64_t>(1, 2 * n * messages * write_percent / 100);
  volley::system sys(make_config(workers));
  std::atomic<std::int64_t> wrong{0};
  std::latch done(n);
  auto dict = sys.spawn<dictionary>();
  std::vector<actor_ref<worker>> all;
  for (std::int64_t i = 0; i < n; ++i)
    all.push_back(sys.spawn<worker>(i, dict, messages, write_percent, key_space, &wrong, &done));
  savina::stopwatch clock;
  for (const auto& w : all) w.tell(worker::start{});
  done.wait();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(wrong.load() == 0,
                std::to_string(wrong.load()) + " reads returned a value nobody wrote");
  m.messages = m.items = static_cast<std::uint64_t>(2 * n * messages);
  return m;
}

}  // namespace volley::savina_on_volley

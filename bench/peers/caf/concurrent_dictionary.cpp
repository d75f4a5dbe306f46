// Concurrent dictionary: `workers` worker actors each send `messages`
// requests, one at a time, to a single dictionary actor; write_percent of
// them are writes. Every writer stores value_of(key) under key, so a read
// must return either "absent" (-1) or value_of(key): anything else is a bug.
// Requests are numbered per worker and the reply echoes the number (as on
// volley).
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/fault_injection.hpp>
#include <volley/savina/pseudo_random.hpp>

#include <unordered_map>

namespace volley::caf_peer {

namespace {

using read_atom = caf::atom_constant<caf::atom("read")>;
using write_atom = caf::atom_constant<caf::atom("write")>;

// Keys are drawn from a space twice the number of writes, so reads hit and
// miss in about equal measure.
std::int64_t value_of(std::int64_t key) {
  return key * 31 + 7;
}

struct dictionary_state {
  std::unordered_map<std::int64_t, std::int64_t> map;
};

caf::behavior dictionary(caf::stateful_actor<dictionary_state>* self) {
  return {
      [=](write_atom, std::int64_t seq, std::int64_t key,
          std::int64_t value) -> caf::result<std::int64_t, std::int64_t> {
        self->state.map[key] = value;
        return {seq, value};
      },
      [=](read_atom, std::int64_t seq,
          std::int64_t key) -> caf::result<std::int64_t, std::int64_t> {
        auto it = self->state.map.find(key);
        return {seq, it == self->state.map.end() ? std::int64_t{-1} : it->second};
      },
  };
}

struct worker_state {
  std::int64_t sent = 0;
  std::int64_t wrong = 0;
  std::int64_t pending_key = 0;
  savina::pseudo_random random{0};
};

caf::behavior worker(caf::stateful_actor<worker_state>* self, std::int64_t id, caf::actor dict,
                     std::int64_t messages, std::int64_t write_percent, std::int64_t key_space,
                     caf::actor main) {
  self->state.random = savina::pseudo_random(static_cast<std::uint64_t>(id) * 7919 + 1);
  auto next = [=] {
    auto& s = self->state;
    if (s.sent == messages) {
      self->send(main, done_atom::value, s.wrong);
      self->quit();
      return;
    }
    ++s.sent;
    s.pending_key =
        static_cast<std::int64_t>(s.random.below(static_cast<std::uint64_t>(key_space)));
    bool is_write = static_cast<std::int64_t>(s.random.below(100)) < write_percent;
    for (int copy = savina::copies_of_marked_message(); copy > 0; --copy) {
      if (is_write)
        self->send(dict, write_atom::value, s.sent, s.pending_key, value_of(s.pending_key));
      else
        self->send(dict, read_atom::value, s.sent, s.pending_key);
    }
  };
  return {
      [=](start_atom) { next(); },
      [=](std::int64_t seq, std::int64_t value) {
        if (seq != self->state.sent)
          savina::wrong_answer("dictionary worker got the reply to request " + std::to_string(seq) +
                               ", expected " + std::to_string(self->state.sent));
        if (value != -1 && value != value_of(self->state.pending_key)) ++self->state.wrong;
        next();
      },
  };
}

}  // namespace

measurement concurrent_dictionary(const parameters& p, int workers) {
  const auto n = p.integer("workers");
  const auto messages = p.integer("messages");
  const auto write_percent = p.integer("write_percent");
  const auto key_space = std::max<std::int64_t>(1, 2 * n * messages * write_percent / 100);
  caf_runtime rt(workers);
  caf::scoped_actor self{rt.system()};
  auto dict = rt.system().spawn(dictionary);
  std::vector<caf::actor> all;
  for (std::int64_t i = 0; i < n; ++i)
    all.push_back(
        rt.system().spawn(worker, i, dict, messages, write_percent, key_space, caf::actor{self}));
  std::int64_t wrong = 0;
  savina::stopwatch clock;
  for (const auto& w : all) self->send(w, start_atom::value);
  for (std::int64_t i = 0; i < n; ++i)
    self->receive([&](done_atom, std::int64_t w) { wrong += w; });
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  stop_all({dict});
  savina::check(wrong == 0, std::to_string(wrong) + " reads returned a value nobody wrote");
  m.messages = m.items = static_cast<std::uint64_t>(2 * n * messages);
  return m;
}

}  // namespace volley::caf_peer

// Chameneos on volley: twin of bench/peers/caf/chameneos.cpp.
// Every creature sends the mall one `meet` to start and one after each of
// its meetings, so the mall must receive exactly creatures + the sum of the
// creatures' meetings; a lost meet leaves a creature that never fades (the
// deadline catches it), a duplicated one shows in that count.
#include "volley_workloads.hpp"

#include <volley/savina/fault_injection.hpp>

#include <future>

namespace volley::savina_on_volley {

namespace {

std::int32_t complement(std::int32_t a, std::int32_t b) {
  return a == b ? a : 3 - a - b;
}

struct creature;

struct mall_result {
  std::int64_t meetings_sum;
  std::int64_t received;
  std::int64_t meets;
};

struct mall {
  struct meet {
    std::int32_t colour;
    actor_ref<creature> from;
  };
  struct count {
    std::int64_t meetings;
  };
  std::int64_t meetings_left;
  std::int64_t creatures;
  std::promise<mall_result>* done;
  actor_ref<creature> waiting{};
  std::int64_t faded = 0, meetings_sum = 0, received = 0, meets = 0;

  mall(std::int64_t meetings, std::int64_t c, std::promise<mall_result>* d)
      : meetings_left(meetings), creatures(c), done(d) {}
  void on(const meet& m);
  void on(const count& c) {
    ++received;
    meetings_sum += c.meetings;
    if (++faded == creatures) done->set_value({meetings_sum, received, meets});
  }
};

struct creature {
  struct start {};
  struct met {
    std::int32_t colour;
    actor_ref<creature> other;
  };
  struct change {
    std::int32_t colour;
  };
  struct fade {};
  std::int32_t colour;
  actor_ref<mall> the_mall;
  std::int64_t meetings = 0;

  creature(std::int32_t c, actor_ref<mall> m) : colour(c), the_mall(std::move(m)) {}
  void on(const start&, context& ctx) {
    for (int copy = savina::copies_of_marked_message(); copy > 0; --copy)
      the_mall.tell(mall::meet{colour, ctx.self_as<creature>()});
  }
  void on(const met& m, context& ctx) {
    colour = complement(colour, m.colour);
    ++meetings;
    m.other.tell(change{colour});
    the_mall.tell(mall::meet{colour, ctx.self_as<creature>()});
  }
  void on(const change& c, context& ctx) {
    colour = c.colour;
    ++meetings;
    the_mall.tell(mall::meet{colour, ctx.self_as<creature>()});
  }
  void on(const fade&, context& ctx) {
    the_mall.tell(mall::count{meetings});
    ctx.stop();
  }
};

void mall::on(const meet& m) {
  ++received;
  ++meets;
  if (meetings_left == 0) {
    m.from.tell(creature::fade{});
  } else if (!waiting) {
    waiting = m.from;
  } else {
    --meetings_left;
    waiting.tell(creature::met{m.colour, m.from});
    waiting = actor_ref<creature>{};
  }
}

}  // namespace

measurement chameneos(const parameters& p, int workers) {
  const auto creatures = p.integer("chameneos");
  const auto meetings = p.integer("meetings");
  volley::system sys(make_config(workers));
  std::promise<mall_result> done;
  auto m_actor = sys.spawn<mall>(meetings, creatures, &done);
  std::vector<actor_ref<creature>> all;
  for (std::int64_t i = 0; i < creatures; ++i)
    all.push_back(sys.spawn<creature>(static_cast<std::int32_t>(i % 3), m_actor));
  savina::stopwatch clock;
  for (const auto& c : all) c.tell(creature::start{});
  auto result = done.get_future().get();
  measurement m;
  m.elapsed_s = clock.elapsed_s();
  sys.shutdown();
  savina::check(result.meetings_sum == 2 * meetings,
                "creatures report " + std::to_string(result.meetings_sum) +
                    " meetings in all, expected " + std::to_string(2 * meetings));
  savina::check(result.meets == creatures + result.meetings_sum,
                "the mall got " + std::to_string(result.meets) + " meet messages, expected " +
                    std::to_string(creatures + result.meetings_sum));
  m.messages = m.items = static_cast<std::uint64_t>(result.received + 2 * meetings + creatures);
  return m;
}

}  // namespace volley::savina_on_volley

// Tests of an actor without state (cell.hpp, actor_cell::in_header): it is
// built in the cell header's spare byte instead of storage after the header,
// so it must still be constructed and destroyed exactly as any actor is —
// once per spawn and once more per restart — be what actor_of finds, and
// stop and be watched as usual.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::directive;

namespace {

// Counted in statics: a member would give the actor state.
int constructed = 0;
int destroyed = 0;
int handled = 0;

struct ping {};
struct fail {};

struct stateless {
  stateless() { ++constructed; }
  ~stateless() { ++destroyed; }
  stateless(const stateless&) = delete;
  stateless& operator=(const stateless&) = delete;
  int on(const ping&) { return ++handled; }
  void on(const fail&) { throw std::runtime_error("asked to fail"); }
};
static_assert(volley::detail::actor_cell<stateless>::in_header);

struct child_ref {};

/// Restarts its one stateless child whatever it throws.
struct restarting_parent {
  volley::supervisor_strategy supervisor_strategy() const {
    auto s = volley::supervisor_strategy::one_for_one();
    s.decide([](const std::exception_ptr&) { return directive::restart; });
    return s;
  }
  void pre_start(volley::context& ctx) { kid_ = ctx.spawn<stateless>(); }
  volley::actor_ref<stateless> on(const child_ref&) const { return kid_; }
  volley::actor_ref<stateless> kid_;
};

struct watch_this {
  volley::actor_ref<stateless> target;
};

struct watcher {
  std::shared_ptr<int> terminations;
  explicit watcher(std::shared_ptr<int> t) : terminations(std::move(t)) {}
  void on(const watch_this& m, volley::context& ctx) { ctx.watch(m.target); }
  void on(const volley::terminated&) { ++*terminations; }
};

struct det_env {
  volley::system sys{[] {
    volley::config cfg;
    cfg.deterministic_seed = 11;
    cfg.workers = 1;
    cfg.pin = false;
    return cfg;
  }()};
  det_env() { constructed = destroyed = handled = 0; }

  template <class R>
  R answer(volley::future<R> f) {
    sys.run_until_idle();
    return f.get(1s).value();
  }
};

bool inside_header(volley::detail::cell_base* c, const void* p) {
  const auto* begin = reinterpret_cast<const unsigned char*>(c);
  const auto* at = static_cast<const unsigned char*>(p);
  return at >= begin && at < begin + sizeof(volley::detail::cell_base);
}

}  // namespace

TEST_CASE("an actor without state lives in its cell header and runs once constructed",
          "[stateless]") {
  det_env env;
  auto a = env.sys.spawn<stateless>();
  CHECK(inside_header(a.cell(), &volley::detail::actor_of<stateless>(a.cell())));
  CHECK(env.answer(a.ask(ping{})) == 1);
  CHECK(env.answer(a.ask(ping{})) == 2);
  CHECK(constructed == 1);
  a.stop();
  env.sys.run_until_idle();
  CHECK(destroyed == 1);
  CHECK(a.cell()->is_dead());
}

TEST_CASE("a restarted actor without state is destroyed and built again in its header",
          "[stateless][supervision]") {
  det_env env;
  auto parent = env.sys.spawn<restarting_parent>();
  auto kid = env.answer(parent.ask(child_ref{}));
  CHECK(env.answer(kid.ask(ping{})) == 1);
  kid.tell(fail{});
  env.sys.run_until_idle();
  CHECK(constructed == 2);
  CHECK(destroyed == 1);
  // The same cell, with its new instance, goes on with the next message.
  CHECK(env.answer(kid.ask(ping{})) == 2);
  CHECK(inside_header(kid.cell(), &volley::detail::actor_of<stateless>(kid.cell())));
  env.sys.shutdown();
  CHECK(destroyed == 2);
}

TEST_CASE("a watched actor without state tells its watcher once when it stops",
          "[stateless][watch]") {
  det_env env;
  auto terminations = std::make_shared<int>(0);
  auto target = env.sys.spawn<stateless>();
  auto w = env.sys.spawn<watcher>(terminations);
  w.tell(watch_this{target});
  env.sys.run_until_idle();
  target.stop();
  env.sys.run_until_idle();
  CHECK(*terminations == 1);
  CHECK(destroyed == 1);
  CHECK(constructed == 1);
}

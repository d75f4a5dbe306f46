// reply_later — answering an ask after the handler has returned.
//
// A quote desk (B) is asked for a price; it must ask the pricer (C) first.
// An ask is answered by the handler's return value, which B does not have
// yet. Two ways to answer later, same behaviour:
//   * a reply handle: `auto reply = ctx.reply_later<int>()` takes the ask's
//     reply; B keeps it (here, in the continuation of its own ask to C) and
//     completes it with reply.ok(v) or reply.fail(error). The handler
//     returns volley::deferred<int>: "the int comes later".
//   * a coroutine: the handler returns volley::reply_task<int>, awaits C and
//     answers with `co_return`.
// A handle that is dropped unanswered answers the asker with
// errc::broken_promise: an asker never hangs.
//
// Prints:
//   main: asking the desk about item 7 (reply handle)
//   desk: asking the pricer about item 7
//   pricer: item 7 costs 70
//   main: the desk answered 77
//   main: asking the desk about item 8 (coroutine)
//   desk: asking the pricer about item 8
//   pricer: item 8 costs 80
//   main: the desk answered 88
//   main: asking the desk about item 0 (dropped handle)
//   main: the desk failed: broken promise
#include <chrono>
#include <cstdio>
#include <utility>

#include <volley/volley.hpp>

using namespace std::chrono_literals;

struct price {
  int item;
};
struct quote {
  int item;
};
struct quote_co {
  int item;
};

/// C answers with its return value.
struct pricer {
  int on(const price& p) {
    std::printf("pricer: item %d costs %d\n", p.item, p.item * 10);
    return p.item * 10;
  }
};

/// B: must ask C before it can answer.
class desk {
 public:
  explicit desk(volley::actor_ref<pricer> p) : pricer_(std::move(p)) {}

  volley::deferred<int> on(const quote& q, volley::context& ctx) {
    auto reply = ctx.reply_later<int>();
    if (q.item == 0) return {};  // no such item: the handle is dropped unanswered
    std::printf("desk: asking the pricer about item %d\n", q.item);
    ctx.ask(pricer_, price{q.item}, 1s, [reply = std::move(reply), item = q.item](auto r) mutable {
      if (r)
        reply.ok(r.value() + item);  // price plus a fee
      else
        reply.fail(r.err());
    });
    return {};
  }

  volley::reply_task<int> on(const quote_co& q, volley::context& ctx) {
    std::printf("desk: asking the pricer about item %d\n", q.item);
    volley::result<int> r = co_await ctx.ask(pricer_, price{q.item}, 1s);
    co_return r.value() + q.item;  // a throw would answer errc::handler_failed
  }

 private:
  volley::actor_ref<pricer> pricer_;
};

int main() {
  volley::config cfg;
  cfg.workers = 2;
  cfg.pin = false;
  volley::system sys(cfg);
  auto p = sys.spawn<pricer>();
  auto d = sys.spawn<desk>(p);

  std::printf("main: asking the desk about item 7 (reply handle)\n");
  std::printf("main: the desk answered %d\n", d.ask(quote{7}).get().value());

  std::printf("main: asking the desk about item 8 (coroutine)\n");
  std::printf("main: the desk answered %d\n", d.ask(quote_co{8}).get().value());

  std::printf("main: asking the desk about item 0 (dropped handle)\n");
  volley::result<int> r = d.ask(quote{0}).get();
  std::printf("main: the desk failed: %s\n", r ? "no" : volley::to_string(r.err().code));
}

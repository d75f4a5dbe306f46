// ask_chain — A asks B, B asks C before it can answer: without blocking.
//
// B needs C's answer to answer A. A worker thread must never block waiting
// for another actor (that actor may need the very same thread), so B asks
// with `ctx.ask`, which returns at once; the answer comes back later *as a
// message of B*, so B may touch its own state when it handles it. Two ways
// to write B, same behaviour:
//   * a continuation: ctx.ask(c, request, timeout, [](volley::result<int> r) {...});
//   * a coroutine:    auto r = co_await ctx.ask(c, request, timeout);
//                     (the handler returns volley::task).
// The answer is a volley::result<int>: the value, or an error such as a
// timeout. Here A talks to B with tells, so B answers with a plain tell to
// the sender it remembered. Had A *asked* B, B could still answer later:
// keep the ask's reply with `auto reply = ctx.reply_later<int>()` and
// complete it in the continuation (`reply.ok(v)`), or write B as a
// `volley::reply_task<int>` coroutine that ends with `co_return v;` — see
// examples/reply_later.cpp.
//
// Prints:
//   -- B with a continuation --
//   A: asking B about 1
//   B: asking C about 101
//   C: 101 * 2 = 202
//   A: B answered 202
//   -- B with a coroutine --
//   A: asking B about 2
//   B: asking C about 102
//   C: 102 * 2 = 204
//   A: B answered 204
#include <chrono>
#include <cstdio>
#include <future>
#include <utility>

#include <volley/volley.hpp>

using namespace std::chrono_literals;

struct request_from_a {
  int data;
};
struct request_from_b {
  int data;
};
struct response_from_b {
  int data;
};

/// C answers with its return value: anyone may ask it.
class actor_c {
 public:
  int on(const request_from_b& r) {
    std::printf("C: %d * 2 = %d\n", r.data, r.data * 2);
    return r.data * 2;
  }
};

/// B with a continuation.
class actor_b {
 public:
  explicit actor_b(volley::actor_ref<actor_c> c) : c_(std::move(c)) {}

  void on(const request_from_a& r, volley::context& ctx) {
    int inter = r.data + 100;
    std::printf("B: asking C about %d\n", inter);
    // The continuation runs later, on B: capture what it needs by value
    // (the request and the context are gone by then).
    ctx.ask(c_, request_from_b{inter}, 1s, [reply_to = ctx.sender()](volley::result<int> answer) {
      if (answer) {
        reply_to.tell(response_from_b{answer.value()});
      } else {
        std::printf("B: C did not answer: %s\n", answer.err().message.c_str());
      }
    });
  }

 private:
  volley::actor_ref<actor_c> c_;
};

/// B as a coroutine: reads top to bottom like blocking code, but B's
/// worker is free while it waits. B handles its other messages only after
/// the coroutine has finished (they wait in its mailbox, in order).
class coroutine_b {
 public:
  explicit coroutine_b(volley::actor_ref<actor_c> c) : c_(std::move(c)) {}

  // The request is taken *by value*: it lives in the coroutine's frame. A
  // reference would dangle after the co_await, and so would `ctx`: use it
  // only before the first co_await.
  volley::task on(request_from_a r, volley::context& ctx) {
    volley::any_ref reply_to = ctx.sender();
    int inter = r.data + 100;
    std::printf("B: asking C about %d\n", inter);
    volley::result<int> answer = co_await ctx.ask(c_, request_from_b{inter}, 1s);
    if (answer) {
      reply_to.tell(response_from_b{answer.value()});
    } else {
      std::printf("B: C did not answer: %s\n", answer.err().message.c_str());
    }
  }

 private:
  volley::actor_ref<actor_c> c_;
};

struct start {
  int data;
};

/// A starts the chain and reports the answer to main.
template <class B>
class actor_a {
 public:
  // B answers through the sender it remembered, an untyped ref.
  using accepts = volley::accepts<response_from_b>;

  actor_a(volley::actor_ref<B> b, std::promise<int> done)
      : b_(std::move(b)), done_(std::move(done)) {}

  void on(const start& s, volley::context& ctx) {
    std::printf("A: asking B about %d\n", s.data);
    b_.tell(request_from_a{s.data}, ctx);  // with ctx: B's ctx.sender() is A
  }

  void on(const response_from_b& r) {
    std::printf("A: B answered %d\n", r.data);
    done_.set_value(r.data);
  }

 private:
  volley::actor_ref<B> b_;
  std::promise<int> done_;
};

/// Spawn A and B in front of `c`, run one request through, wait for it.
template <class B>
void run_chain(volley::system& sys, const volley::actor_ref<actor_c>& c, int data) {
  auto b = sys.spawn<B>(c);
  std::promise<int> done;
  auto answered = done.get_future();
  auto a = sys.spawn<actor_a<B>>(b, std::move(done));
  a.tell(start{data});
  answered.wait();
}

int main() {
  volley::system sys;
  auto c = sys.spawn<actor_c>();

  std::printf("-- B with a continuation --\n");
  run_chain<actor_b>(sys, c, 1);
  std::printf("-- B with a coroutine --\n");
  run_chain<coroutine_b>(sys, c, 2);
}

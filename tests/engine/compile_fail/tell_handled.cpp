// The control for the compile-fail tests: the same kind of program with
// only handled sends, compiled with the same flags and include directories.
#include <volley/volley.hpp>

struct increment {};
struct get_total {};

struct counter {
  void on(const increment&) { ++n; }
  int on(const get_total&, volley::context&) { return n; }
  int n = 0;
};

void send(const volley::actor_ref<counter>& c, const volley::any_ref& u) {
  c.tell(increment{});
  c.tell(volley::poison_pill{});  // every actor takes a poison pill
  volley::future<int> f = c.ask(get_total{});
  (void)f;
  u.tell(increment{});  // untyped sends are checked at run time
}

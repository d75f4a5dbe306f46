// Must NOT compile: asking `counter` a question it has no on() handler for.
#include <volley/volley.hpp>

struct increment {};
struct get_total {};

struct counter {
  void on(const increment&) { ++n; }
  int n = 0;
};

void send(const volley::actor_ref<counter>& c) {
  (void)c.ask(get_total{});  // the error this file exists for
}

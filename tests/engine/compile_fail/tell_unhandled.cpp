// Must NOT compile: `counter` has no on() handler for `reset`.
#include <volley/volley.hpp>

struct increment {};
struct reset {};

struct counter {
  void on(const increment&) { ++n; }
  int n = 0;
};

void send(const volley::actor_ref<counter>& c) {
  c.tell(increment{});
  c.tell(reset{});  // the error this file exists for
}

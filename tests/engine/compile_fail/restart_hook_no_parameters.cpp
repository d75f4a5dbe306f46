// Must NOT compile: `worker` declares pre_restart() without the exception
// parameter, a form the engine would never call (see supervision.hpp).
#include <volley/volley.hpp>

struct job {};

struct worker {
  void on(const job&) {}
  void pre_restart() {}  // the error this file exists for
};

void start(volley::system& sys) {
  sys.spawn<worker>();
}

// Must NOT compile: `worker` declares post_restart(int), which no restart
// would ever call (see supervision.hpp).
#include <volley/volley.hpp>

struct job {};

struct worker {
  void on(const job&) {}
  void post_restart(int) {}  // the error this file exists for
};

void start(volley::system& sys) {
  sys.spawn<worker>();
}

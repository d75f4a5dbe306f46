// The smallest program an installed volley must build and run.
#include <cstdio>

#include <volley/version.hpp>
#include <volley/volley.hpp>

static_assert(VOLLEY_VERSION >= VOLLEY_MAKE_VERSION(0, 1, 0), "volley/version.hpp is installed");

struct add {
  int n;
};
struct total {};

struct summer {
  int sum = 0;
  void on(const add& a) { sum += a.n; }
  int on(const total&) { return sum; }
};

int main() {
  volley::system sys;
  auto s = sys.spawn<summer>();
  for (int i = 0; i < 1000; ++i) s.tell(add{1});
  auto r = s.ask(total{}).get(std::chrono::seconds(30));
  if (!r) return 1;
  std::printf("total=%d version=%s\n", r.value(), volley::version_string);
  return 0;
}

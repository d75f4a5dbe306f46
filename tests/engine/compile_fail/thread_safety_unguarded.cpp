// Must be rejected by clang -Wthread-safety -Werror: a guarded field written
// without its mutex, and a VOLLEY_REQUIRES function called without it. This
// is the known-bad variant that shows the annotations are checked at all.
#include <volley/engine/detail/thread_safety.hpp>

#include <vector>

class registry {
 public:
  void add(int v) { values_.push_back(v); }  // no lock: rejected
  void add_twice(int v) { add_locked(v); }   // no lock: rejected

 private:
  void add_locked(int v) VOLLEY_REQUIRES(mu_) { values_.push_back(v); }
  volley::detail::mutex mu_;
  std::vector<int> values_ VOLLEY_GUARDED_BY(mu_);
};

int main() {
  registry r;
  r.add(1);
  r.add_twice(2);
}

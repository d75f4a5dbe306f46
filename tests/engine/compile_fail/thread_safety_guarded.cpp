// The control of thread_safety_unguarded.cpp: the same registry, with every
// access under its mutex (lock_guard, unique_lock with a condition variable,
// shared and exclusive locks) — compiles cleanly with -Wthread-safety -Werror.
#include <volley/engine/detail/thread_safety.hpp>

#include <condition_variable>
#include <vector>

class registry {
 public:
  void add(int v) {
    volley::detail::lock_guard lock(mu_);
    add_locked(v);
    ready_.notify_all();
  }
  std::size_t wait_for(std::size_t n) {
    volley::detail::unique_lock lock(mu_);
    ready_.wait(lock.native(), [&]() VOLLEY_REQUIRES(mu_) { return values_.size() >= n; });
    return values_.size();
  }
  int first() {
    volley::detail::shared_lock lock(table_mu_);
    return table_.empty() ? 0 : table_.front();
  }
  void set_first(int v) {
    volley::detail::exclusive_lock lock(table_mu_);
    table_.assign(1, v);
  }

 private:
  void add_locked(int v) VOLLEY_REQUIRES(mu_) { values_.push_back(v); }
  volley::detail::mutex mu_;
  std::condition_variable ready_;
  std::vector<int> values_ VOLLEY_GUARDED_BY(mu_);
  volley::detail::shared_mutex table_mu_;
  std::vector<int> table_ VOLLEY_GUARDED_BY(table_mu_);
};

int main() {
  registry r;
  r.add(1);
  r.set_first(2);
  return static_cast<int>(r.wait_for(1)) + r.first() == 3 ? 0 : 1;
}

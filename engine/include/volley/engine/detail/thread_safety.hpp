// volley/engine/detail/thread_safety.hpp — locking rules written into the types.
//
// What it is for
// --------------
// volley's hot path takes no lock, but the slow paths do (the timer wheel,
// the actor tree's names, dead-letter subscribers, a remote node's tables).
// Which mutex guards which field is a rule a comment can state and a later
// change can silently break. Here the rule is part of the declaration:
//
//     detail::mutex mu_;
//     std::vector<subscriber> subscribers_ VOLLEY_GUARDED_BY(mu_);
//     void add_locked(subscriber s) VOLLEY_REQUIRES(mu_);
//
//     void add(subscriber s) {
//       detail::lock_guard lock(mu_);
//       add_locked(std::move(s));
//     }
//
// clang's -Wthread-safety checks every access at compile time: touching
// `subscribers_` or calling `add_locked` without holding `mu_` is a
// diagnostic (an error in the clang build of ./volley.sh test, which compiles
// the libraries with -Wthread-safety -Werror). Other compilers see plain
// std::mutex wrappers; the macros expand to nothing.
//
// When not to use it: lock-free code (its rules are memory orders, argued in
// each file's essay and checked by tests/checker), and code that hands a lock
// across functions in ways the analysis cannot follow — there, say why with
// VOLLEY_NO_THREAD_SAFETY_ANALYSIS on the narrowest function.
#pragma once

#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define VOLLEY_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define VOLLEY_THREAD_ANNOTATION(x)
#endif

#define VOLLEY_CAPABILITY(name) VOLLEY_THREAD_ANNOTATION(capability(name))
#define VOLLEY_SCOPED_CAPABILITY VOLLEY_THREAD_ANNOTATION(scoped_lockable)
#define VOLLEY_GUARDED_BY(m) VOLLEY_THREAD_ANNOTATION(guarded_by(m))
#define VOLLEY_PT_GUARDED_BY(m) VOLLEY_THREAD_ANNOTATION(pt_guarded_by(m))
#define VOLLEY_REQUIRES(...) VOLLEY_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define VOLLEY_REQUIRES_SHARED(...) \
  VOLLEY_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define VOLLEY_ACQUIRE(...) VOLLEY_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define VOLLEY_ACQUIRE_SHARED(...) VOLLEY_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define VOLLEY_RELEASE(...) VOLLEY_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define VOLLEY_RELEASE_SHARED(...) VOLLEY_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define VOLLEY_RELEASE_GENERIC(...) \
  VOLLEY_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define VOLLEY_TRY_ACQUIRE(...) VOLLEY_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define VOLLEY_EXCLUDES(...) VOLLEY_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define VOLLEY_RETURN_CAPABILITY(m) VOLLEY_THREAD_ANNOTATION(lock_returned(m))
#define VOLLEY_NO_THREAD_SAFETY_ANALYSIS VOLLEY_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace volley::detail {

/// std::mutex with the capability annotations (libstdc++'s has none).
class VOLLEY_CAPABILITY("mutex") mutex {
 public:
  void lock() VOLLEY_ACQUIRE() { m_.lock(); }
  void unlock() VOLLEY_RELEASE() { m_.unlock(); }
  bool try_lock() VOLLEY_TRY_ACQUIRE(true) { return m_.try_lock(); }
  /// For std::condition_variable (through unique_lock::native()).
  std::mutex& native() VOLLEY_RETURN_CAPABILITY(this) { return m_; }

 private:
  std::mutex m_;
};

/// std::shared_mutex with the capability annotations.
class VOLLEY_CAPABILITY("shared_mutex") shared_mutex {
 public:
  void lock() VOLLEY_ACQUIRE() { m_.lock(); }
  void unlock() VOLLEY_RELEASE() { m_.unlock(); }
  void lock_shared() VOLLEY_ACQUIRE_SHARED() { m_.lock_shared(); }
  void unlock_shared() VOLLEY_RELEASE_SHARED() { m_.unlock_shared(); }

 private:
  std::shared_mutex m_;
};

/// Holds any annotated capability with lock()/unlock() exclusively for its
/// scope: volley's mutex (`lock_guard`), a shared_mutex (`exclusive_lock`),
/// or a model mutex in the checker tests.
template <class Mutex>
class VOLLEY_SCOPED_CAPABILITY basic_lock_guard {
 public:
  explicit basic_lock_guard(Mutex& m) VOLLEY_ACQUIRE(m) : m_(m) { m_.lock(); }
  ~basic_lock_guard() VOLLEY_RELEASE() { m_.unlock(); }
  basic_lock_guard(const basic_lock_guard&) = delete;
  basic_lock_guard& operator=(const basic_lock_guard&) = delete;

 private:
  Mutex& m_;
};

/// Holds a mutex for its scope.
using lock_guard = basic_lock_guard<mutex>;

/// Holds a mutex for its scope, and can wait on a std::condition_variable
/// (which unlocks and relocks it; to the analysis the lock is held
/// throughout, which is what the code after the wait may assume).
class VOLLEY_SCOPED_CAPABILITY unique_lock {
 public:
  explicit unique_lock(mutex& m) VOLLEY_ACQUIRE(m) : lock_(m.native()) {}
  ~unique_lock() VOLLEY_RELEASE() {}
  unique_lock(const unique_lock&) = delete;
  unique_lock& operator=(const unique_lock&) = delete;

  /// Drop the lock early (for example before running user code).
  void unlock() VOLLEY_RELEASE() { lock_.unlock(); }
  /// Take it again after unlock().
  void lock() VOLLEY_ACQUIRE() { lock_.lock(); }

  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

/// Holds a shared_mutex exclusively for its scope.
using exclusive_lock = basic_lock_guard<shared_mutex>;

/// Holds a shared_mutex shared for its scope.
class VOLLEY_SCOPED_CAPABILITY shared_lock {
 public:
  explicit shared_lock(shared_mutex& m) VOLLEY_ACQUIRE_SHARED(m) : m_(m) { m_.lock_shared(); }
  ~shared_lock() VOLLEY_RELEASE_GENERIC() { m_.unlock_shared(); }
  shared_lock(const shared_lock&) = delete;
  shared_lock& operator=(const shared_lock&) = delete;

 private:
  shared_mutex& m_;
};

}  // namespace volley::detail

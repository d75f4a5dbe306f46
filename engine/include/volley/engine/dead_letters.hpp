// volley/engine/dead_letters.hpp — where undelivered messages are accounted.
//
// Every message that is not handled — sent to a stopped actor, refused by a
// bounded mailbox, of a type the actor does not accept, left over at
// shutdown — is counted here by reason, handed to subscribers, and logged:
// the first `dead_letter_log_first` individually, then a periodic summary
// with the counts since the last one. The counts are exact; only the log is
// rate-limited, so it is never silent and never a flood.
//
//     auto sub = sys.dead_letters().subscribe([](const volley::dead_letter& d) {
//       metrics.count(d.reason);
//     });                                  // unsubscribes when `sub` is destroyed
//     sys.dead_letters().count();          // total so far
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <volley/engine/dead_letter_reason.hpp>
#include <volley/engine/detail/thread_safety.hpp>

namespace volley {

/// One undelivered message, as reported to subscribers and the log.
struct dead_letter {
  std::string sender;     ///< sender's path, or "" when sent without one
  std::string recipient;  ///< recipient's path
  std::string type;       ///< the message's C++ type
  dead_letter_reason reason;
};

class dead_letters {
 public:
  class subscription {
   public:
    subscription() = default;
    subscription(subscription&&) noexcept = default;
    subscription& operator=(subscription&&) noexcept = default;
    ~subscription();
    void cancel();

   private:
    friend class dead_letters;
    subscription(std::weak_ptr<void> owner, dead_letters* dl, std::uint64_t id)
        : owner_(std::move(owner)), dl_(dl), id_(id) {}
    std::weak_ptr<void> owner_;
    dead_letters* dl_ = nullptr;
    std::uint64_t id_ = 0;
  };

  /// Throws std::invalid_argument for a negative summary_interval.
  dead_letters(unsigned log_first, std::chrono::milliseconds summary_interval);
  ~dead_letters();

  /// Total dead letters so far, or those of one reason.
  std::uint64_t count() const noexcept;
  std::uint64_t count(dead_letter_reason r) const noexcept;

  /// Call f for every dead letter from now on (on the thread that produced
  /// it; keep it short and do not block). Thread-safe.
  [[nodiscard]] subscription subscribe(std::function<void(const dead_letter&)> f);

  /// Record one (engine side; also usable by extensions such as remoting).
  void publish(dead_letter d);

  /// Engine side: whether a report is wanted for the next dead letter
  /// (someone subscribed, or the log still prints them one by one). When
  /// not, count_only() records it without building the strings.
  bool wants_details() const noexcept;
  void count_only(dead_letter_reason r) noexcept;

  /// Log the summary of what has not been summarised yet (shutdown does).
  void flush_log();

 private:
  void unsubscribe(std::uint64_t id);
  void log(const dead_letter& d, std::uint64_t nth) VOLLEY_REQUIRES(mu_);
  /// Fold the counts in and print the summary if one is due.
  void summarise_if_due(std::uint64_t counted_here, std::uint64_t nth) VOLLEY_REQUIRES(mu_);

  const unsigned log_first_;
  const std::chrono::milliseconds summary_interval_;
  std::atomic<std::uint64_t> counts_[dead_letter_reason_count] = {};
  std::atomic<std::uint64_t> total_{0};
  std::atomic<bool> has_subscribers_{false};
  detail::mutex mu_;  // subscribers and the log's summary state (not a hot path)
  std::vector<std::pair<std::uint64_t, std::function<void(const dead_letter&)>>> subscribers_
      VOLLEY_GUARDED_BY(mu_);
  std::uint64_t next_id_ VOLLEY_GUARDED_BY(mu_) = 1;
  std::uint64_t unsummarised_ VOLLEY_GUARDED_BY(mu_) = 0;
  std::chrono::steady_clock::time_point last_summary_ VOLLEY_GUARDED_BY(mu_);
  std::atomic<std::int64_t> last_summary_ns_;          // last_summary_, readable without mu_
  std::atomic<std::uint64_t> unsummarised_atomic_{0};  // counted without mu_, folded in under it
  std::shared_ptr<void> alive_;  // subscriptions check it before unsubscribing
};

}  // namespace volley

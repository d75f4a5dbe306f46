// engine/src/dead_letters.cpp — counting, fan-out and the rate-limited log.
#include <volley/engine/dead_letters.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace volley {

namespace {
std::chrono::milliseconds checked_interval(std::chrono::milliseconds interval) {
  // A negative interval would make every dead letter past the first few a
  // summary line of its own: the flood the summary exists to prevent.
  if (interval.count() < 0) {
    throw std::invalid_argument("volley config: dead_letter_summary_interval is " +
                                std::to_string(interval.count()) +
                                " ms; it must be 0 or more (default 1000 ms)");
  }
  return interval;
}
}  // namespace

dead_letters::dead_letters(unsigned log_first, std::chrono::milliseconds summary_interval)
    : log_first_(log_first),
      summary_interval_(checked_interval(summary_interval)),
      last_summary_(std::chrono::steady_clock::now()),
      last_summary_ns_(last_summary_.time_since_epoch().count()),
      alive_(std::make_shared<int>(0)) {}

dead_letters::~dead_letters() = default;

std::uint64_t dead_letters::count() const noexcept {
  return total_.load(std::memory_order_acquire);
}

std::uint64_t dead_letters::count(dead_letter_reason r) const noexcept {
  return counts_[static_cast<int>(r)].load(std::memory_order_acquire);
}

bool dead_letters::wants_details() const noexcept {
  return has_subscribers_.load(std::memory_order_acquire) ||
         total_.load(std::memory_order_relaxed) < log_first_;
}

void dead_letters::count_only(dead_letter_reason r) noexcept {
  counts_[static_cast<int>(r)].fetch_add(1, std::memory_order_relaxed);
  std::uint64_t nth = total_.fetch_add(1, std::memory_order_acq_rel) + 1;
  if (nth <= log_first_) return;  // a racing caller saw wants_details() before we counted
  if (log_first_ == 0) return;    // logging is off: counted, never summarised
  unsummarised_atomic_.fetch_add(1, std::memory_order_relaxed);
  // Only the caller that finds the summary due takes the lock; the others
  // count and go (a chaos test makes millions of dead letters).
  auto now_ns = std::chrono::steady_clock::now().time_since_epoch().count();
  if (now_ns - last_summary_ns_.load(std::memory_order_relaxed) <
      std::chrono::nanoseconds(summary_interval_).count()) {
    return;
  }
  detail::lock_guard lock(mu_);
  summarise_if_due(0, nth);
}

void dead_letters::summarise_if_due(std::uint64_t counted_here, std::uint64_t nth) {
  unsummarised_ += counted_here + unsummarised_atomic_.exchange(0, std::memory_order_relaxed);
  auto now = std::chrono::steady_clock::now();
  if (now - last_summary_ < summary_interval_) return;
  std::fprintf(stderr, "volley: %llu more dead letters (%llu in all so far)\n",
               static_cast<unsigned long long>(unsummarised_),
               static_cast<unsigned long long>(nth));
  unsummarised_ = 0;
  last_summary_ = now;
  last_summary_ns_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
}

void dead_letters::publish(dead_letter d) {
  counts_[static_cast<int>(d.reason)].fetch_add(1, std::memory_order_relaxed);
  std::uint64_t nth = total_.fetch_add(1, std::memory_order_acq_rel) + 1;
  detail::lock_guard lock(mu_);
  if (nth <= log_first_) {
    log(d, nth);
  } else if (log_first_ != 0) {
    summarise_if_due(1, nth);
  }
  for (auto& [id, f] : subscribers_) {
    try {
      f(d);
    } catch (...) {
      std::fprintf(stderr, "volley: a dead-letter subscriber threw; ignored\n");
    }
  }
}

void dead_letters::log(const dead_letter& d, std::uint64_t nth) {
  std::fprintf(stderr, "volley: dead letter #%llu: %s to %s from %s (%s)%s\n",
               static_cast<unsigned long long>(nth), d.type.c_str(), d.recipient.c_str(),
               d.sender.empty() ? "no sender" : d.sender.c_str(), to_string(d.reason),
               nth == log_first_ ? "; further dead letters are summarised periodically" : "");
}

void dead_letters::flush_log() {
  if (log_first_ == 0) return;  // logging is off: no closing summary either
  detail::lock_guard lock(mu_);
  unsummarised_ += unsummarised_atomic_.exchange(0, std::memory_order_relaxed);
  if (unsummarised_ == 0) return;
  std::fprintf(stderr, "volley: %llu more dead letters (%llu in all)\n",
               static_cast<unsigned long long>(unsummarised_),
               static_cast<unsigned long long>(total_.load()));
  unsummarised_ = 0;
  last_summary_ = std::chrono::steady_clock::now();
  last_summary_ns_.store(last_summary_.time_since_epoch().count(), std::memory_order_relaxed);
}

dead_letters::subscription dead_letters::subscribe(std::function<void(const dead_letter&)> f) {
  detail::lock_guard lock(mu_);
  std::uint64_t id = next_id_++;
  subscribers_.emplace_back(id, std::move(f));
  has_subscribers_.store(true, std::memory_order_release);
  return subscription(alive_, this, id);
}

void dead_letters::unsubscribe(std::uint64_t id) {
  detail::lock_guard lock(mu_);
  std::erase_if(subscribers_, [id](const auto& s) { return s.first == id; });
  has_subscribers_.store(!subscribers_.empty(), std::memory_order_release);
}

dead_letters::subscription::~subscription() {
  cancel();
}

void dead_letters::subscription::cancel() {
  if (dl_ != nullptr && !owner_.expired()) dl_->unsubscribe(id_);
  dl_ = nullptr;
}

}  // namespace volley

// volley/engine/result.hpp — a value or an error, for operations that can
// fail in ordinary use (an ask that times out, a reply from a stopped actor).
//
// Exceptions are kept for programming errors and bad configuration; a
// timeout is not exceptional in an actor system, so ask returns result<T>.
// (std::expected is C++23; this is the small part of it volley needs.)
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace volley {

enum class errc {
  timeout,            ///< no reply within the deadline
  recipient_stopped,  ///< the actor was stopped before it handled the request
  unhandled,          ///< the actor has no handler for the request's type
  handler_failed,     ///< the handler threw; what() is in the message
  would_deadlock,     ///< a blocking wait on a worker thread was refused
  broken_promise,     ///< the request was dropped without a reply
  node_down,          ///< the remote node holding the actor went down
};

/// A short stable name for an error code ("timeout", ...).
constexpr const char* to_string(errc e) noexcept {
  switch (e) {
    case errc::timeout:
      return "timeout";
    case errc::recipient_stopped:
      return "recipient stopped";
    case errc::unhandled:
      return "unhandled";
    case errc::handler_failed:
      return "handler failed";
    case errc::would_deadlock:
      return "would deadlock";
    case errc::broken_promise:
      return "broken promise";
    case errc::node_down:
      return "node down";
  }
  return "unknown";
}

struct error {
  errc code;
  std::string message;  ///< says what happened, for logs and users
};

/// Thrown by result<T>::value() on an error: carries the error.
class bad_result_access : public std::runtime_error {
 public:
  explicit bad_result_access(const error& e)
      : std::runtime_error(std::string(to_string(e.code)) + ": " + e.message), error_(e) {}
  const volley::error& err() const noexcept { return error_; }

 private:
  volley::error error_;
};

template <class T>
class result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  result(error e) : v_(std::in_place_index<1>, std::move(e)) {}      // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  /// The value; throws bad_result_access when this holds an error.
  T& value() & {
    if (!ok()) throw bad_result_access(std::get<1>(v_));
    return std::get<0>(v_);
  }
  T&& value() && {
    if (!ok()) throw bad_result_access(std::get<1>(v_));
    return std::move(std::get<0>(v_));
  }
  const error& err() const { return std::get<1>(v_); }

 private:
  std::variant<T, error> v_;
};

/// What an ask of a handler that returns void yields.
struct unit {
  bool operator==(const unit&) const = default;
};

}  // namespace volley

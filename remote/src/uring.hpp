// The io_uring ring of a transport and its provided-buffer ring for receives.
// Private to volley::remote. Must be created and used on the loop thread: with
// IORING_SETUP_SINGLE_ISSUER the kernel binds the ring to its creating task.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace volley::remote::detail {

/// What the kernel's io_uring offers, as far as the transport cares: the
/// opcodes it supports and its IORING_FEAT_* flags. Read once at start.
struct uring_features {
  std::string kernel;          ///< uname's release, for the message
  std::vector<bool> opcodes;   ///< indexed by IORING_OP_*; missing = unsupported
  unsigned feature_flags = 0;  ///< io_uring_params::features
  bool supports(unsigned op) const { return op < opcodes.size() && opcodes[op]; }
};

/// Probes `ring` (opcodes and the features the kernel reported in `params`).
uring_features probe_features(io_uring& ring, unsigned feature_flags);

/// The first thing the transport needs that `f` lacks, as a sentence such as
/// "kernel 5.15.0 lacks multishot receive (needs 6.0)"; empty when nothing is
/// missing. A pure function, so tests can hand it any feature set.
std::string missing_feature(const uring_features& f);

class uring {
 public:
  /// Throws std::system_error with a message naming io_uring when the kernel
  /// refuses a ring (old kernel, seccomp, sysctl kernel.io_uring_disabled),
  /// or naming the feature it lacks (missing_feature) when it has a ring but
  /// not everything the transport uses.
  explicit uring(unsigned entries);
  ~uring();
  uring(const uring&) = delete;
  uring& operator=(const uring&) = delete;

  io_uring* get() noexcept { return &ring_; }
  /// A free SQE; submits what is queued when the SQ is full to make room.
  /// nullptr when the kernel takes nothing after max_submit_tries submits
  /// (its CQ overflowed: -EBUSY until the loop reaps): callers then retry on
  /// a later turn or close what needed the SQE, never spin here.
  io_uring_sqe* sqe();
  /// Submits queued SQEs once; what io_uring_submit returns.
  int submit() { return submit_(&ring_); }
  /// Tries per sqe() call. Four: a full SQ normally drains on the first
  /// submit; -EINTR or a partial take may need another; more only spins.
  static constexpr int max_submit_tries = 4;
  /// For tests: replaces io_uring_submit (e.g. to make it always fail).
  void set_submit_for_test(int (*fn)(io_uring*)) noexcept { submit_ = fn; }
  /// Whether SINGLE_ISSUER|DEFER_TASKRUN was accepted (informational).
  bool defer_taskrun() const noexcept { return defer_taskrun_; }
  /// Whether io_uring_enter names the ring by a registered index (5.18+).
  bool ring_fd_registered() const noexcept { return ring_fd_registered_; }

  // -- provided buffers (buffer group `group`) ---------------------------------

  void setup_buffers(unsigned count, unsigned size, std::uint16_t group);
  std::byte* buffer(std::uint16_t bid) noexcept {
    return buffers_.get() + std::size_t(bid) * buffer_size_;
  }
  /// Gives a buffer back to the kernel; visible after publish_buffers().
  void recycle(std::uint16_t bid) noexcept;
  /// One release store for all buffers recycled since the last call.
  void publish_buffers() noexcept;

 private:
  io_uring ring_{};
  bool defer_taskrun_ = false;
  bool ring_fd_registered_ = false;
  int (*submit_)(io_uring*) = &io_uring_submit;
  io_uring_buf_ring* buf_ring_ = nullptr;
  std::size_t buf_ring_bytes_ = 0;
  std::unique_ptr<std::byte[]> buffers_;
  unsigned buffer_count_ = 0;
  unsigned buffer_size_ = 0;
  std::uint16_t group_ = 0;
  int recycled_ = 0;
};

}  // namespace volley::remote::detail

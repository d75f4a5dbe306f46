// The io_uring ring of a transport and its provided-buffer ring for receives.
// Private to volley::remote. Must be created and used on the loop thread: with
// IORING_SETUP_SINGLE_ISSUER the kernel binds the ring to its creating task.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace volley::remote::detail {

class uring {
 public:
  /// Throws std::system_error with a message naming io_uring when the kernel
  /// refuses a ring (old kernel, seccomp, sysctl kernel.io_uring_disabled).
  explicit uring(unsigned entries);
  ~uring();
  uring(const uring&) = delete;
  uring& operator=(const uring&) = delete;

  io_uring* get() noexcept { return &ring_; }
  /// A free SQE; submits what is queued when the SQ is full to make room.
  io_uring_sqe* sqe();
  /// Whether SINGLE_ISSUER|DEFER_TASKRUN was accepted (informational).
  bool defer_taskrun() const noexcept { return defer_taskrun_; }

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
  io_uring_buf_ring* buf_ring_ = nullptr;
  std::size_t buf_ring_bytes_ = 0;
  std::unique_ptr<std::byte[]> buffers_;
  unsigned buffer_count_ = 0;
  unsigned buffer_size_ = 0;
  std::uint16_t group_ = 0;
  int recycled_ = 0;
};

}  // namespace volley::remote::detail

// send_queue and outbound_item; see connection.hpp for the send path.
#include "connection.hpp"

#include <cstring>
#include <new>

namespace volley::remote::detail {

outbound_item* outbound_item::make(type what, connection_id id, std::uint32_t size) {
  void* mem = ::operator new(sizeof(outbound_item) + size);
  auto* item = ::new (mem) outbound_item;
  item->what = what;
  item->id = id;
  item->size = size;
  return item;
}

void outbound_item::destroy(outbound_item* item) noexcept {
  item->~outbound_item();
  ::operator delete(item);
}

send_queue::~send_queue() {
  for (auto& s : queue_) release(s);
  for (auto& s : in_flight_) release(s);
}

send_queue::segment send_queue::fresh_segment() {
  segment s;
  if (!spare_.empty()) {
    s.bytes = std::move(spare_.back());
    spare_.pop_back();
  } else {
    s.bytes.reserve(segment_capacity);
  }
  return s;
}

void send_queue::release(segment& s) noexcept {
  if (s.item) {
    outbound_item::destroy(s.item);
    s.item = nullptr;
  } else if (spare_.size() < 8 && s.bytes.capacity() >= segment_capacity) {
    // Keep a few buffers: a busy connection then allocates nothing per batch.
    s.bytes.clear();
    spare_.push_back(std::move(s.bytes));
  }
}

void send_queue::push_control(std::span<const std::byte> bytes) {
  control_.insert(control_.end(), bytes.begin(), bytes.end());
}

void send_queue::push_control_after_user(std::span<const std::byte> bytes) {
  segment s;
  s.bytes.assign(bytes.begin(), bytes.end());
  queue_.push_back(std::move(s));
}

void send_queue::push_user(outbound_item* item) {
  if (item->size > coalesce_limit) {
    segment s;
    s.item = item;
    s.frames = 1;
    s.user_bytes = item->size;
    queue_.push_back(std::move(s));
    return;
  }
  if (queue_.empty() || queue_.back().item || queue_.back().bytes.size() + item->size > segment_capacity ||
      queue_.back().bytes.capacity() < segment_capacity)
    queue_.push_back(fresh_segment());
  segment& s = queue_.back();
  s.bytes.insert(s.bytes.end(), item->data(), item->data() + item->size);
  s.frames += 1;
  s.user_bytes += item->size;
  outbound_item::destroy(item);
}

msghdr* send_queue::prepare(bool allow_user) {
  if (in_flight()) return nullptr;
  if (!control_.empty()) {
    control_in_flight_.swap(control_);
    control_.clear();
    iov_.push_back({control_in_flight_.data(), control_in_flight_.size()});
  }
  while (allow_user && !queue_.empty() && iov_.size() < max_iovecs) {
    in_flight_.push_back(std::move(queue_.front()));
    queue_.pop_front();
    auto v = in_flight_.back().view();
    iov_.push_back({const_cast<std::byte*>(v.data()), v.size()});  // sendmsg only reads
  }
  if (iov_.empty()) return nullptr;
  iov_at_ = 0;
  msg_ = {};
  msg_.msg_iov = iov_.data();
  msg_.msg_iovlen = iov_.size();
  return &msg_;
}

bool send_queue::complete(std::size_t n) {
  // Skip the iovecs the kernel took whole; trim the one it took in part.
  while (n > 0 && iov_at_ < iov_.size()) {
    iovec& v = iov_[iov_at_];
    if (n >= v.iov_len) {
      n -= v.iov_len;
      ++iov_at_;
    } else {
      v.iov_base = static_cast<char*>(v.iov_base) + n;
      v.iov_len -= n;
      n = 0;
    }
  }
  if (iov_at_ < iov_.size()) {
    msg_.msg_iov = iov_.data() + iov_at_;
    msg_.msg_iovlen = iov_.size() - iov_at_;
    return false;
  }
  done_frames_ = 0;
  done_bytes_ = 0;
  for (auto& s : in_flight_) {
    done_frames_ += s.frames;
    done_bytes_ += s.user_bytes;
    release(s);
  }
  in_flight_.clear();
  control_in_flight_.clear();
  iov_.clear();
  iov_at_ = 0;
  return true;
}

void send_queue::drop_queued(const std::function<void(const frame&)>& each, std::size_t& frames,
                             std::size_t& bytes) {
  for (auto& s : queue_) {
    frames += s.frames;
    bytes += s.user_bytes;
    if (s.frames && each) {
      // Our own encoding: parses cleanly. Large limits: the sender already
      // validated against the configured ones.
      std::span<const std::byte> rest = s.view();
      frame_limits any{~std::size_t{0} >> 1, ~std::size_t{0} >> 1};
      while (!rest.empty()) {
        parse_result r = parse_frame(rest, any);
        if (r.consumed == 0) break;
        if (r.value.kind != frame_kind::close) each(r.value);
        rest = rest.subspan(r.consumed);
      }
    }
    release(s);
  }
  queue_.clear();
}

void send_queue::abandon_in_flight(std::size_t& frames, std::size_t& bytes) {
  for (auto& s : in_flight_) {
    frames += s.frames;
    bytes += s.user_bytes;
    release(s);
  }
  in_flight_.clear();
  control_in_flight_.clear();
  iov_.clear();
  iov_at_ = 0;
}

}  // namespace volley::remote::detail

// volley/remote/message_types.hpp — the message types a node may send and
// receive, registered once per process before the node starts.
//
//     volley::remote::message_types types;
//     types.add<ping>(1, "ping");                       // trivially copyable: bytes as they are
//     types.add<pong>(2, "pong");
//     types.add<text>(3, "text", &write_text, &read_text);  // anything else: your (de)serializer
//     types.add_ask<ping, pong>();                      // ask<pong>(ping{}) may cross the wire
//     volley::remote::node node(sys, cfg, types);
//
// Every node of a cluster registers the same types under the same markers
// (a u64 chosen by you, stable across builds; markers from 2^64 - 256 up are
// volley's own). A type that is not registered cannot be sent to a remote
// actor: the send becomes a dead letter (reason: remote_failure), an ask
// fails with errc::unhandled.
//
// Asks: the receiving node must know the reply type to ask its local actor,
// and the frame carries only the request's marker, so each (request, reply)
// pair is declared with add_ask. When one request type is answered with
// several reply types by different actors, the reply type is the one the
// target actor's handler returns. Handlers that return void reply
// volley::unit, which is registered already.
//
// This is the actor layer over type_registry (which knows only bytes): each
// entry also knows how to turn a payload into a local tell or ask, because
// only code instantiated for the message type M can construct an M.
// Not thread-safe while registering; read-only (and thread-safe) after.
#pragma once

#include <volley/engine/actor_ref.hpp>
#include <volley/engine/context.hpp>
#include <volley/engine/result.hpp>
#include <volley/engine/type_info.hpp>
#include <volley/remote/type_registry.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace volley::remote {

/// Markers from here up are volley's own (volley::unit, future built-ins).
inline constexpr std::uint64_t first_reserved_marker = ~std::uint64_t{0} - 255;
/// volley::unit, the reply of a handler that returns void.
inline constexpr std::uint64_t unit_marker = ~std::uint64_t{0};

/// Where the reply of an ask that came from another node goes: called once,
/// on whatever thread completes the local ask, with an R (the reply type of
/// the pair) or an error.
class reply_channel {
 public:
  virtual ~reply_channel() = default;
  virtual void complete(const void* value, const volley::error* err) noexcept = 0;
};

/// One registered message type, as the node uses it.
struct message_entry {
  type_id_t id = nullptr;  ///< volley::type_id<M>()
  type_entry wire;         ///< marker, name, (de)serializer
  /// Deserialises an M from `payload` and tells it to `target` (with `from`
  /// as the sender when given). False when the payload is not a valid M.
  bool (*tell_local)(const type_entry& wire, const any_ref& target,
                     std::span<const std::byte> payload, const context* from) = nullptr;

  /// The handler `target` has of its own for M, or nullptr (then tell_local
  /// takes the message, with the fallbacks a tell has; also for a stop). A
  /// cell's handlers never change, so a stream to one actor asks once.
  volley::detail::invoke_fn (*handler_of)(const volley::detail::cell_base* target) = nullptr;
  /// As tell_local, but builds the envelope for `fn` (handler_of's answer,
  /// not null), with `sender` (counted) when not null, without sending it,
  /// so that the node can hand a receive buffer's messages to an actor as
  /// one chain (cell_base::deliver_chain). nullptr when the payload is not a
  /// valid M.
  volley::detail::envelope* (*envelope_local)(const type_entry& wire, volley::detail::invoke_fn fn,
                                              std::span<const std::byte> payload,
                                              volley::detail::cell_base* sender) = nullptr;

  /// An ask of M answered with the registered reply type `reply_id`.
  struct ask_pair {
    type_id_t reply_id = nullptr;
    std::uint64_t reply_marker = 0;
    /// Deserialises an M, asks `target` for an R, and hands the result to
    /// `reply`. False (and `reply` untouched) when the payload is not an M.
    bool (*ask_local)(const type_entry& wire, const any_ref& target,
                      std::span<const std::byte> payload,
                      std::shared_ptr<reply_channel> reply) = nullptr;
  };
  std::vector<ask_pair> asks;

  /// The pair for reply type `reply`, or nullptr.
  const ask_pair* ask_for(type_id_t reply) const noexcept {
    for (const auto& p : asks) {
      if (p.reply_id == reply) return &p;
    }
    return nullptr;
  }
};

class message_types {
 public:
  message_types() {
    wire_.add<unit>(unit_marker, "volley::unit");
    add_entry<unit>(unit_marker);
  }

  /// Registers a trivially copyable M: its object representation is the
  /// payload (peers must share the ABI: 64-bit little-endian, same compiler
  /// layout). Throws std::logic_error on a taken marker or type, or a
  /// reserved marker.
  template <class M>
  message_types& add(std::uint64_t marker, std::string name) {
    check_marker(marker);
    wire_.add<M>(marker, std::move(name));
    return add_entry<M>(marker);
  }

  /// Registers M with a serializer that appends M's bytes to a vector and a
  /// deserializer that rebuilds an M from them (it may throw on bad input:
  /// the message becomes a dead letter, the connection stays).
  template <class M>
  message_types& add(std::uint64_t marker, std::string name,
                     type_registry::serialize_fn<M> serialize,
                     type_registry::deserialize_fn<M> deserialize) {
    check_marker(marker);
    wire_.add<M>(marker, std::move(name), serialize, deserialize);
    return add_entry<M>(marker);
  }

  /// Declares that ask<R>(M) may cross the wire; M and R must be registered.
  template <class M, class R>
  message_types& add_ask() {
    auto m = by_id_.find(type_id<M>());
    if (m == by_id_.end() || !by_id_.count(type_id<R>())) {
      throw std::logic_error(
          "message_types::add_ask: register both the request and the reply "
          "type with add() first");
    }
    if (m->second.ask_for(type_id<R>())) return *this;
    m->second.asks.push_back({type_id<R>(), by_id_.at(type_id<R>()).wire.marker, &ask_local<M, R>});
    return *this;
  }

  /// The entry of a type, by volley::type_id or by marker; nullptr if unknown.
  const message_entry* find(type_id_t id) const noexcept {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &it->second;
  }
  const message_entry* find_marker(std::uint64_t marker) const noexcept {
    auto it = by_marker_.find(marker);
    return it == by_marker_.end() ? nullptr : find(it->second);
  }

  std::size_t size() const noexcept { return by_id_.size(); }

 private:
  static void check_marker(std::uint64_t marker) {
    if (marker >= first_reserved_marker) {
      throw std::logic_error("message_types: markers from 2^64 - 256 up are reserved for volley");
    }
  }

  template <class M>
  message_types& add_entry(std::uint64_t marker) {
    message_entry e;
    e.id = type_id<M>();
    e.wire = *wire_.find(marker);
    e.tell_local = &tell_local<M>;
    e.handler_of = &handler_of<M>;
    e.envelope_local = &envelope_local<M>;
    by_marker_.emplace(marker, e.id);
    by_id_.emplace(e.id, std::move(e));
    return *this;
  }

  /// An M rebuilt from a payload, destroyed when the holder goes. Large
  /// messages live on the heap: a worker's or the loop's stack is no place
  /// for a 100 KiB array.
  template <class M>
  class decoded {
    /// 4 KiB: every ordinary message fits; above it the stack copy is not
    /// worth the risk on a thread whose stack we do not own.
    static constexpr bool on_heap = sizeof(M) > 4096;
    struct storage_t {
      alignas(M) std::byte bytes[sizeof(M)];
    };

   public:
    decoded(const type_entry& wire, std::span<const std::byte> payload) {
      if constexpr (on_heap) store_ = std::make_unique<storage_t>();
      ok_ = wire.deserialize_into(wire, payload, where());
    }
    ~decoded() {
      if (ok_) get().~M();
    }
    decoded(const decoded&) = delete;
    decoded& operator=(const decoded&) = delete;
    bool ok() const noexcept { return ok_; }
    M& get() noexcept { return *std::launder(reinterpret_cast<M*>(where())); }

   private:
    void* where() noexcept {
      if constexpr (on_heap) {
        return store_->bytes;
      } else {
        return store_.bytes;
      }
    }
    std::conditional_t<on_heap, std::unique_ptr<storage_t>, storage_t> store_;
    bool ok_ = false;
  };

  template <class M>
  static bool tell_local(const type_entry& wire, const any_ref& target,
                         std::span<const std::byte> payload, const context* from) {
    decoded<M> m(wire, payload);
    if (!m.ok()) return false;
    if (from) {
      target.tell(std::move(m.get()), *from);
    } else {
      target.tell(std::move(m.get()));
    }
    return true;
  }

  template <class M>
  static volley::detail::invoke_fn handler_of(const volley::detail::cell_base* target) {
    if constexpr (std::is_same_v<M, poison_pill>) {
      return nullptr;  // a stop: tell_local's own path
    } else {
      const volley::detail::cell_ops* ops = target->ops();
      volley::detail::invoke_fn fn = nullptr;
      for (std::size_t i = 0; i < ops->handler_count; ++i) {
        if (ops->handlers[i].id == type_id<M>()) fn = ops->handlers[i].invoke;
      }
      return fn;
    }
  }

  template <class M>
  static volley::detail::envelope* envelope_local(const type_entry& wire,
                                                  volley::detail::invoke_fn fn,
                                                  std::span<const std::byte> payload,
                                                  volley::detail::cell_base* sender) {
    auto sent_by = [sender](volley::detail::envelope* e) {
      if (sender != nullptr) {
        e->sender = sender;
        sender->add_ref();
      }
      return e;
    };
    if constexpr (std::is_trivially_copyable_v<M> && std::is_default_constructible_v<M>) {
      if (wire.trivially_copyable) {
        // Registered without a serializer: the payload is the object's bytes
        // (type_registry::add<T>), copied straight into the envelope, with
        // no call through deserialize_into and no copy out of a stack buffer.
        if (payload.size() != sizeof(M)) return nullptr;
        // As deserialize_into does: start an M's lifetime, then copy its bytes in.
        alignas(M) std::byte raw[sizeof(M)];
        M* m = ::new (static_cast<void*>(raw)) M;
        std::memcpy(static_cast<void*>(m), payload.data(), sizeof(M));
        return sent_by(
            volley::detail::make_envelope<M>(fn, &volley::detail::message_info_of<M>, *m));
      }
    }
    decoded<M> m(wire, payload);
    if (!m.ok()) return nullptr;
    return sent_by(volley::detail::make_envelope<M>(fn, &volley::detail::message_info_of<M>,
                                                    std::move(m.get())));
  }

  template <class M, class R>
  static bool ask_local(const type_entry& wire, const any_ref& target,
                        std::span<const std::byte> payload, std::shared_ptr<reply_channel> reply) {
    decoded<M> m(wire, payload);
    if (!m.ok()) return false;
    target.template ask<R>(std::move(m.get())).then([reply = std::move(reply)](result<R> r) {
      if (r) {
        reply->complete(&r.value(), nullptr);
      } else {
        reply->complete(nullptr, &r.err());
      }
    });
    return true;
  }

  type_registry wire_;
  std::unordered_map<type_id_t, message_entry> by_id_;
  std::unordered_map<std::uint64_t, type_id_t> by_marker_;
};

}  // namespace volley::remote

// volley/remote/type_registry.hpp — which C++ type a wire type marker means,
// and how to turn it into payload bytes and back.
//
// Every message type that crosses the wire is registered once, on every node,
// under the same u64 marker. Trivially copyable types need nothing more: their
// bytes are the payload (host layout, so peers must share the ABI — volley
// nodes are x86-64/aarch64 little-endian). Other types bring a serializer
// `void(const T&, std::vector<std::byte>&)` and a deserializer
// `T(std::span<const std::byte>)`.
//
// The registry is type-erased by design (the engine looks a marker up at run
// time and constructs the message into an envelope it allocated), and
// independent of actors. Lookups by type use a per-type tag address, not RTTI.
// Registration is not thread-safe; register everything before the node starts,
// after which concurrent lookups are safe (read-only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace volley::remote {

/// One registered type, type-erased.
struct type_entry {
  std::uint64_t marker = 0;
  std::string name;
  std::size_t size = 0;   ///< sizeof(T), for placing a T in caller storage
  std::size_t align = 0;  ///< alignof(T)
  /// Registered by add<T>(marker, name): `serialize` appends exactly the
  /// `size` bytes of the object, so a sender may take them in place
  /// (remote/src/proxy.cpp) instead of calling it.
  bool trivially_copyable = false;
  /// Appends the payload of `*object` (a T) to `out`. Call as
  /// `e.serialize(e, &value, out)`.
  void (*serialize)(const type_entry& self, const void* object,
                    std::vector<std::byte>& out) = nullptr;
  /// Constructs a T in `storage` (size/align as above) from `payload`. Returns
  /// false, with nothing constructed, when the payload is not a valid T.
  bool (*deserialize_into)(const type_entry& self, std::span<const std::byte> payload,
                           void* storage) = nullptr;
  /// Destroys the T in `storage`.
  void (*destroy)(void* storage) noexcept = nullptr;
  /// The user's serializer/deserializer, erased (null for trivially copyable types).
  void (*user_serialize)() = nullptr;
  void (*user_deserialize)() = nullptr;
};

class type_registry {
 public:
  template <class T>
  using serialize_fn = void (*)(const T&, std::vector<std::byte>&);
  template <class T>
  using deserialize_fn = T (*)(std::span<const std::byte>);

  /// Registers a trivially copyable T under `marker`; its bytes are the payload.
  template <class T>
  void add(std::uint64_t marker, std::string name);

  /// Registers T with its own serializer and deserializer. The deserializer may
  /// throw on bad input; that is reported as a failed deserialisation.
  template <class T>
  void add(std::uint64_t marker, std::string name, serialize_fn<T> ser, deserialize_fn<T> de);

  /// Entry for a marker, or nullptr.
  const type_entry* find(std::uint64_t marker) const noexcept;
  /// Entry for T, or nullptr when T was not registered.
  template <class T>
  const type_entry* find() const noexcept;

  /// Appends T's payload; throws std::logic_error when T is unregistered.
  template <class T>
  std::uint64_t serialize(const T& value, std::vector<std::byte>& out) const;

  /// Rebuilds a T from a payload; nullopt when the marker is not T's or the
  /// payload is not a valid T.
  template <class T>
  std::optional<T> deserialize(std::uint64_t marker, std::span<const std::byte> payload) const;

  std::size_t size() const noexcept { return by_marker_.size(); }

 private:
  template <class T>
  static const void* key() noexcept {
    static const char tag = 0;  // one address per T: a type id without RTTI
    return &tag;
  }
  void insert(const void* key, type_entry entry);

  std::unordered_map<std::uint64_t, type_entry> by_marker_;
  std::unordered_map<const void*, std::uint64_t> by_type_;
};

// -- implementation -------------------------------------------------------------

template <class T>
void type_registry::add(std::uint64_t marker, std::string name) {
  static_assert(std::is_trivially_copyable_v<T>,
                "type_registry::add<T>(marker, name) needs a trivially copyable T; "
                "give a serializer and a deserializer for other types");
  type_entry e;
  e.marker = marker;
  e.name = std::move(name);
  e.size = sizeof(T);
  e.align = alignof(T);
  e.trivially_copyable = true;
  e.serialize = [](const type_entry&, const void* obj, std::vector<std::byte>& out) {
    std::size_t at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, obj, sizeof(T));
  };
  e.deserialize_into = [](const type_entry&, std::span<const std::byte> payload, void* storage) {
    if (payload.size() != sizeof(T)) return false;
    // Start a T's lifetime in storage, then copy its bytes in.
    T* obj = ::new (storage) T;
    std::memcpy(static_cast<void*>(obj), payload.data(), sizeof(T));
    return true;
  };
  e.destroy = [](void* storage) noexcept { static_cast<T*>(storage)->~T(); };
  insert(key<T>(), std::move(e));
}

template <class T>
void type_registry::add(std::uint64_t marker, std::string name, serialize_fn<T> ser,
                        deserialize_fn<T> de) {
  static_assert(std::is_move_constructible_v<T>,
                "a registered message type must be move constructible");
  if (!ser || !de)
    throw std::invalid_argument("type_registry: serializer and deserializer are required");
  type_entry e;
  e.marker = marker;
  e.name = std::move(name);
  e.size = sizeof(T);
  e.align = alignof(T);
  // The user's functions ride in the entry as erased function pointers
  // (converting between function pointer types and back is well defined).
  e.user_serialize = reinterpret_cast<void (*)()>(ser);
  e.user_deserialize = reinterpret_cast<void (*)()>(de);
  e.serialize = [](const type_entry& self, const void* obj, std::vector<std::byte>& out) {
    reinterpret_cast<serialize_fn<T>>(self.user_serialize)(*static_cast<const T*>(obj), out);
  };
  e.deserialize_into = [](const type_entry& self, std::span<const std::byte> payload,
                          void* storage) {
    try {
      ::new (storage) T(reinterpret_cast<deserialize_fn<T>>(self.user_deserialize)(payload));
      return true;
    } catch (...) {  // bad bytes from the network are the deserializer's to refuse
      return false;
    }
  };
  e.destroy = [](void* storage) noexcept { static_cast<T*>(storage)->~T(); };
  insert(key<T>(), std::move(e));
}

template <class T>
const type_entry* type_registry::find() const noexcept {
  auto it = by_type_.find(key<T>());
  return it == by_type_.end() ? nullptr : find(it->second);
}

template <class T>
std::uint64_t type_registry::serialize(const T& value, std::vector<std::byte>& out) const {
  const type_entry* e = find<T>();
  if (!e) throw std::logic_error("type_registry: type is not registered");
  e->serialize(*e, &value, out);
  return e->marker;
}

template <class T>
std::optional<T> type_registry::deserialize(std::uint64_t marker,
                                            std::span<const std::byte> payload) const {
  const type_entry* e = find(marker);
  if (!e || e != find<T>()) return std::nullopt;
  alignas(T) std::byte storage[sizeof(T)];
  if (!e->deserialize_into(*e, payload, storage)) return std::nullopt;
  T* obj = std::launder(reinterpret_cast<T*>(storage));
  std::optional<T> result(std::move(*obj));
  obj->~T();
  return result;
}

}  // namespace volley::remote

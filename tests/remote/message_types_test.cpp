// remote/include/volley/remote/message_types.hpp: how a node rebuilds a
// received tell for its local actor (message_entry::handler_of and
// envelope_local, which B's loop calls per frame of a stream).
//
// envelope_local copies a trivially copyable message registered without a
// serializer straight from the payload into the envelope; a type that is
// trivially copyable but registered with its own serializer must still go
// through its deserializer, and a payload of the wrong size is refused.
#include <volley/remote/message_types.hpp>
#include <volley/volley.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <span>
#include <thread>
#include <vector>

using namespace volley::remote;

namespace {

/// Sent as its bytes (add<T>(marker, name)).
struct plain_pair {
  std::uint32_t a;
  std::uint64_t b;
};
/// Trivially copyable too, but with a serializer of its own that writes b
/// before a: its payload is not its object representation.
struct swapped_pair {
  std::uint32_t a;
  std::uint32_t b;
};
static_assert(std::is_trivially_copyable_v<swapped_pair>);

void write_swapped(const swapped_pair& p, std::vector<std::byte>& out) {
  std::size_t at = out.size();
  out.resize(at + 8);
  std::memcpy(out.data() + at, &p.b, 4);
  std::memcpy(out.data() + at + 4, &p.a, 4);
}
swapped_pair read_swapped(std::span<const std::byte> in) {
  if (in.size() != 8) throw std::invalid_argument("a swapped_pair is 8 bytes");
  swapped_pair p{};
  std::memcpy(&p.b, in.data(), 4);
  std::memcpy(&p.a, in.data() + 4, 4);
  return p;
}
struct unhandled_here {
  int x;
};

struct received {
  std::atomic<int> count{0};
  std::uint64_t a = 0, b = 0;  ///< of the last message, written before count
};

struct pair_actor {
  using accepts = volley::accepts<plain_pair, swapped_pair>;
  explicit pair_actor(received* r) : r_(r) {}
  void on(plain_pair p) { note(p.a, p.b); }
  void on(swapped_pair p) { note(p.a, p.b); }
  void note(std::uint64_t a, std::uint64_t b) {
    r_->a = a;
    r_->b = b;
    r_->count.fetch_add(1, std::memory_order_release);
  }
  received* r_;
};

message_types pair_types() {
  message_types types;
  types.add<plain_pair>(1, "plain_pair")
      .add<swapped_pair>(2, "swapped_pair", &write_swapped, &read_swapped)
      .add<unhandled_here>(3, "unhandled_here");
  return types;
}

template <class M>
std::vector<std::byte> serialized(const message_types& types, const M& m) {
  const message_entry* e = types.find(volley::type_id<M>());
  std::vector<std::byte> out;
  e->wire.serialize(e->wire, &m, out);
  return out;
}

/// Builds M's envelope from `payload` as B's loop does and delivers it;
/// false when envelope_local refuses the payload.
template <class M>
bool deliver_from(const message_types& types, const volley::any_ref& target,
                  std::span<const std::byte> payload) {
  const message_entry* e = types.find(volley::type_id<M>());
  volley::detail::invoke_fn fn = e->handler_of(target.cell());
  REQUIRE(fn != nullptr);
  volley::detail::envelope* env = e->envelope_local(e->wire, fn, payload, nullptr);
  if (env == nullptr) return false;
  target.cell()->deliver(env);
  return true;
}

/// A system with one pair_actor, and the types it is sent.
struct pair_fixture {
  volley::system sys;
  message_types types = pair_types();
  received r;
  volley::any_ref target = sys.spawn<pair_actor>(&r);
};

bool wait_for(received& r, int n) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (r.count.load(std::memory_order_acquire) < n) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// Serialises `sent` as the sending node would, delivers it as B's loop
/// does, checks that the actor saw (a, b), and returns the payload.
template <class M>
std::vector<std::byte> deliver_serialized(pair_fixture& fx, const M& sent, std::uint64_t a,
                                          std::uint64_t b) {
  std::vector<std::byte> bytes = serialized(fx.types, sent);
  REQUIRE(bytes.size() == sizeof(M));  // for swapped_pair: only the order tells
  REQUIRE(deliver_from<M>(fx.types, fx.target, bytes));
  REQUIRE(wait_for(fx.r, 1));
  CHECK(fx.r.a == a);
  CHECK(fx.r.b == b);
  return bytes;
}

}  // namespace

TEST_CASE("a message sent as its bytes arrives from them as it was sent",
          "[remote][message_types]") {
  pair_fixture fx;
  plain_pair sent{0x01020304u, 0x1122334455667788ull};
  std::vector<std::byte> bytes = deliver_serialized(fx, sent, sent.a, sent.b);

  // One byte short or long: not a plain_pair, refused, nothing delivered.
  auto short_one = std::span(bytes).first(bytes.size() - 1);
  CHECK_FALSE(deliver_from<plain_pair>(fx.types, fx.target, short_one));
  bytes.push_back(std::byte{0});
  CHECK_FALSE(deliver_from<plain_pair>(fx.types, fx.target, bytes));
  CHECK(fx.r.count.load() == 1);
}

TEST_CASE("a trivially copyable message with its own serializer is read by its deserializer",
          "[remote][message_types]") {
  pair_fixture fx;
  std::vector<std::byte> bytes = deliver_serialized(fx, swapped_pair{7, 9}, 7, 9);

  // Its deserializer refuses a payload of another size.
  bytes.resize(4);
  CHECK_FALSE(deliver_from<swapped_pair>(fx.types, fx.target, bytes));
}

TEST_CASE("handler_of names the actor's own handler, and none for a type it does not accept",
          "[remote][message_types]") {
  pair_fixture fx;
  const message_types& types = fx.types;
  volley::detail::cell_base* cell = fx.target.cell();
  CHECK(types.find(volley::type_id<plain_pair>())->handler_of(cell) != nullptr);
  CHECK(types.find(volley::type_id<swapped_pair>())->handler_of(cell) !=
        types.find(volley::type_id<plain_pair>())->handler_of(cell));
  CHECK(types.find(volley::type_id<unhandled_here>())->handler_of(cell) == nullptr);
}

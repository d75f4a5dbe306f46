#include <volley/remote/type_registry.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <stdexcept>
#include <string>

using namespace volley::remote;

namespace {

struct point {
  int x;
  double y;
};

struct greeting {
  std::string text;
  int times = 0;
};

void write_greeting(const greeting& g, std::vector<std::byte>& out) {
  std::size_t at = out.size();
  out.resize(at + 4 + g.text.size());
  std::memcpy(out.data() + at, &g.times, 4);
  std::memcpy(out.data() + at + 4, g.text.data(), g.text.size());
}

greeting read_greeting(std::span<const std::byte> in) {
  if (in.size() < 4) throw std::invalid_argument("short greeting");
  greeting g;
  std::memcpy(&g.times, in.data(), 4);
  g.text.assign(reinterpret_cast<const char*>(in.data()) + 4, in.size() - 4);
  return g;
}

}  // namespace

TEST_CASE("a trivially copyable type round-trips through its bytes", "[remote][registry]") {
  type_registry r;
  r.add<point>(1, "point");
  std::vector<std::byte> payload;
  CHECK(r.serialize(point{3, 4.5}, payload) == 1);
  CHECK(payload.size() == sizeof(point));
  auto back = r.deserialize<point>(1, payload);
  REQUIRE(back);
  CHECK(back->x == 3);
  CHECK(back->y == 4.5);
}

TEST_CASE("a type with its own serializer round-trips", "[remote][registry]") {
  type_registry r;
  r.add<greeting>(2, "greeting", write_greeting, read_greeting);
  std::vector<std::byte> payload;
  r.serialize(greeting{"hello", 3}, payload);
  auto back = r.deserialize<greeting>(2, payload);
  REQUIRE(back);
  CHECK(back->text == "hello");
  CHECK(back->times == 3);
}

TEST_CASE("the type-erased entry constructs into caller storage", "[remote][registry]") {
  type_registry r;
  r.add<greeting>(2, "greeting", write_greeting, read_greeting);
  const type_entry* e = r.find(2);
  REQUIRE(e);
  CHECK(e->name == "greeting");
  CHECK(e->size == sizeof(greeting));
  CHECK_FALSE(e->trivially_copyable);
  std::vector<std::byte> payload;
  greeting g{"x", 1};
  e->serialize(*e, &g, payload);
  alignas(greeting) std::byte storage[sizeof(greeting)];
  REQUIRE(e->deserialize_into(*e, payload, storage));
  auto* obj = std::launder(reinterpret_cast<greeting*>(storage));
  CHECK(obj->text == "x");
  e->destroy(storage);
}

TEST_CASE("bad payloads are refused, not crashed on", "[remote][registry]") {
  type_registry r;
  r.add<point>(1, "point");
  r.add<greeting>(2, "greeting", write_greeting, read_greeting);
  std::vector<std::byte> short_payload(3);
  CHECK_FALSE(r.deserialize<point>(1, short_payload));     // wrong size
  CHECK_FALSE(r.deserialize<greeting>(2, short_payload));  // deserializer throws
  CHECK_FALSE(r.deserialize<point>(2, short_payload));     // marker of another type
  CHECK_FALSE(r.deserialize<point>(99, short_payload));    // unknown marker
  CHECK(r.find(99) == nullptr);
}

TEST_CASE("markers and types are registered once", "[remote][registry]") {
  type_registry r;
  r.add<point>(1, "point");
  CHECK_THROWS_AS(r.add<int>(1, "int"), std::logic_error);
  CHECK_THROWS_AS(r.add<point>(5, "point again"), std::logic_error);
  CHECK(r.size() == 1);
  CHECK(r.find<point>()->marker == 1);
  CHECK(r.find<int>() == nullptr);
  std::vector<std::byte> out;
  CHECK_THROWS_AS(r.serialize(7, out), std::logic_error);
}

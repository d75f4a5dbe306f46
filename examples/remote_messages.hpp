// The messages remote_ping and remote_pong exchange, and their registration.
//
// Both programs include this one file, so they register every type under the
// same marker: that is what lets a node read what the other one wrote.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include <volley/remote/message_types.hpp>

struct ping {
  int n;
};
struct pong {
  int n;
};
struct bye {};

// Not trivially copyable (it owns a heap buffer), so it brings its own
// serializer: the bytes of the string, nothing else.
struct greeting {
  std::string text;
};

inline void write_greeting(const greeting& g, std::vector<std::byte>& out) {
  auto bytes = std::as_bytes(std::span(g.text.data(), g.text.size()));
  out.insert(out.end(), bytes.begin(), bytes.end());
}
inline greeting read_greeting(std::span<const std::byte> in) {
  return greeting{std::string(reinterpret_cast<const char*>(in.data()), in.size())};
}

inline volley::remote::message_types pingpong_types() {
  volley::remote::message_types types;
  types.add<ping>(1, "ping")
      .add<pong>(2, "pong")
      .add<bye>(3, "bye")
      .add<greeting>(4, "greeting", &write_greeting, &read_greeting)
      .add_ask<greeting, greeting>()  // ask<greeting>(greeting{...})
      .add_ask<bye, volley::unit>();  // ask<volley::unit>(bye{}): a void handler's reply
  return types;
}

/// Both nodes must share it; a real deployment reads it from its secrets store.
inline constexpr const char* pingpong_secret = "pingpong-example-secret";

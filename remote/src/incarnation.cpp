#include "incarnation.hpp"

#include <limits>

namespace volley::remote::detail {

std::optional<incarnation_path> split_incarnation(std::string_view p) noexcept {
  std::size_t hash = p.find('#');
  if (hash == std::string_view::npos) return incarnation_path{p, 0};
  std::string_view digits = p.substr(hash + 1);
  // 20 digits hold every uint64_t; a leading zero would give one serial two names.
  if (digits.empty() || digits.size() > 20 || digits.front() == '0') return std::nullopt;
  std::uint64_t serial = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (serial > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
    serial = serial * 10 + d;
  }
  return incarnation_path{p.substr(0, hash), serial};
}

std::string_view without_incarnation(std::string_view p) noexcept {
  return p.substr(0, p.find('#'));
}

any_ref select_incarnation(const volley::system& sys, std::string_view p) {
  std::optional<incarnation_path> split = split_incarnation(p);
  if (!split) return {};
  any_ref ref = sys.select(split->path);
  if (!ref || split->serial == 0) return ref;
  const volley::detail::cell_path* made = ref.cell()->stable_path_if_made();
  if (made == nullptr || made->serial != split->serial) return {};
  return ref;
}

}  // namespace volley::remote::detail

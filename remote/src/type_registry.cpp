// Marker <-> type table; see type_registry.hpp.
#include <volley/remote/type_registry.hpp>

namespace volley::remote {

void type_registry::insert(const void* key, type_entry entry) {
  if (by_marker_.count(entry.marker))
    throw std::logic_error("type_registry: marker " + std::to_string(entry.marker) +
                           " is already taken by '" + by_marker_[entry.marker].name + "'");
  if (by_type_.count(key))
    throw std::logic_error("type_registry: type '" + entry.name + "' is already registered");
  by_type_.emplace(key, entry.marker);
  by_marker_.emplace(entry.marker, std::move(entry));
}

const type_entry* type_registry::find(std::uint64_t marker) const noexcept {
  auto it = by_marker_.find(marker);
  return it == by_marker_.end() ? nullptr : &it->second;
}

}  // namespace volley::remote

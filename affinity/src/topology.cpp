// Loading and querying the hwloc topology. Every query walks hwloc's object
// tree afresh: topologies are small (thousands of objects at most) and
// queried at engine start, so caching would buy nothing measurable.
#include "volley/affinity/topology.hpp"

#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>
#include <utility>

#include "topology_impl.hpp"

namespace volley::affinity {

namespace {

unsigned count_of(hwloc_topology_t topo, hwloc_obj_type_t type) {
  const int n = hwloc_get_nbobjs_by_type(topo, type);
  return n > 0 ? static_cast<unsigned>(n) : 0u;
}

// Turns a loaded hwloc topology into a safe-to-share one: hwloc computes some
// internal structures lazily on first access, which is not thread-safe;
// refreshing once after loading does it up front (see hwloc_topology_refresh).
void finish_loading(hwloc_topology_t topo) {
  hwloc_topology_refresh(topo);
}

}  // namespace

topology::topology(std::unique_ptr<impl> state) : impl_(std::move(state)) {}
topology::topology(topology&&) noexcept = default;
topology& topology::operator=(topology&&) noexcept = default;
topology::~topology() = default;

topology topology::detect() {
  auto state = std::make_unique<impl>();
  if (hwloc_topology_init(&state->topo) != 0) {
    throw std::runtime_error(std::string("hwloc_topology_init failed: ") + std::strerror(errno));
  }
  // PCI and other I/O devices are irrelevant to scheduling, and skipping them
  // makes detection several times faster.
  hwloc_topology_set_io_types_filter(state->topo, HWLOC_TYPE_FILTER_KEEP_NONE);
  if (hwloc_topology_load(state->topo) != 0) {
    throw std::runtime_error(std::string("hwloc could not load this machine's topology: ") +
                             std::strerror(errno));
  }
  finish_loading(state->topo);
  return topology(std::move(state));
}

topology topology::synthetic(std::string_view description) {
  auto state = std::make_unique<impl>();
  if (hwloc_topology_init(&state->topo) != 0) {
    throw std::runtime_error(std::string("hwloc_topology_init failed: ") + std::strerror(errno));
  }
  const std::string text(description);
  if (text.find_first_not_of(" \t") == std::string::npos ||
      hwloc_topology_set_synthetic(state->topo, text.c_str()) != 0) {
    throw std::invalid_argument("hwloc rejects the synthetic topology \"" + text +
                                "\"; write levels such as \"pack:2 numa:2 l3:1 core:4 pu:2\"");
  }
  if (hwloc_topology_load(state->topo) != 0) {
    throw std::invalid_argument("hwloc could not build the synthetic topology \"" + text +
                                "\": " + std::strerror(errno));
  }
  finish_loading(state->topo);
  return topology(std::move(state));
}

unsigned topology::packages() const {
  const unsigned n = count_of(impl_->topo, HWLOC_OBJ_PACKAGE);
  return n > 0 ? n : 1u;
}

unsigned topology::numa_nodes() const {
  const unsigned n = count_of(impl_->topo, HWLOC_OBJ_NUMANODE);
  return n > 0 ? n : 1u;
}

unsigned topology::cores() const {
  const unsigned n = count_of(impl_->topo, HWLOC_OBJ_CORE);
  return n > 0 ? n : pus();
}

unsigned topology::pus() const {
  const unsigned n = count_of(impl_->topo, HWLOC_OBJ_PU);
  return n > 0 ? n : 1u;
}

std::vector<cache_info> topology::caches() const {
  // Keyed by (level, size) so that machines with two kinds of core (big and
  // little, different L2 sizes) report both kinds.
  std::map<std::pair<unsigned, std::uint64_t>, cache_info> by_level;
  const int depth = hwloc_topology_get_depth(impl_->topo);
  for (int d = 0; d < depth; ++d) {
    for (hwloc_obj_t o = hwloc_get_next_obj_by_depth(impl_->topo, d, nullptr); o != nullptr;
         o = hwloc_get_next_obj_by_depth(impl_->topo, d, o)) {
      if (!hwloc_obj_type_is_dcache(o->type)) continue;
      const unsigned level = o->attr->cache.depth;
      const std::uint64_t size = o->attr->cache.size;
      cache_info& info = by_level[{level, size}];
      if (info.count == 0) {
        info.level = level;
        info.size_bytes = size;
        info.pus_per_cache = static_cast<unsigned>(hwloc_bitmap_weight(o->cpuset));
      }
      ++info.count;
    }
  }
  std::vector<cache_info> out;
  out.reserve(by_level.size());
  for (auto& [key, info] : by_level) out.push_back(info);
  return out;
}

std::vector<unsigned> topology::pus_sharing_cache(unsigned level, unsigned pu_os_index) const {
  std::vector<unsigned> out;
  hwloc_obj_t pu_obj = impl_->pu(pu_os_index);
  if (pu_obj == nullptr) return out;
  hwloc_obj_t cache = impl::cache_above(pu_obj, level);
  if (cache == nullptr) return out;
  for (int i = hwloc_bitmap_first(cache->cpuset); i >= 0; i = hwloc_bitmap_next(cache->cpuset, i)) {
    out.push_back(static_cast<unsigned>(i));
  }
  return out;
}

std::string topology::cpu_model() const {
  // x86 and most ARM Linux machines put it on the package; some only on the
  // root object.
  hwloc_obj_t package = hwloc_get_next_obj_by_type(impl_->topo, HWLOC_OBJ_PACKAGE, nullptr);
  for (hwloc_obj_t o : {package, hwloc_get_root_obj(impl_->topo)}) {
    if (o == nullptr) continue;
    if (const char* model = hwloc_obj_get_info_by_name(o, "CPUModel");
        model != nullptr && *model != '\0') {
      std::string s(model);
      while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
      return s;
    }
  }
  return "unknown";
}

std::string topology::cpu_signature() const {
  hwloc_obj_t package = hwloc_get_next_obj_by_type(impl_->topo, HWLOC_OBJ_PACKAGE, nullptr);
  for (hwloc_obj_t o : {package, hwloc_get_root_obj(impl_->topo)}) {
    if (o == nullptr) continue;
    const char* family = hwloc_obj_get_info_by_name(o, "CPUFamilyNumber");
    const char* model = hwloc_obj_get_info_by_name(o, "CPUModelNumber");
    if (family == nullptr || model == nullptr || *family == '\0' || *model == '\0') continue;
    const char* stepping = hwloc_obj_get_info_by_name(o, "CPUStepping");
    return std::string(family) + "/" + model + "/" +
           (stepping != nullptr && *stepping != '\0' ? stepping : "?");
  }
  return "";
}

std::vector<unsigned> topology::pu_os_indices() const {
  std::vector<unsigned> out;
  hwloc_obj_t pu_obj = nullptr;
  while ((pu_obj = hwloc_get_next_obj_by_type(impl_->topo, HWLOC_OBJ_PU, pu_obj)) != nullptr) {
    out.push_back(pu_obj->os_index);
  }
  return out;
}

int topology::core_of(unsigned pu_os_index) const {
  hwloc_obj_t pu_obj = impl_->pu(pu_os_index);
  return pu_obj != nullptr ? impl_->core_of(pu_obj) : -1;
}

int topology::numa_node_of(unsigned pu_os_index) const {
  hwloc_obj_t pu_obj = impl_->pu(pu_os_index);
  return pu_obj != nullptr ? impl_->numa_of(pu_obj) : -1;
}

std::uint64_t topology::memory_bytes() const {
  return hwloc_get_root_obj(impl_->topo)->total_memory;
}

bool topology::is_this_system() const {
  return hwloc_topology_is_thissystem(impl_->topo) != 0;
}

}  // namespace volley::affinity

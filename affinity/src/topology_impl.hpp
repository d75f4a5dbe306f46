// The hwloc side of volley::affinity::topology, shared by the component's
// sources and kept out of the public headers so that users of volley do not
// need hwloc's headers.
#pragma once

#include <hwloc.h>

#include "volley/affinity/topology.hpp"

namespace volley::affinity {

struct topology::impl {
  hwloc_topology_t topo = nullptr;

  impl() = default;
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;
  ~impl() {
    if (topo != nullptr) hwloc_topology_destroy(topo);
  }

  /// The PU object with this OS index, or nullptr.
  hwloc_obj_t pu(unsigned os_index) const { return hwloc_get_pu_obj_by_os_index(topo, os_index); }

  /// The nearest data/unified cache of `level` above `obj`, or nullptr.
  static hwloc_obj_t cache_above(hwloc_obj_t obj, unsigned level) {
    for (hwloc_obj_t o = obj; o != nullptr; o = o->parent) {
      if (hwloc_obj_type_is_dcache(o->type) && o->attr->cache.depth == level) return o;
    }
    return nullptr;
  }

  /// The nearest ancestor of `type` (obj included), or nullptr.
  static hwloc_obj_t above(hwloc_obj_t obj, hwloc_obj_type_t type) {
    for (hwloc_obj_t o = obj; o != nullptr; o = o->parent) {
      if (o->type == type) return o;
    }
    return nullptr;
  }

  /// Logical index of the NUMA node local to `pu_obj`: the first node whose
  /// cpuset holds it. Every PU has one in hwloc 2; 0 is a safe fallback.
  int numa_of(hwloc_obj_t pu_obj) const {
    hwloc_obj_t node = nullptr;
    while ((node = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, node)) != nullptr) {
      if (hwloc_bitmap_isset(node->cpuset, pu_obj->os_index))
        return static_cast<int>(node->logical_index);
    }
    return 0;
  }

  /// Logical index of the core of `pu_obj`; on machines where hwloc reports
  /// no cores, every PU counts as its own core.
  int core_of(hwloc_obj_t pu_obj) const {
    if (hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE) <= 0)
      return static_cast<int>(pu_obj->logical_index);
    hwloc_obj_t core = above(pu_obj, HWLOC_OBJ_CORE);
    return core != nullptr ? static_cast<int>(core->logical_index)
                           : static_cast<int>(pu_obj->logical_index);
  }
};

}  // namespace volley::affinity

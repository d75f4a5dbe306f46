// Describing the machine for benchmark results.
#include "volley/affinity/machine_info.hpp"

#include <sys/sysinfo.h>
#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace volley::affinity {

namespace {

// Words that name the vendor's marketing rather than the part; dropping them
// keeps ids short and the same across kernels that print them differently.
constexpr std::array<std::string_view, 2> noise_words = {"cpu", "processor"};

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "64-core", "8-core", "dual-core" style words.
bool is_core_count_word(std::string_view word) {
  constexpr std::string_view suffix = "-core";
  return word.size() > suffix.size() && word.substr(word.size() - suffix.size()) == suffix;
}

// "f25m1" from "25/1/1"; "" unless both numbers are there.
std::string family_and_model(std::string_view signature) {
  const std::size_t first = signature.find('/');
  if (first == std::string_view::npos) return "";
  const std::size_t second = signature.find('/', first + 1);
  const std::string_view family = signature.substr(0, first);
  const std::string_view model = signature.substr(first + 1, second - (first + 1));
  auto digits = [](std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(family) || !digits(model)) return "";
  // Appended piece by piece: "f" + std::string(family) + ... draws g++ 12's
  // false -Wrestrict at -O3 (GCC bug 105329), as in make_machine_id below.
  std::string id = "f";
  id.append(family).append("m").append(model);
  return id;
}

}  // namespace

std::string make_machine_id(std::string_view cpu_model, unsigned cores,
                            std::string_view cpu_signature) {
  std::string model = lowercase(cpu_model.substr(0, cpu_model.find('@')));  // drop "@ 2.90GHz"
  for (std::string_view noise : {std::string_view("(r)"), std::string_view("(tm)")}) {
    // A blank in place of the noise, written as a store and an erase: g++ 12
    // at -O3 warns -Wrestrict inside std::string::replace (a false positive,
    // GCC bug 105329).
    for (std::size_t at; (at = model.find(noise)) != std::string::npos;) {
      model[at] = ' ';
      model.erase(at + 1, noise.size() - 1);
    }
  }
  // Split into blank-separated words, drop the noise, join the rest's
  // alphanumeric runs with single dashes.
  std::string slug;
  std::size_t i = 0;
  while (i < model.size()) {
    while (i < model.size() && model[i] == ' ') ++i;
    std::size_t j = i;
    while (j < model.size() && model[j] != ' ') ++j;
    const std::string_view word = std::string_view(model).substr(i, j - i);
    i = j;
    if (word.empty() || is_core_count_word(word)) continue;
    bool noise = false;
    for (std::string_view n : noise_words) noise = noise || word == n;
    if (noise) continue;
    bool dash = !slug.empty();
    for (char c : word) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        if (dash) slug += '-';
        dash = false;
        slug += c;
      } else {
        dash = !slug.empty();
      }
    }
  }
  if (slug.empty()) slug = "unknown";
  const bool has_part_number =
      std::any_of(slug.begin(), slug.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!has_part_number) {
    if (std::string fm = family_and_model(cpu_signature); !fm.empty()) slug += "-" + fm;
  }
  return slug + "-" + std::to_string(cores) + "c";
}

machine_info describe_machine(const topology& topo) {
  machine_info info;
  info.cpu_model = topo.cpu_model();
  info.cpu_signature = topo.cpu_signature();
  info.packages = topo.packages();
  info.numa_nodes = topo.numa_nodes();
  info.cores = topo.cores();
  info.pus = topo.pus();
  info.caches = topo.caches();
  info.memory_bytes = topo.memory_bytes();
  if (topo.is_this_system()) {
    // hwloc sums the NUMA nodes' memory. A VM that grows by memory hotplug
    // shows the growth in the kernel's total but not always on a node: the
    // Zen 3 VM of 2026-12-01 had 23.5 GiB, and hwloc said 4.6 GiB, node 0's
    // memory at the time. The larger of the two is the machine's.
    struct sysinfo kernel {};
    if (sysinfo(&kernel) == 0) {
      const std::uint64_t total = std::uint64_t{kernel.totalram} * kernel.mem_unit;
      info.memory_bytes = std::max(info.memory_bytes, total);
    }
    utsname names{};
    if (uname(&names) == 0) {
      info.kernel = std::string(names.sysname) + " " + names.release;
      info.hostname = names.nodename;
    }
  }
  info.machine_id = make_machine_id(info.cpu_model, info.cores, info.cpu_signature);
  return info;
}

}  // namespace volley::affinity

// Tests of volley/affinity/machine_info.hpp: the machine id rule and the
// description of synthetic and real machines.
#include "volley/affinity/machine_info.hpp"

#include <catch2/catch.hpp>

#include <sys/sysinfo.h>

#include <algorithm>

using namespace volley::affinity;

TEST_CASE("machine ids are slugs of the CPU model and the core count", "[affinity][machine_info]") {
  CHECK(make_machine_id("AMD EPYC 7B13 64-Core Processor", 2) == "amd-epyc-7b13-2c");
  CHECK(make_machine_id("AMD EPYC", 2) == "amd-epyc-2c");
  CHECK(make_machine_id("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", 32) ==
        "intel-xeon-platinum-8375c-32c");
  CHECK(make_machine_id("12th Gen Intel(R) Core(TM) i7-1260P", 12) ==
        "12th-gen-intel-core-i7-1260p-12c");
  CHECK(make_machine_id("  Neoverse-N1  ", 64) == "neoverse-n1-64c");
  CHECK(make_machine_id("", 4) == "unknown-4c");
  CHECK(make_machine_id("unknown", 16) == "unknown-16c");
}

TEST_CASE("a model name without a part number takes the CPUID family and model",
          "[affinity][machine_info]") {
  // KVM names both a Zen 3 and a Zen 4 "AMD EPYC": the signature parts them.
  CHECK(make_machine_id("AMD EPYC", 2, "25/1/1") == "amd-epyc-f25m1-2c");
  CHECK(make_machine_id("AMD EPYC", 2, "25/17/0") == "amd-epyc-f25m17-2c");
  CHECK(make_machine_id("Intel Xeon Processor", 16, "6/143/8") == "intel-xeon-f6m143-16c");
  // A part number already names the generation; the id stays as it was.
  CHECK(make_machine_id("AMD EPYC 7B13 64-Core Processor", 2, "25/1/1") == "amd-epyc-7b13-2c");
  // No signature, or a malformed one: the name alone.
  CHECK(make_machine_id("AMD EPYC", 2, "") == "amd-epyc-2c");
  CHECK(make_machine_id("AMD EPYC", 2, "25") == "amd-epyc-2c");
  CHECK(make_machine_id("AMD EPYC", 2, "x/1/1") == "amd-epyc-2c");
  CHECK(make_machine_id("AMD EPYC", 2, "25/1") == "amd-epyc-f25m1-2c");
}

TEST_CASE("a synthetic machine is described without host details", "[affinity][machine_info]") {
  const machine_info info =
      describe_machine(topology::synthetic("pack:2 numa:2 l3:1 core:4 l2:1 pu:2"));
  CHECK(info.cpu_model == "unknown");
  CHECK(info.packages == 2);
  CHECK(info.numa_nodes == 4);
  CHECK(info.cores == 16);
  CHECK(info.pus == 32);
  REQUIRE(info.caches.size() == 2);
  CHECK(info.caches[1].level == 3);
  CHECK(info.caches[1].count == 4);
  CHECK(info.memory_bytes > 0);
  CHECK(info.kernel.empty());
  CHECK(info.hostname.empty());
  CHECK(info.cpu_signature.empty());
  CHECK(info.machine_id == "unknown-16c");
}

TEST_CASE("this machine is described completely", "[affinity][machine_info]") {
  const topology topo = topology::detect();
  const machine_info info = describe_machine(topo);
  CHECK(info.pus == topo.pus());
  CHECK(info.cores == topo.cores());
  CHECK(info.memory_bytes > 0);
  {
    // At least the kernel's own total (hwloc alone can miss hotplugged memory).
    struct sysinfo kernel {};
    REQUIRE(sysinfo(&kernel) == 0);
    CHECK(info.memory_bytes >= std::uint64_t{kernel.totalram} * kernel.mem_unit);
  }
  CHECK_FALSE(info.kernel.empty());
  CHECK_FALSE(info.hostname.empty());
  CHECK(info.machine_id == make_machine_id(info.cpu_model, info.cores, info.cpu_signature));
#if defined(__x86_64__) || defined(__i386__)
  // hwloc reads CPUID on x86: a signature is always there to record.
  INFO("cpu_signature '" << info.cpu_signature << "'");
  CHECK(info.cpu_signature.find('/') != std::string::npos);
#endif
  CHECK(std::all_of(info.machine_id.begin(), info.machine_id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  }));
  INFO("machine_id " << info.machine_id << ", cpu " << info.cpu_model);
  CHECK(info.machine_id.size() > 3);
}

// The shared kernels sit at the same place within a 64-byte line in
// volley-savina and caf-savina, because their code is 64-byte aligned. Both binaries link the same
// object code from volley_savina_common, but where the linker puts it is each binary's own: with
// 16-byte function alignment, matrix multiplication's dot product loop crossed a 64-byte line in
// volley-savina and not in caf-savina, and the same machine code ran 1.7x slower there
// (bench/savina/README.md, "Shared kernels"). The library is built with -falign-loops=64, which
// makes the text of every kernel source 64-byte aligned. This test checks that alignment in the
// library's objects (objdump -h: without the flag it is 2**4, and the binaries agree only by
// chance: the Release build's did, the bench build's did not), then reads both binaries' symbol
// tables (nm) and compares every kernel function's address modulo 64, so a build change that lets
// the layouts drift apart again fails here rather than as a slower figure in a results file.
#include <catch2/catch.hpp>

#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

// The sources of the library whose functions are the workloads' compute.
const std::vector<std::string> kernel_objects = {"block_matrix.cpp.o", "reference_answers.cpp.o",
                                                 "sorted_list.cpp.o", "filter_bank.cpp.o",
                                                 "barber_shop.cpp.o"};

std::vector<std::string> output_lines(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  REQUIRE(pipe != nullptr);
  std::vector<std::string> lines;
  std::string line;
  for (int c; (c = std::fgetc(pipe.get())) != EOF;) {
    if (c != '\n') {
      line += static_cast<char>(c);
      continue;
    }
    lines.push_back(line);
    line.clear();
  }
  return lines;
}

// Code symbols (T, t) of `file` named once: address by mangled name. Local
// names that occur twice (one per translation unit) say nothing about one
// function, and a name with a dot is a split-off part (.cold) placed with
// other sections' code.
std::map<std::string, unsigned long long> code_symbols(const std::string& file) {
  std::map<std::string, unsigned long long> named;
  std::map<std::string, int> seen;
  for (const auto& line : output_lines("nm --defined-only '" + file + "' 2>&1")) {
    std::istringstream fields(line);
    std::string address, type, name;
    if (!(fields >> address >> type >> name) || (type != "T" && type != "t")) continue;
    if (name.find('.') != std::string::npos) continue;
    if (++seen[name] == 1) named[name] = std::stoull(address, nullptr, 16);
  }
  for (const auto& [name, count] : seen)
    if (count > 1) named.erase(name);
  return named;
}

// The code symbols the kernel objects of the library define.
std::vector<std::string> kernel_symbols(const std::string& library) {
  std::vector<std::string> names;
  for (const auto& line : output_lines("nm -A --defined-only '" + library + "' 2>&1")) {
    // "lib.a:member.o:0000000000000000 T name"
    const auto member_end = line.find(".o:");
    if (member_end == std::string::npos) continue;
    const auto member_begin = line.rfind(':', member_end);
    const auto member = line.substr(member_begin + 1, member_end + 2 - member_begin - 1);
    bool kernel = false;
    for (const auto& object : kernel_objects) kernel = kernel || member == object;
    std::istringstream fields(line.substr(member_end + 3));
    std::string address, type, name;
    if (kernel && (fields >> address >> type >> name) && (type == "T" || type == "t"))
      names.push_back(name);
  }
  return names;
}

}  // namespace

TEST_CASE("the code of every shared kernel source is 64-byte aligned in the library") {
  const auto library = std::string(SAVINA_COMMON_LIBRARY);
  std::map<std::string, std::string> text_alignment;  // by member
  std::string member;
  for (const auto& line : output_lines("objdump -h '" + library + "' 2>&1")) {
    // "block_matrix.cpp.o:     file format elf64-x86-64", then the section
    // table: "  1 .text  000003a1  0000...  0000...  00000040  2**6".
    const auto format = line.find(":     file format");
    if (format != std::string::npos) member = line.substr(0, format);
    std::istringstream fields(line);
    std::string index, section, size, vma, lma, offset, alignment;
    if ((fields >> index >> section >> size >> vma >> lma >> offset >> alignment) &&
        section == ".text")
      text_alignment[member] = alignment;
  }
  for (const auto& object : kernel_objects) {
    INFO(object << " in " << library);
    REQUIRE(text_alignment.count(object) == 1);
    CHECK(text_alignment[object] == "2**6");
  }
}

TEST_CASE("every shared kernel sits at the same offset in a 64-byte line in volley and CAF") {
  const auto library = std::string(SAVINA_COMMON_LIBRARY);
  const auto names = kernel_symbols(library);
  INFO("nm over " << library);
  REQUIRE(names.size() >= 10);  // multiply_block, quicksort_partition, ... were found
  const auto volley = code_symbols(VOLLEY_SAVINA_BINARY);
  const auto caf = code_symbols(CAF_SAVINA_BINARY);
  int compared = 0;
  for (const auto& name : names) {
    const auto v = volley.find(name), c = caf.find(name);
    if (v == volley.end() || c == caf.end()) continue;  // not linked into both
    INFO(name << " at 0x" << std::hex << v->second << " in volley-savina, 0x" << c->second
              << " in caf-savina");
    CHECK(v->second % 64 == c->second % 64);
    ++compared;
  }
  // The block product, the sorts and the integrals are in both binaries.
  CHECK(compared >= 10);
  CHECK(volley.count("_ZN6volley6savina14multiply_blockERKNS0_15square_matricesERKNS0_"
                     "12matrix_blockE") == 1);
}

#pragma once
// A fresh folder under /tmp for one test case, removed with everything in
// it when the case ends.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace volley::bench::testing {

struct temp_folder {
  std::filesystem::path path;
  temp_folder() {
    std::string name = "/tmp/volley-bench-test-XXXXXX";
    REQUIRE(mkdtemp(name.data()) != nullptr);
    path = name;
  }
  ~temp_folder() { std::filesystem::remove_all(path); }
  temp_folder(const temp_folder&) = delete;
  temp_folder& operator=(const temp_folder&) = delete;
};

}  // namespace volley::bench::testing

// Tests of what system::select does with paths a newcomer gets wrong: a
// malformed path ("//user") finds nothing instead of the guardian, and the
// empty ref of a failed select names the selected path when a send through
// it throws.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "engine_test_support.hpp"

namespace {

struct note {};
struct printer {
  void on(const note&) {}
  using accepts = volley::accepts<note>;
};

/// what() of the std::logic_error `f` throws; fails the test otherwise.
template <class F>
std::string logic_error_of(F f) {
  try {
    f();
  } catch (const std::logic_error& e) {
    return e.what();
  }
  FAIL("no std::logic_error was thrown");
  return {};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("a path with an empty segment is malformed: select finds nothing, not a guardian",
          "[system][select]") {
  volley::system sys(volley::test::two_workers());
  auto p = sys.spawn<printer>(volley::props{.name = "printer"});
  CHECK(sys.select("/user"));
  CHECK(sys.select("/user/printer") == p.untyped());
  CHECK(sys.select("/user/printer/") == p.untyped());  // a trailing slash is allowed
  CHECK_FALSE(sys.select("//user"));
  CHECK_FALSE(sys.select("/user//printer"));
  CHECK_FALSE(sys.select("//"));
  CHECK(sys.select_all("//user/*").empty());
  CHECK(sys.select_all("/user/*").size() == 1);
}

TEST_CASE("a send through the empty ref of a failed select names the selected path",
          "[system][select]") {
  volley::system sys(volley::test::two_workers());
  auto missing = sys.select("/user/nobody");
  REQUIRE_FALSE(missing);
  std::string msg = logic_error_of([&] { missing.tell(note{}); });
  CHECK(contains(msg, "empty actor ref"));
  CHECK(contains(msg, "/user/nobody"));
  CHECK(contains(msg, "nothing is there"));
  std::string asked = logic_error_of([&] { (void)missing.ask<volley::unit>(note{}); });
  CHECK(contains(asked, "/user/nobody"));
}

TEST_CASE("a send through the empty ref of a malformed select says the path was malformed",
          "[system][select]") {
  volley::system sys(volley::test::two_workers());
  auto bad = sys.select("//user");
  std::string msg = logic_error_of([&] { bad.tell(note{}); });
  CHECK(contains(msg, "//user"));
  CHECK(contains(msg, "malformed"));
}

TEST_CASE("a default-constructed empty ref still says only that it is empty", "[system][select]") {
  volley::any_ref none;
  std::string msg = logic_error_of([&] { none.tell(note{}); });
  CHECK(msg == "volley: send through an empty actor ref");
}

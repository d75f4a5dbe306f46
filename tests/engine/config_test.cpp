// Tests of config validation: system's constructor refuses a bad
// configuration with std::invalid_argument whose message names the field
// (or the environment variable) and says what to change.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;

namespace {

/// The message of the std::invalid_argument that building a system with
/// `cfg` throws; fails the test if it throws nothing or something else.
std::string rejection(const volley::config& cfg) {
  try {
    volley::system sys(cfg);
  } catch (const std::invalid_argument& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("expected std::invalid_argument, got: " << e.what());
  }
  FAIL("the configuration was accepted");
  return {};
}

/// Sets an environment variable for the scope, restoring the old value.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~scoped_env() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("throughput = 0 is refused with a message naming the field", "[config]") {
  volley::config cfg;
  cfg.throughput = 0;
  std::string msg = rejection(cfg);
  CHECK(contains(msg, "throughput"));
}

TEST_CASE("a CPU list with a PU the machine does not have is refused, naming the PU", "[config]") {
  volley::config cfg;
  cfg.cpus = "0-3,99";
  std::string msg = rejection(cfg);
  CHECK(contains(msg, "cpus"));
  CHECK(contains(msg, "99"));
  CHECK(contains(msg, "not exist"));
}

TEST_CASE("a bad VOLLEY_CPUS is refused with a message naming the variable", "[config]") {
  scoped_env env("VOLLEY_CPUS", "0,4095");
  volley::config cfg;  // cpus unset: the environment decides
  std::string msg = rejection(cfg);
  CHECK(contains(msg, "VOLLEY_CPUS"));
  CHECK(contains(msg, "4095"));
}

TEST_CASE("a malformed CPU list is refused", "[config]") {
  volley::config cfg;
  cfg.cpus = "0-";
  CHECK(contains(rejection(cfg), "cpus"));
  cfg.cpus = "banana";
  CHECK(contains(rejection(cfg), "cpus"));
}

TEST_CASE("pool names and sizes are checked", "[config]") {
  for (const char* reserved : {"default", "pinned", ""}) {
    volley::config cfg;
    cfg.pin = false;
    cfg.pools[reserved] = volley::pool_config{.workers = 1};
    INFO("pool name '" << reserved << "'");
    CHECK(contains(rejection(cfg), "reserved"));
  }
  volley::config cfg;
  cfg.pin = false;
  cfg.pools["io"] = volley::pool_config{.workers = 0};
  std::string msg = rejection(cfg);
  CHECK(contains(msg, "'io'"));
  CHECK(contains(msg, "workers"));
}

TEST_CASE("absurd worker counts and a negative spin are refused", "[config]") {
  volley::config cfg;
  cfg.workers = 100000;
  CHECK(contains(rejection(cfg), "workers"));
  cfg = volley::config{};
  cfg.spin_before_park = std::chrono::microseconds(-1);
  CHECK(contains(rejection(cfg), "spin_before_park"));
}

TEST_CASE("a valid configuration builds a system with the workers asked for", "[config]") {
  volley::config cfg;
  cfg.workers = 3;  // more workers than cores is allowed (they share PUs)
  cfg.pin = false;
  cfg.throughput = 1;
  volley::system sys(cfg);
  CHECK(sys.worker_count() == 3);
}

TEST_CASE("a negative dead_letter_summary_interval is refused with a message naming the field",
          "[config]") {
  volley::config cfg;
  cfg.dead_letter_summary_interval = -5ms;
  std::string msg = rejection(cfg);
  CHECK(contains(msg, "dead_letter_summary_interval"));
  CHECK(contains(msg, "0 or more"));
}

TEST_CASE("an extra pool asking to be pinned is refused rather than silently left unpinned",
          "[config]") {
  volley::config cfg;
  cfg.pools["io"] = volley::pool_config{1, true};
  std::string msg = rejection(cfg);
  CHECK(contains(msg, "'io'"));
  CHECK(contains(msg, "pin"));
}

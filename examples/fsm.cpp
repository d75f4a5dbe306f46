// examples/fsm.cpp — an actor written as a finite state machine (volley::fsm).
//
// A traffic light: switched off until it gets power, then red, green and
// yellow in turn, each for as long as its state timeout says, until it has
// gone round twice. It shows the parts of an fsm: states with handlers
// (when), state timeouts, goto_/stay/stop, new data (using_), the transition
// hook (on_transition) and the handler of unhandled messages (when_unhandled).
//
// Everything it prints comes from the light itself, in a fixed order:
//
//     unhandled tick while off (0 cycles)
//     off -> red (0 cycles)
//     red -> green (0 cycles)
//     green -> yellow (0 cycles)
//     yellow -> red (1 cycles)
//     red -> green (1 cycles)
//     green -> yellow (1 cycles)
//     yellow -> red (2 cycles)
//     stopped in red after 2 cycles
#include <chrono>
#include <cstdio>
#include <future>
#include <string_view>

#include <volley/engine/fsm.hpp>
#include <volley/volley.hpp>

using namespace std::chrono_literals;

enum class light { off, red, green, yellow };

const char* name_of(light l) {
  switch (l) {
    case light::off:
      return "off";
    case light::red:
      return "red";
    case light::green:
      return "green";
    case light::yellow:
      return "yellow";
  }
  return "?";
}

struct timing {
  int cycles = 0;  // times the light has gone round
};

struct power_on {};
struct tick {};

struct traffic_light : volley::fsm<traffic_light, light, timing> {
  using accepts = volley::accepts<power_on, tick>;

  explicit traffic_light(std::promise<void>& done) : fsm(light::off, timing{}), done_(done) {
    // `off` has no timeout: it waits for power as long as it takes.
    when(light::off).on([](const power_on&) { return goto_(light::red); });

    // Short timeouts, so that the example finishes at once.
    when(light::red, 30ms).on([this](const volley::state_timeout&) {
      return data().cycles == 2 ? stop() : goto_(light::green);
    });
    when(light::green, 30ms).on([](const volley::state_timeout&) { return goto_(light::yellow); });
    when(light::yellow, 10ms).on([this](const volley::state_timeout&) {
      return goto_(light::red).using_(timing{data().cycles + 1});
    });

    on_transition([this](light from, light to) {
      std::printf("%s -> %s (%d cycles)\n", name_of(from), name_of(to), data().cycles);
    });
    when_unhandled([](light state, const timing& data, std::string_view type) {
      std::printf("unhandled %.*s while %s (%d cycles)\n", static_cast<int>(type.size()),
                  type.data(), name_of(state), data.cycles);
    });
  }

  void post_stop() {
    std::printf("stopped in %s after %d cycles\n", name_of(state()), data().cycles);
    done_.set_value();
  }

  std::promise<void>& done_;
};

int main() {
  volley::system sys;
  std::promise<void> done;
  auto light = sys.spawn<traffic_light>(done);
  light.tell(tick{});      // nothing handles a tick while the light is off
  light.tell(power_on{});  // from here on, the state timeouts drive it
  done.get_future().wait();
  std::fflush(stdout);
}

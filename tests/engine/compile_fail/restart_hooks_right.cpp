// Must compile: the restart hooks in both of their forms (the control for
// restart_hook_no_parameters.cpp and post_restart_wrong_parameter.cpp).
#include <volley/volley.hpp>

struct job {};

struct plain_hooks {
  void on(const job&) {}
  void pre_restart(const std::exception_ptr&) {}
  void post_restart(const std::exception_ptr&) {}
};

struct hooks_with_context {
  void on(const job&) {}
  void pre_restart(const std::exception_ptr&, volley::context&) {}
  void post_restart(const std::exception_ptr&, volley::context&) {}
};

void start(volley::system& sys) {
  sys.spawn<plain_hooks>();
  sys.spawn<hooks_with_context>();
}

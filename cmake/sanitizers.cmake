# Sanitizer builds are selected with VOLLEY_SANITIZE (see CMakePresets.json).
# Flags go on every target, third-party headers included, so that TSan sees
# every atomic and ASan every allocation.
if(VOLLEY_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(VOLLEY_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  # g++ warns that TSan does not model atomic_thread_fence; the Chase-Lev
  # deque uses fences (Lê et al.) and is checked by its stress tests instead.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-tsan)
  endif()
  add_link_options(-fsanitize=thread)
elseif(NOT VOLLEY_SANITIZE STREQUAL "")
  message(FATAL_ERROR "VOLLEY_SANITIZE='${VOLLEY_SANITIZE}' is not one of '', 'address', 'thread'")
endif()

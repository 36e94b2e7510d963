# ATTNJIT_SANITIZE=<list>: build the project's own code with sanitizers, e.g. "address,undefined"
# or "thread" (scripts/sanitize.sh configures build-asan / build-tsan this way). Applied as
# directory-wide flags before any target is defined, so every library, executable and test of
# this project is instrumented and linked with the runtime. Third-party code (Debian's
# cpp-httplib, SQLite, GoogleTest, LLVM) and kernels JIT-compiled at run time are not.
set(ATTNJIT_SANITIZE "" CACHE STRING
    "Sanitizers for the project's code: address,undefined | thread | empty for none")
if(ATTNJIT_SANITIZE)
  string(REPLACE "," ";" _san_list "${ATTNJIT_SANITIZE}")
  foreach(s ${_san_list})
    if(NOT s MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "ATTNJIT_SANITIZE: unknown sanitizer '${s}' (address, undefined, thread, leak)")
    endif()
  endforeach()
  if("thread" IN_LIST _san_list AND ("address" IN_LIST _san_list OR "leak" IN_LIST _san_list))
    message(FATAL_ERROR "ATTNJIT_SANITIZE: 'thread' cannot be combined with 'address' or 'leak'")
  endif()
  set(_san_flags -fsanitize=${ATTNJIT_SANITIZE} -fno-omit-frame-pointer -g)
  set(_san_link -fsanitize=${ATTNJIT_SANITIZE})
  if("undefined" IN_LIST _san_list)
    # GCC leaves float-cast-overflow out of "undefined"; a double from a client or a file
    # converted to an integer out of range is exactly the UB this build is for.
    list(APPEND _san_flags -fsanitize=float-cast-overflow)
    list(APPEND _san_link -fsanitize=float-cast-overflow)
    # A UBSan finding aborts the test instead of printing and carrying on.
    list(APPEND _san_flags -fno-sanitize-recover=all)
  endif()
  add_compile_options(${_san_flags})
  add_link_options(${_san_link})
  message(STATUS "attnjit: sanitizers ${ATTNJIT_SANITIZE}")
endif()

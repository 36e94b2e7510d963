// A problem's score_mod / mask_mod snippets as host callbacks for the float64 reference (the
// tuner's correctness gate): the snippet, wrapped as in the kernels, compiled in process by the
// CPU JIT and evaluated in double (Score = double). The JIT rather than a host compiler or an
// interpreter: it is the one C++ compiler every build with a CPU backend carries, and it
// compiles exactly the text the kernels compile. Builds without LLVM throw BackendError.
#pragma once

#include <cstdint>
#include <functional>

#include "attnjit/problem_spec.h"
#include "templates/prefill/params.h"

namespace attnjit {

struct HostSnippets {
  std::function<double(double, int64_t, int64_t, int64_t, int64_t)> score_mod;  // empty = none
  std::function<bool(int64_t, int64_t, int64_t, int64_t)> mask_mod;             // empty = none
};

// `aux` (host memory) is what the snippets read as aux<T>(i); it must outlive the callbacks.
// Throws SnippetError for a snippet that does not compile.
HostSnippets host_snippets(const ProblemSpec& spec, const UserModParams* aux);

}  // namespace attnjit

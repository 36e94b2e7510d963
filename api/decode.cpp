// Runtime::decode: validate, pick the config (provider -> default), compile once, and launch one
// kernel that computes every split and merges them. The split count and the workspace layout are
// the decode module's (codegen/decode/, through the launch contract); the Runtime only provides
// the workspace (api/workspace.cpp).
#include <mutex>

#include "attnjit/attnjit.h"
#include "codegen/decode/arguments.h"
#include "codegen/kernel_template.h"
#include "runtime/backend.h"

namespace attnjit {

PreparedKernel Runtime::prepare_decode(const DecodeProblem& problem) {
  return prepare(decode_spec(problem), decode_shape(problem));
}

PreparedLaunch Runtime::prepare_launch(const DecodeArgs& args, void* stream) {
  std::unique_lock<std::mutex> lock;
  return prepare_launch(decode_spec(args.problem), LaunchArgs{nullptr, &args}, stream, lock);
}

void Runtime::decode(const DecodeArgs& args, void* stream) {
  validate_decode_args(args, backend_->target().platform);
  if (args.problem.batch == 0) return;  // nothing to compute
  std::unique_lock<std::mutex> lock;  // held through the launch when it uses the workspace
  launch(prepare_launch(decode_spec(args.problem), LaunchArgs{nullptr, &args}, stream, lock), stream);
}

}  // namespace attnjit

// Turning the public DecodeArgs into the kernels' DecodeParams, with every check on the way:
// sizes, heads multiple, query tokens, page size vs capacity, pointers, strides, alignment for
// the platform's vector loads, 32-bit limits; on the CPU platform (host memory) also the
// per-sequence lengths and the block table's page indices.
#pragma once

#include <vector>

#include "attnjit/launch.h"
#include "attnjit/target.h"
#include "attnjit/tensors.h"
#include "attnjit/tile_config.h"
#include "templates/decode/params.h"

namespace attnjit {

// Throws SpecError naming the field ("q_tokens", "k.seq_stride", "seqlens_k[3]", ...).
void validate_decode_problem(const DecodeProblem& p);
void validate_decode_args(const DecodeArgs& a, Platform platform);

// The ProblemSpec and RunShape of a (validated, non-empty) problem.
ProblemSpec decode_spec(const DecodeProblem& p);
RunShape decode_shape(const DecodeProblem& p);

// Validates and fills everything but the split fields (num_splits, row_chunks, workspace
// pointers), which depend on the chosen config. scale defaults to 1/sqrt(head_dim).
DecodeParams make_decode_params(const DecodeArgs& a, Platform platform);

// The decode templates' launch contract (sm80 and CPU share the params and the split scheme):
// the split count is decided here, once (decode_num_splits), and the split workspace is laid
// out here: counters in the zeroed part, partial O then partial LSE in the scratch part.
struct LaunchArgs;
struct Workspace;
struct WorkspaceSize;
WorkspaceSize decode_workspace_bytes(const ProblemSpec& spec, const TileConfig& cfg,
                                     const Target& target, const RunShape& shape);
std::vector<unsigned char> decode_arguments(const ProblemSpec& spec, const TileConfig& cfg,
                                            const Target& target, const LaunchArgs& args,
                                            const Workspace& ws);

}  // namespace attnjit

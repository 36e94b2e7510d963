// attnjit — the installed public surface. This umbrella header includes every public header;
// each of them includes only the others and the standard library.
//
//   attnjit/types.h         DType, Family, MaskKind, Platform, SpecError
//   attnjit/problem_spec.h  ProblemSpec, MaskSpec: what is computed (canonical key)
//   attnjit/tile_config.h   TileConfig: how (the tuner's search variable; names its template)
//   attnjit/target.h        Target: a CUDA arch or a host CPU
//   attnjit/launch.h        RunShape, LaunchGeometry
//   attnjit/tensors.h       TensorView, LseView, PrefillProblem/Args, DecodeProblem/Args
//   attnjit/runtime.h       Runtime: prefill and decode, compiled and cached on first use
#pragma once

#include "attnjit/block_mask.h"
#include "attnjit/launch.h"
#include "attnjit/problem_spec.h"
#include "attnjit/runtime.h"
#include "attnjit/target.h"
#include "attnjit/tensors.h"
#include "attnjit/tile_config.h"
#include "attnjit/types.h"
#include "attnjit/user_mods.h"

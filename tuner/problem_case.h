// What the evaluator needs of one problem instance on a backend, whatever its family: rotated
// buffer sets, the launch argument bytes of a config on one set, poisoning, read-back, and the
// float64 reference's view of the inputs. PrefillCase and DecodeCase implement it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "codegen/kernel_template.h"
#include "runtime/backend.h"
#include "runtime/reference_attention.h"

namespace attnjit::tuner {

class ProblemCase {
 public:
  virtual ~ProblemCase() = default;

  virtual const ProblemSpec& spec() const = 0;
  virtual const RunShape& shape() const = 0;
  virtual int copies() const = 0;

  // The reference's problem (ragged lengths included) and its dense inputs, as doubles.
  virtual ReferenceProblem reference_problem() const = 0;
  virtual std::vector<double> q_host() const = 0;
  virtual std::vector<double> k_host() const = 0;
  virtual std::vector<double> v_host() const = 0;

  // Buffer set `set` as an application passes it (views into the case's device buffers).
  virtual LaunchArgs args(int set) const = 0;
  // The kernel argument bytes for `cfg` on set `set`, built by the config's template through
  // its launch contract; the workspace (decode's split partials) grows as configs need it.
  std::vector<unsigned char> launch_args(int set, const TileConfig& cfg);
  // Fills the outputs of a set with NaN bytes and zeroes the workspace's zeroed part (a failed
  // kernel may have left split counters set, and the next candidate must not inherit that).
  void poison(int set);
  // Reads O (as float) and LSE back from a set.
  virtual void read(int set, std::vector<float>& o, std::vector<float>& lse) const = 0;


  // Launches `k` for `cfg` on a set and waits. Throws BackendError from the backend.
  void run_config(Backend& backend, const CompiledKernel& k, const LaunchGeometry& g, int set,
                  const TileConfig& cfg) {
    const std::vector<unsigned char> a = launch_args(set, cfg);
    backend.launch(k, g, a.data(), a.size());
    backend.synchronize();
  }

  // Dense element counts at the case's shape: O (like Q) [b, sq, hq, d] and LSE [b, hq, sq].
  size_t q_elems() const;
  size_t lse_elems() const;

 protected:
  explicit ProblemCase(Backend& backend) : backend_(backend) {}
  virtual void poison_outputs(int set) = 0;
  Backend& backend_;

 private:
  DeviceBuffer ws_zeroed_, ws_scratch_;
};

// Copies a case's output buffers back: O (elements of `dtype`) as floats, LSE (fp32).
void read_o_and_lse(Backend& backend, DType dtype, const DeviceBuffer& o_buf, size_t o_elems,
                    const DeviceBuffer& lse_buf, size_t lse_elems, std::vector<float>& o,
                    std::vector<float>& lse);

// Fills a case's output buffers with 0xFF bytes (NaN in f16, bf16 and f32 alike), so an element
// the kernel never writes is caught.
void poison_o_and_lse(Backend& backend, DeviceBuffer& o_buf, DeviceBuffer& lse_buf);

// Bytes one call touches in one buffer set (sizes the input rotation), by family.
size_t case_bytes_per_set(const ProblemSpec& spec, const RunShape& shape);

// The case of the spec's family. Decode cases use ragged lengths and a shuffled page order
// when `reduced` (the correctness gate), uniform lengths otherwise (the tuning shape).
std::unique_ptr<ProblemCase> make_problem_case(Backend& backend, const ProblemSpec& spec,
                                               const RunShape& shape, uint64_t seed, int copies,
                                               bool reduced);

}  // namespace attnjit::tuner

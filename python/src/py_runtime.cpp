#include "py_runtime.h"

#include "decode_user_mods.h"
#include "user_mods.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>

#include "runtime/backend.h"
#include "tune_layer.h"

namespace attnjit::python {

PyRuntime::PyRuntime(const std::string& backend, std::optional<std::string> db, std::optional<std::string> cache_dir,
                     int device)
    : db_path(std::move(db)) {
  RuntimeOptions o;
  o.device = device;
  if (cache_dir) o.cache_dir = *cache_dir;
  const BackendKind kind = parse_backend_kind(backend == "gpu" ? "cuda" : backend);
  {
    nb::gil_scoped_release unlocked;  // opening a backend loads NVRTC / LLVM: seconds, not Python's business
    rt = Runtime::create(kind, o);
    if (db_path) rt->set_config_provider(make_db_provider(*db_path, rt->backend()));
  }
  where.platform = rt->target().platform;
  where.device = where.platform == Platform::Cuda ? std::max(device, 0) : -1;
}

MaskSpec mask_of(bool causal, std::optional<int64_t> left, std::optional<int64_t> right) {
  MaskSpec m;
  if (left || right) {
    m.kind = MaskKind::SlidingWindow;
    m.window_left = left.value_or(0);
    m.window_right = right.value_or(0);
    if (causal && m.window_right != 0)
      throw nb::value_error("window: with causal=True the right width must be 0 (a query sees no later keys)");
  } else if (causal) {
    m.kind = MaskKind::Causal;
  }
  return m;
}

void bind_runtime(nb::module_& m) {
  auto cls = nb::class_<PyRuntime>(m, "Runtime",
      "A kernel runtime on one backend: compiles each problem's kernel once (memory + disk cache)\n"
      "and launches it. Thread-safe; calls release the GIL while compiling and launching.\n\n"
      "backend: \"auto\" (CUDA when a GPU is usable, else CPU), \"cpu\" or \"cuda\".\n"
      "db: path of a tuning database; its best configs replace the built-in defaults.\n"
      "cache_dir: the compiled-kernel disk cache (default $ATTNJIT_CACHE_DIR or ~/.cache/attnjit).\n"
      "device: CUDA device ordinal (-1 = the current one).");
  cls.def(nb::init<const std::string&, std::optional<std::string>, std::optional<std::string>, int>(),
          nb::arg("backend") = "auto", nb::arg("db") = nb::none(), nb::arg("cache_dir") = nb::none(),
          nb::arg("device") = -1)
      .def_prop_ro("backend", [](const PyRuntime& r) { return std::string(to_string(r.where.platform)); },
                   "\"cpu\" or \"cuda\": where this runtime's kernels run.")
      .def_prop_ro("device", [](const PyRuntime& r) { return r.where.device; },
                   "CUDA device ordinal, or -1 for the CPU backend.")
      .def_prop_ro("target", [](const PyRuntime& r) { return r.rt->target().key(); },
                   "The target key (GPU arch or CPU name) kernels are compiled for.")
      .def_prop_ro("db", [](const PyRuntime& r) { return r.db_path; }, "The tuning database in use, if any.")
      .def("describe", [](PyRuntime& r) { return r.rt->backend().describe(); },
           "A one-line description of the backend (device name, compiler).")
      .def("clear_plans", [](PyRuntime& r) { r.rt->clear_plans(); },
           "Forget the chosen configs (kernels stay cached), e.g. after new tuning results.")
      .def(
          "plan",
          [](PyRuntime& r, const std::string& problem_key) {
            const ProblemSpec spec = ProblemSpec::parse(problem_key);
            RunShape shape;
            shape.batch = 1;
            shape.heads_kv = 1;
            shape.heads_q = spec.group;
            shape.seqlen_q = spec.seqlen_q;
            shape.seqlen_k = spec.seqlen_k;
            nb::gil_scoped_release unlocked;
            const PreparedKernel k = r.rt->prepare(spec, shape);
            return std::make_pair(k.config.key(), k.config_source);
          },
          nb::arg("problem"),
          "Compile (or take from the cache) the kernel for a problem key; returns (config key, where the\n"
          "config came from: \"default\", \"db:exact\", ...).");
  bind_prefill(cls);
  bind_user_mods(m, cls);
  bind_decode(cls);
  bind_decode_user_mods(m);
  bind_prefill_varlen(cls);
}

}  // namespace attnjit::python

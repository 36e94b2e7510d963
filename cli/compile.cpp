// `attnjit compile`: render one (problem, config, arch) and compile it with NVRTC, printing the
// resource report and the cold compile time — the CI-side proof that a variant builds.
#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "cli/snippet_args.h"
#include "codegen/user_variant.h"
#include "cli/kv_dtype_option.h"
#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "runtime/nvrtc_compiler.h"

namespace attnjit::cli {
namespace {

struct CompileArgs {
  std::string problem, config, arch = "sm_80", emit = "none", tmpl, kv_dtype;
  SnippetFiles snippets;
};

void run_compile(CompileArgs a) {
  read_snippet_files(a.snippets);
  const ProblemSpec spec = with_kv_dtype(apply_snippets(ProblemSpec::parse(a.problem), a.snippets), a.kv_dtype);
  const Target target = Target::cuda(a.arch);
  // The template: --template, else the one the config names, else the default for the problem.
  TileConfig named;
  if (!a.config.empty()) named = TileConfig::parse(a.config);
  if (!a.tmpl.empty()) {
    if (!named.tmpl.empty() && named.tmpl != a.tmpl)
      throw UsageError("--template " + a.tmpl + " but --config names template '" + named.tmpl + "'");
    named.tmpl = a.tmpl;
  }
  const KernelTemplate& tmpl = named.tmpl.empty() ? select_template(spec, target) : template_for(spec, target, named);
  const TileConfig cfg = a.config.empty() ? tmpl.default_config(spec, target) : named;
  if (auto why = tmpl.can_implement(spec, cfg, target))
    throw UsageError("config " + cfg.key() + " cannot implement " + spec.key() + " on " +
                     target.key() + ": " + *why);
  const KernelSource src = tmpl.render(spec, cfg, target);
  if (a.emit == "source") {
    std::cout << src.text;
    return;
  }
  NvrtcResult r;
  try {
    r = Nvrtc::get().compile(src, true, a.emit == "ptx");
  } catch (const BackendError& e) {
    throw_if_snippet_error(spec, e.what());  // a snippet's error, mapped to its line: exit 2
    throw;
  }
  if (a.emit == "ptx") {
    std::cout << r.ptx;
    return;
  }
  if (a.emit == "cubin") {  // raw bytes, for `cuobjdump -sass` / `nvdisasm` (not in the toolkit image)
    std::cout.write(reinterpret_cast<const char*>(r.cubin.data()), static_cast<std::streamsize>(r.cubin.size()));
    std::cout.flush();
    if (!std::cout) throw BackendError("--emit cubin: writing " + std::to_string(r.cubin.size()) + " bytes to stdout failed");
    return;
  }
  std::printf("kernel      %s\n", src.name.c_str());
  std::printf("template    %s (version %s)\n", std::string(tmpl.name()).c_str(), tmpl.version_hash().c_str());
  std::printf("entry       %s\n", r.lowered_name.c_str());
  std::printf("nvrtc       %s\n", Nvrtc::get().version().c_str());
  std::printf("cubin       %zu bytes\n", r.cubin.size());
  std::printf("registers   %d\n", r.resources.registers);
  std::printf("spills      %d bytes stored, %d bytes loaded\n", r.resources.spill_store_bytes,
              r.resources.spill_load_bytes);
  std::printf("stack       %d bytes\n", r.resources.stack_frame_bytes);
  std::printf("smem        %d bytes static, %u bytes dynamic (limit %lld)\n", r.resources.smem_static_bytes,
              // One sequence of the bucket's lengths, with the key's GQA group (and packed rows, varlen).
              tmpl.geometry(spec, cfg, target,
                            RunShape{1, spec.group, 1, spec.seqlen_q, spec.seqlen_k, spec.varlen ? spec.seqlen_q : 0})
                  .dynamic_smem,
              static_cast<long long>(target.smem_per_block));
  // Wall time depends on the machine's load; the CPU time of the compiling thread does not.
  std::printf("compile     %.1f ms (cold, this process), %.1f ms CPU\n", r.compile_ms, r.compile_cpu_ms);
  // ptxas's warnings and its coded performance notes ("(C7508) ... setmaxnreg ignored", C75xx
  // wgmma serialisation, printed as info) verbatim, so the compile gates of tests/gates can be
  // checked by hand.
  for (size_t a = 0; a < r.log.size();) {
    size_t b = r.log.find('\n', a);
    if (b == std::string::npos) b = r.log.size();
    const std::string line = r.log.substr(a, b - a);
    if (line.find("warning") != std::string::npos || line.find("(C7") != std::string::npos)
      std::printf("warning     %s\n", line.c_str());
    a = b + 1;
  }
}

const RegisterCommand reg("compile", [](CLI::App& app) {
  auto args = std::make_shared<CompileArgs>();
  auto* c = app.add_subcommand("compile", "Render and compile one kernel variant with NVRTC");
  add_snippet_options(c, &args->snippets);
  c->add_option("--problem", args->problem, "problem key, e.g. prefill_bf16_hd128_causal_g1_q4096_k4096")->required();
  c->add_option("--config", args->config, "tile config key, e.g. bm128_bn64_w4_s2 (default: the template's)");
  c->add_option("--template", args->tmpl, "template short name, e.g. sm80 | sm90 (default: the problem's default)");
  c->add_option("--arch", args->arch, "sm_80 | sm_86 | sm_89 | sm_90a")->capture_default_str();
  c->add_option("--kv-dtype", args->kv_dtype, "decode: K/V storage same | e4m3 | e5m2 (as the key's _kv- field)");
  c->add_option("--emit", args->emit, "what to print besides the report")
      ->check(CLI::IsMember({"none", "source", "ptx", "cubin"}))
      ->capture_default_str();
  c->callback([args] { run_compile(*args); });
});

}  // namespace
}  // namespace attnjit::cli

#include "runtime/snippet_host.h"

#include <memory>

#include "codegen/embedded_templates.h"
#include "codegen/snippet.h"
#include "codegen/user_variant.h"
#if defined(ATTNJIT_WITH_LLVM)
#include "runtime/cpu/cpu_compiler.h"
#include "runtime/cpu/cpu_jit.h"
#endif

namespace attnjit {
namespace {

// The evaluator's one call: op 0 = score_mod(s), op 1 = mask_mod; writes *out.
struct SnippetEval {
  const UserModParams* u;
  int op, b, h, q, k;
  double s;
  double* out;
};

}  // namespace

HostSnippets host_snippets(const ProblemSpec& spec, const UserModParams* aux) {
  HostSnippets hs;
  if (spec.score_mod.empty() && spec.mask_mod.empty()) return hs;
#if defined(ATTNJIT_WITH_LLVM)
  const std::string sm = spec.score_mod.empty() ? "" : snippet_text("score_mod", spec.score_mod);
  const std::string mm = spec.mask_mod.empty() ? "" : snippet_text("mask_mod", spec.mask_mod);
  KernelSource src;
  src.platform = Platform::Cpu;
  src.name = "snippet_host/" + spec.score_mod + "/" + spec.mask_mod;
  src.entry = "attnjit_snippet_eval";
  src.text = "#include \"common/variants_user.h\"\n" + user_mods_struct(sm, mm) +
             "struct SnippetEval { const attnjit::UserModParams* u; int op, b, h, q, k; double s; double* out; };\n"
             "extern \"C\" void attnjit_snippet_eval(const SnippetEval* p, long long, long long) {\n"
             "  attnjit_gen::UserMods m;\n  m.u_ = p->u;\n" +
             (sm.empty() ? "" : "  if (p->op == 0) *p->out = m.score_mod(p->s, p->b, p->h, p->q, p->k);\n") +
             (mm.empty() ? "" : "  if (p->op == 1) *p->out = m.mask_mod(p->b, p->h, p->q, p->k) ? 1.0 : 0.0;\n") + "}\n";
  src.headers = templates::headers("common/variants_user.h");
  src.options = {"-O1", "-std=c++17"};
  src.arch = "host";
  src.finalize();
  std::shared_ptr<CpuJitModule> mod;
  try {
    const CpuCompileResult r = compile_cpu_kernel(src);
    mod = std::make_shared<CpuJitModule>(r.object, src.entry, src.name);
  } catch (const BackendError& e) {
    throw_if_snippet_error(spec, e.what());
    throw;
  }
  auto call = [mod, aux](int op, double s, int64_t b, int64_t h, int64_t q, int64_t k) {
    double out = 0;
    const SnippetEval p{aux, op, int(b), int(h), int(q), int(k), s, &out};
    mod->entry()(&p, 0, 1);
    return out;
  };
  if (!sm.empty()) hs.score_mod = [call](double s, int64_t b, int64_t h, int64_t q, int64_t k) { return call(0, s, b, h, q, k); };
  if (!mm.empty()) hs.mask_mod = [call](int64_t b, int64_t h, int64_t q, int64_t k) { return call(1, 0, b, h, q, k) != 0; };
  return hs;
#else
  (void)aux;
  throw BackendError("snippets: evaluating " + spec.key() + "'s snippets on the host needs the CPU JIT (LLVM), "
                     "which this build lacks");
#endif
}

}  // namespace attnjit

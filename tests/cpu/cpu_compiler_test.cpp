// runtime/cpu/cpu_compiler: host detection, in-process clang compiles, readable diagnostics for
// broken sources, and that the generated prefill kernel is really vectorised for the host.
#include "runtime/cpu/cpu_compiler.h"

#include <gtest/gtest.h>

#include <regex>

#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "prefill_cpu_harness.h"
#include "runtime/backend.h"

namespace attnjit::test {
namespace {

KernelSource tiny_source(const std::string& body) {
  KernelSource s;
  s.platform = Platform::Cpu;
  s.name = "test/tiny";
  s.entry = "attnjit_test_tiny";
  s.text = "#include \"tiny.h\"\nextern \"C\" void attnjit_test_tiny(const void* p, long long b, long long e) {\n" +
           body + "\n}\n";
  s.headers = {{"tiny.h", "static inline int twice(int x) { return 2 * x; }\n"}};
  s.options = {"-O2", "-std=c++17"};
  s.arch = host_cpu_target().arch;
  s.finalize();
  return s;
}

TEST(CpuCompiler, HostTarget) {
  Target t = host_cpu_target();
  EXPECT_EQ(t.platform, Platform::Cpu);
  EXPECT_FALSE(t.arch.empty());
  EXPECT_EQ(t.key(), "cpu-" + t.arch);
  EXPECT_GE(t.sm_count, 1);
  EXPECT_TRUE(t.vector_bits == 128 || t.vector_bits == 256 || t.vector_bits == 512) << t.vector_bits;
  EXPECT_NE(t.cpu_features.find('+'), std::string::npos) << t.cpu_features;
  EXPECT_EQ(llvm_version().substr(0, 3), "14.");
}

TEST(CpuCompiler, CompilesInMemorySourceWithHeaders) {
  CpuCompileResult r = compile_cpu_kernel(
      tiny_source("int* out = (int*)p; for (long long i = b; i < e; ++i) out[i] = twice((int)i);"));
  // An ELF object: the unit that is cached and linked.
  ASSERT_GE(r.object.size(), 4u);
  EXPECT_EQ(r.object.substr(0, 4), std::string("\x7f" "ELF"));
  EXPECT_GT(r.compile_ms, 0);
}

TEST(CpuCompiler, SyntaxErrorReportsClangDiagnostic) {
  KernelSource s = tiny_source("int x = twice(1) return;");
  try {
    compile_cpu_kernel(s);
    FAIL() << "a broken source compiled";
  } catch (const BackendError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("test/tiny"), std::string::npos) << msg;                 // which kernel
    EXPECT_NE(msg.find("attnjit_test_tiny.cpp:3:"), std::string::npos) << msg;  // file:line
    EXPECT_NE(msg.find("error: expected ';'"), std::string::npos) << msg;       // clang's words
  }
}

TEST(CpuCompiler, ErrorInIncludedHeaderNamesTheHeader) {
  KernelSource s = tiny_source("(void)p; (void)b; (void)e;");
  s.headers[0].second = "static inline int twice(int x) { return undefined_name * x; }\n";
  s.finalize();
  try {
    compile_cpu_kernel(s);
    FAIL() << "a broken header compiled";
  } catch (const BackendError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("tiny.h:1:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("undefined_name"), std::string::npos) << msg;
  }
}

TEST(CpuCompiler, LibstdcxxHeadersAreNotVisible) {
  // Kernels must not depend on the host's C++ library; cc1 gets no system include paths.
  KernelSource s = tiny_source("(void)p; (void)b; (void)e;");
  s.text = "#include <vector>\n" + s.text;
  s.finalize();
  EXPECT_THROW(compile_cpu_kernel(s), BackendError);
}

TEST(CpuCompiler, RejectsCudaSources) {
  KernelSource s = tiny_source("");
  s.platform = Platform::Cuda;
  EXPECT_THROW(compile_cpu_kernel(s), BackendError);
}

// The generated prefill kernel uses the host's widest vectors for its arithmetic: full-width
// float vectors in the IR and fused multiply-adds on full-width registers in the assembly.
TEST(CpuCompiler, PrefillKernelIsVectorised) {
  const Target target = host_cpu_target();
  for (DType dt : {DType::F32, DType::BF16}) {
    ProblemSpec spec = ProblemSpec::for_shape(Family::Prefill, dt, 128, {MaskKind::Causal, 0, 0}, 1, 1, 512, 512);
    const auto& t = select_template(spec, target);
    KernelSource src = t.render(spec, t.default_config(spec, target), target);
    CpuCompileResult r = compile_cpu_kernel(src, {true, true});
    const int lanes = target.vector_bits / 32;
    const std::string reg = target.vector_bits >= 512 ? "zmm" : target.vector_bits >= 256 ? "ymm" : "xmm";
    SCOPED_TRACE(src.name);
    EXPECT_EQ(r.log, "") << "the template compiles with warnings";
    EXPECT_NE(r.ir.find("<" + std::to_string(lanes) + " x float>"), std::string::npos);
    std::regex fma("vfmadd[0-9]+ps\\s+%" + reg);
    auto n = std::distance(std::sregex_iterator(r.asm_text.begin(), r.asm_text.end(), fma), std::sregex_iterator());
    if (t.default_config(spec, target).order == 2) {  // bf16 on AMX hosts: the GEMMs on tiles, the softmax in FMAs
      EXPECT_NE(r.asm_text.find("tdpbf16ps"), std::string::npos);
      EXPECT_GE(n, 5) << "too few full-width FMAs in the assembly";
    } else {
      EXPECT_GE(n, 16) << "too few full-width FMAs in the assembly";
    }
    // No calls into libm: exp2 / log2 are inlined polynomials.
    EXPECT_EQ(r.asm_text.find("exp2f"), std::string::npos);
    EXPECT_EQ(r.asm_text.find("log2"), std::string::npos);
  }
}

}  // namespace
}  // namespace attnjit::test

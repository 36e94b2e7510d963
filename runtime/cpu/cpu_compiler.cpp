#include "runtime/cpu/cpu_compiler.h"

#include "runtime/cpu/amx_permission.h"

#include <clang/Basic/Diagnostic.h>
#include <clang/Basic/DiagnosticOptions.h>
#include <clang/CodeGen/CodeGenAction.h>
#include <clang/Frontend/CompilerInstance.h>
#include <clang/Frontend/CompilerInvocation.h>
#include <clang/Frontend/TextDiagnosticPrinter.h>
#include <llvm/ADT/StringMap.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Support/Host.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/VirtualFileSystem.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Target/TargetOptions.h>
#include <llvm/Transforms/Utils/Cloning.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/backend.h"

#ifndef ATTNJIT_CLANG_RESOURCE_DIR
#error "ATTNJIT_CLANG_RESOURCE_DIR must name clang's resource directory (runtime/CMakeLists.txt)"
#endif

namespace attnjit {
namespace {

void init_llvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
  });
}

std::string cpu_model_string() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) break;
    auto v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    return v;
  }
  return {};
}

// "-target-cpu X" / "-target-feature +f" from the cc1 options, so the code generator uses the
// same CPU as clang's optimiser did.
void cpu_from_options(const std::vector<std::string>& opts, std::string& cpu, std::string& features) {
  for (size_t i = 0; i + 1 < opts.size(); ++i) {
    if (opts[i] == "-target-cpu") cpu = opts[i + 1];
    if (opts[i] == "-target-feature") {
      if (!features.empty()) features += ',';
      features += opts[i + 1];
    }
  }
}

std::unique_ptr<llvm::TargetMachine> make_target_machine(const std::string& triple, const std::string& cpu,
                                                         const std::string& features, const std::string& name) {
  std::string err;
  const llvm::Target* target = llvm::TargetRegistry::lookupTarget(triple, err);
  if (!target) throw BackendError("LLVM: no target for triple " + triple + " (" + err + ") compiling " + name);
  llvm::TargetOptions to;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      triple, cpu, features, to, llvm::Reloc::PIC_, llvm::None, llvm::CodeGenOpt::Aggressive));
  if (!tm) throw BackendError("LLVM: createTargetMachine(" + triple + ", " + cpu + ") failed compiling " + name);
  return tm;
}

std::string emit(llvm::TargetMachine& tm, llvm::Module& m, llvm::CodeGenFileType type, const std::string& name) {
  llvm::SmallVector<char, 0> buf;
  llvm::raw_svector_ostream os(buf);
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr, type))
    throw BackendError("LLVM: the target cannot emit " +
                       std::string(type == llvm::CGFT_ObjectFile ? "an object file" : "assembly") +
                       " for " + name);
  pm.run(m);
  return std::string(buf.begin(), buf.end());
}

}  // namespace

std::string llvm_version() { return LLVM_VERSION_STRING; }

std::string host_triple() { return llvm::sys::getProcessTriple(); }

Target host_cpu_target() {
  init_llvm();
  llvm::StringMap<bool> feats;
  std::vector<std::string> list;
  if (llvm::sys::getHostCPUFeatures(feats))
    for (const auto& f : feats) list.push_back((f.getValue() ? "+" : "-") + f.getKey().str());
  std::sort(list.begin(), list.end(), [](const std::string& a, const std::string& b) {
    return a.substr(1) < b.substr(1);
  });
  std::string joined;
  for (const auto& f : list) joined += (joined.empty() ? "" : ",") + f;
  joined = amx_features_granted(joined);  // tiles only where this process may use them
  auto has = [&](const char* f) { auto it = feats.find(f); return it != feats.end() && it->getValue(); };
  int bits = has("avx512f") ? 512 : has("avx") ? 256 : 128;
  Target t = Target::cpu(llvm::sys::getHostCPUName().str(), joined, bits);
  t.device_name = cpu_model_string();
  t.sm_count = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return t;
}

CpuCompileResult compile_cpu_kernel(const KernelSource& src, const CpuCompileRequest& req) {
  if (src.platform != Platform::Cpu)
    throw BackendError("compile_cpu_kernel: " + src.name + " is not a CPU kernel source");
  init_llvm();
  auto t0 = std::chrono::steady_clock::now();
  const std::string triple = host_triple();

  // In-memory sources over the real file system (clang's resource headers stay readable).
  const std::string dir = "/attnjit-jit";
  const std::string main_path = dir + "/" + (src.entry.empty() ? std::string("kernel") : src.entry) + ".cpp";
  llvm::IntrusiveRefCntPtr<llvm::vfs::InMemoryFileSystem> mem(new llvm::vfs::InMemoryFileSystem);
  mem->addFile(main_path, 0, llvm::MemoryBuffer::getMemBufferCopy(src.text, main_path));
  for (const auto& [hname, content] : src.headers)
    mem->addFile(dir + "/include/" + hname, 0, llvm::MemoryBuffer::getMemBufferCopy(content, hname));
  llvm::IntrusiveRefCntPtr<llvm::vfs::OverlayFileSystem> vfs(
      new llvm::vfs::OverlayFileSystem(llvm::vfs::getRealFileSystem()));
  vfs->pushOverlay(mem);

  std::vector<std::string> args = {"-triple", triple, "-resource-dir", ATTNJIT_CLANG_RESOURCE_DIR,
                                   "-internal-isystem", std::string(ATTNJIT_CLANG_RESOURCE_DIR) + "/include",
                                   "-I", dir + "/include", "-mrelocation-model", "pic", "-pic-level", "2",
                                   "-fno-rtti", "-x", "c++"};
  args.insert(args.end(), src.options.begin(), src.options.end());
  args.push_back(main_path);
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());

  std::string diag_text;
  llvm::raw_string_ostream diag_os(diag_text);
  llvm::IntrusiveRefCntPtr<clang::DiagnosticOptions> diag_opts(new clang::DiagnosticOptions);
  diag_opts->ShowColors = false;
  // Honour #line (as the clang driver does): user snippets are reported at their own lines.
  diag_opts->ShowPresumedLoc = true;
  // Declared before both diagnostics engines, which only borrow it, so it outlives them.
  auto printer = std::make_unique<clang::TextDiagnosticPrinter>(diag_os, diag_opts.get());
  llvm::IntrusiveRefCntPtr<clang::DiagnosticIDs> ids(new clang::DiagnosticIDs);
  clang::DiagnosticsEngine parse_diags(ids, diag_opts, printer.get(), /*ShouldOwnClient=*/false);

  auto inv = std::make_shared<clang::CompilerInvocation>();
  bool ok = clang::CompilerInvocation::CreateFromArgs(*inv, argv, parse_diags);
  if (!ok || parse_diags.hasErrorOccurred()) {
    diag_os.flush();
    throw BackendError("clang: invalid options for " + src.name + ":\n" + diag_text);
  }

  llvm::LLVMContext ctx;  // outlives the compiler instance and the module
  clang::CompilerInstance ci;
  ci.setInvocation(inv);
  ci.createDiagnostics(printer.get(), /*ShouldOwnClient=*/false);
  ci.createFileManager(vfs);
  ci.setVerboseOutputStream(diag_os);  // "N errors generated." goes with the diagnostics, not stderr
  clang::EmitLLVMOnlyAction action(&ctx);
  bool compiled = ci.ExecuteAction(action);
  diag_os.flush();
  std::unique_ptr<llvm::Module> module = compiled ? action.takeModule() : nullptr;
  if (!compiled || !module || ci.getDiagnostics().hasErrorOccurred())
    throw BackendError("clang: compiling " + src.name + " failed:\n" + diag_text);

  std::string cpu = llvm::sys::getHostCPUName().str(), features;
  cpu_from_options(src.options, cpu, features);
  auto tm = make_target_machine(triple, cpu, features, src.name);
  module->setDataLayout(tm->createDataLayout());
  module->setTargetTriple(triple);

  CpuCompileResult r;
  r.log = diag_text;
  if (req.want_ir) {
    llvm::raw_string_ostream os(r.ir);
    module->print(os, nullptr);
  }
  if (req.want_asm) {
    // Code generation rewrites the module (CodeGenPrepare): emit assembly from a copy.
    auto copy = llvm::CloneModule(*module);
    r.asm_text = emit(*tm, *copy, llvm::CGFT_AssemblyFile, src.name);
  }
  r.object = emit(*tm, *module, llvm::CGFT_ObjectFile, src.name);
  r.compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace attnjit

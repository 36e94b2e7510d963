#include "runtime/cpu/cpu_jit.h"

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>

#include <mutex>

#include "runtime/backend.h"

namespace attnjit {
namespace {

std::string message(llvm::Error e) { return llvm::toString(std::move(e)); }

}  // namespace

CpuJitModule::CpuJitModule(std::string_view object, const std::string& entry, const std::string& name) {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) throw BackendError("ORC: detecting the host for " + name + ": " + message(jtmb.takeError()));
  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(*jtmb)).create();
  if (!jit) throw BackendError("ORC: creating LLJIT for " + name + ": " + message(jit.takeError()));
  jit_ = std::move(*jit);

  auto gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      jit_->getDataLayout().getGlobalPrefix());
  if (!gen) throw BackendError("ORC: process symbol generator for " + name + ": " + message(gen.takeError()));
  jit_->getMainJITDylib().addGenerator(std::move(*gen));

  auto buf = llvm::MemoryBuffer::getMemBufferCopy(llvm::StringRef(object.data(), object.size()), name);
  if (auto err = jit_->addObjectFile(std::move(buf)))
    throw BackendError("ORC: adding the object of " + name + ": " + message(std::move(err)));
  // lookup() materialises (links) the object; an unparsable object fails here.
  auto sym = jit_->lookup(entry);
  if (!sym) throw BackendError("ORC: looking up '" + entry + "' in " + name + ": " + message(sym.takeError()));
  entry_ = reinterpret_cast<CpuEntry>(static_cast<uintptr_t>(sym->getAddress()));
  if (!entry_) throw BackendError("ORC: '" + entry + "' in " + name + " resolved to address 0");
}

CpuJitModule::~CpuJitModule() = default;

}  // namespace attnjit

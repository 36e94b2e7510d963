// `attnjit info`: which backends this machine has — NVRTC, a CUDA driver and its GPUs, the
// LLVM CPU backend — so users (and scripts/run.sh) know what will run where.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "runtime/cuda_driver.h"
#include "runtime/nvrtc_compiler.h"
#if defined(ATTNJIT_WITH_LLVM) && __has_include("runtime/cpu/cpu_backend.h")
#include "runtime/cpu/cpu_backend.h"
#define ATTNJIT_INFO_CPU 1
#endif

namespace attnjit::cli {
namespace {

nlohmann::json collect_info() {
  nlohmann::json j;
  j["version"] = ATTNJIT_VERSION;
  std::string why;
  if (Nvrtc::available(&why)) {
    j["nvrtc"] = {{"available", true}, {"version", Nvrtc::get().version()}};
  } else {
    j["nvrtc"] = {{"available", false}, {"reason", why}};
  }
  why.clear();
  if (cuda_available(&why)) {
    nlohmann::json gpus = nlohmann::json::array();
    for (int i = 0; i < device_count(); ++i) {
      Target t = device_target(i);
      gpus.push_back({{"ordinal", i}, {"name", t.device_name}, {"arch", t.key()},
                      {"compute_capability", std::to_string(t.cc_major) + "." + std::to_string(t.cc_minor)},
                      {"sm_count", t.sm_count}, {"smem_per_block", t.smem_per_block}});
    }
    j["cuda"] = {{"available", true}, {"driver", driver_version()}, {"gpus", gpus}};
  } else {
    j["cuda"] = {{"available", false}, {"reason", why}};
  }
#ifdef ATTNJIT_INFO_CPU
  try {
    Target t = host_cpu_target();
    j["cpu"] = {{"available", true}, {"target", t.key()}, {"cpu", t.arch},
                {"vector_bits", t.vector_bits}, {"threads", t.sm_count}};
  } catch (const std::exception& e) {
    j["cpu"] = {{"available", false}, {"reason", e.what()}};
  }
#else
  j["cpu"] = {{"available", false}, {"reason", "built without the LLVM backend (ATTNJIT_WITH_LLVM=OFF)"}};
#endif
  nlohmann::json tmpls = nlohmann::json::array();
  for (const KernelTemplate* t : all_templates())
    tmpls.push_back({{"name", t->name()}, {"version", t->version_hash()}});
  j["templates"] = tmpls;
  const bool gpu = j["cuda"]["available"].get<bool>() && j["nvrtc"]["available"].get<bool>();
  j["best_backend"] = gpu ? "cuda" : (j["cpu"]["available"].get<bool>() ? "cpu" : "none");
  return j;
}

void print_text(const nlohmann::json& j) {
  auto line = [](const char* what, const nlohmann::json& b, const std::string& detail) {
    if (b["available"].get<bool>())
      std::printf("%-8s yes  %s\n", what, detail.c_str());
    else
      std::printf("%-8s no   %s\n", what, b["reason"].get<std::string>().c_str());
  };
  std::printf("attnjit %s\n", j["version"].get<std::string>().c_str());
  line("nvrtc", j["nvrtc"], j["nvrtc"].value("version", ""));
  line("cuda", j["cuda"], "driver " + j["cuda"].value("driver", std::string()));
  if (j["cuda"]["available"].get<bool>())
    for (const auto& g : j["cuda"]["gpus"])
      std::printf("  gpu %d  %s  %s  %d SMs\n", g["ordinal"].get<int>(), g["name"].get<std::string>().c_str(),
                  g["arch"].get<std::string>().c_str(), g["sm_count"].get<int>());
  line("cpu", j["cpu"], j["cpu"].value("target", std::string()));
  std::printf("best     %s\n", j["best_backend"].get<std::string>().c_str());
  for (const auto& t : j["templates"])
    std::printf("template %-14s %s\n", t["name"].get<std::string>().c_str(), t["version"].get<std::string>().c_str());
}

const RegisterCommand reg("info", [](CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  auto* c = app.add_subcommand("info", "Backends found on this machine (NVRTC, CUDA GPUs, LLVM CPU)");
  c->add_flag("--json", *json, "print JSON");
  c->callback([json] {
    auto j = collect_info();
    if (*json)
      std::cout << j.dump(2) << "\n";
    else
      print_text(j);
  });
});

}  // namespace
}  // namespace attnjit::cli

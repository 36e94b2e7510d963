// The `attnjit` command: a thin shell over the library. Exit codes: 0 ok, 1 failure,
// 2 bad arguments (usage, unknown keys, invalid values).
#include <algorithm>
#include <cstdio>
#include <exception>

#include "cli/command.h"
#include "codegen/types.h"

namespace attnjit::cli {
std::vector<std::pair<std::string, CommandSetup>>& command_registry() {
  static std::vector<std::pair<std::string, CommandSetup>> r;
  return r;
}
}  // namespace attnjit::cli

int main(int argc, char** argv) {
  using namespace attnjit::cli;
  CLI::App app{"attnjit — specialized, autotuned attention kernels (NVRTC on GPUs, LLVM on CPUs)"};
  app.set_version_flag("--version", ATTNJIT_VERSION);
  app.require_subcommand(1);
  auto& reg = command_registry();
  std::sort(reg.begin(), reg.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [name, setup] : reg) setup(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "attnjit: %s\n", e.what());
    return 2;
  } catch (const attnjit::SpecError& e) {
    std::fprintf(stderr, "attnjit: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "attnjit: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

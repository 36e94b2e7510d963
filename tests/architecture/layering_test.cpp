// The library's layering (DESIGN.md §2): include/attnjit <- codegen <- runtime <- tuner <- api <-
// service / cli / python, with db beside runtime, and templates/ device code that includes no
// host folder. Reads every source file's `#include "folder/..."` lines and fails on an include
// of a folder its own folder may not use, naming the file, the line and the folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;

namespace {

// The folders each folder's sources may include (its own included).
const std::map<std::string, std::set<std::string>>& allowed() {
  static const std::map<std::string, std::set<std::string>> a = [] {
    std::map<std::string, std::set<std::string>> m;
    m["include"] = {"attnjit"};
    m["codegen"] = {"attnjit", "codegen", "templates"};
    m["runtime"] = {"attnjit", "codegen", "templates", "runtime"};
    m["db"] = {"attnjit", "codegen", "db"};
    m["tuner"] = {"attnjit", "codegen", "templates", "runtime", "db", "tuner"};
    m["api"] = {"attnjit", "codegen", "templates", "runtime", "db", "tuner", "api"};
    m["service"] = {"attnjit", "codegen", "templates", "runtime", "db", "tuner", "api", "service"};
    m["cli"] = {"attnjit", "codegen", "templates", "runtime", "db", "tuner", "api", "service", "cli"};
    m["python"] = {"attnjit", "codegen", "templates", "runtime", "db", "tuner", "api", "python"};
    return m;
  }();
  return a;
}

// Top-level folders an include may name; anything else (a template's own "common/...", a
// system header in quotes) is not a layer reference.
const std::set<std::string> kLayers = {"attnjit", "codegen", "templates", "runtime", "db",
                                       "tuner",   "api",     "service",   "cli",     "python"};

struct Violation {
  std::string file;
  int line;
  std::string target;
};

std::vector<Violation> violations(const fs::path& root) {
  std::vector<Violation> out;
  for (const auto& [folder, ok] : allowed()) {
    const fs::path dir = root / folder;
    if (!fs::exists(dir)) continue;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      const std::string ext = e.path().extension().string();
      if (!e.is_regular_file() || (ext != ".h" && ext != ".cpp" && ext != ".cuh")) continue;
      std::ifstream in(e.path());
      std::string text;
      int n = 0;
      while (std::getline(in, text)) {
        ++n;
        const size_t p = text.find("#include \"");
        if (p == std::string::npos || text.find_first_not_of(" \t") != p) continue;
        const size_t start = p + 10, slash = text.find('/', start), close = text.find('"', start);
        if (slash == std::string::npos || close == std::string::npos || slash > close) continue;
        const std::string target = text.substr(start, slash - start);
        if (kLayers.count(target) && !ok.count(target))
          out.push_back({fs::relative(e.path(), root).string(), n, target});
      }
    }
  }
  return out;
}

TEST(Layering, NoFolderIncludesALayerAboveIt) {
  const auto v = violations(ATTNJIT_SOURCE_DIR);
  for (const Violation& x : v)
    ADD_FAILURE() << x.file << ":" << x.line << ": includes \"" << x.target
                  << "/...\", a layer its folder may not use (DESIGN.md §2)";
  EXPECT_TRUE(v.empty());
}

TEST(Layering, ThePublicHeadersIncludeOnlyEachOtherAndTheStandardLibrary) {
  const fs::path dir = fs::path(ATTNJIT_SOURCE_DIR) / "include" / "attnjit";
  int headers = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    ++headers;
    std::ifstream in(e.path());
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("#include \"", 0) != 0) continue;
      EXPECT_EQ(line.rfind("#include \"attnjit/", 0), 0u) << e.path().filename() << ": " << line;
    }
  }
  EXPECT_GE(headers, 7);
}

// The checker itself: a planted upward include in a scratch tree is reported with its line.
TEST(Layering, APlantedUpwardIncludeIsReported) {
  const fs::path root = fs::temp_directory_path() / ("attnjit-layering-" + std::to_string(::getpid()));
  fs::create_directories(root / "codegen");
  std::ofstream(root / "codegen" / "bad.cpp") << "#include <vector>\n#include \"codegen/ok.h\"\n#include \"tuner/tuner.h\"\n";
  const auto v = violations(root);
  fs::remove_all(root);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].file, "codegen/bad.cpp");
  EXPECT_EQ(v[0].line, 3);
  EXPECT_EQ(v[0].target, "tuner");
}

}  // namespace

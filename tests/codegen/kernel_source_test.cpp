#include "codegen/kernel_source.h"

#include <gtest/gtest.h>

namespace attnjit {
namespace {

TEST(KernelSource, HashCoversEveryField) {
  KernelSource a;
  a.text = "x";
  a.headers = {{"h.cuh", "int a;"}};
  a.entry = "k<1>";
  a.options = {"-O3"};
  a.arch = "sm_80";
  a.finalize();
  EXPECT_EQ(a.hash.size(), 32u);
  auto changed = [&](auto mutate) {
    KernelSource b = a;
    mutate(b);
    b.finalize();
    return b.hash != a.hash;
  };
  EXPECT_FALSE(changed([](KernelSource&) {}));
  EXPECT_TRUE(changed([](KernelSource& b) { b.text = "y"; }));
  EXPECT_TRUE(changed([](KernelSource& b) { b.headers[0].second = "int b;"; }));
  EXPECT_TRUE(changed([](KernelSource& b) { b.headers[0].first = "g.cuh"; }));
  EXPECT_TRUE(changed([](KernelSource& b) { b.entry = "k<2>"; }));
  EXPECT_TRUE(changed([](KernelSource& b) { b.options.push_back("-g"); }));
  EXPECT_TRUE(changed([](KernelSource& b) { b.arch = "sm_90a"; }));
  EXPECT_TRUE(changed([](KernelSource& b) { b.platform = Platform::Cpu; }));
  // Field boundaries matter: moving a character between fields changes the hash.
  EXPECT_TRUE(changed([](KernelSource& b) { b.text = "xk"; b.entry = "<1>"; }));
}

TEST(KernelSource, ContentHashIsStable) {
  EXPECT_EQ(content_hash("attnjit"), content_hash("attnjit"));
  EXPECT_NE(content_hash("attnjit"), content_hash("attnjiT"));
  EXPECT_EQ(content_hash("").size(), 32u);
}

}  // namespace
}  // namespace attnjit

// The tensor-map cache (codegen/prefill/sm90_tensor_map_cache.h): LRU hits, misses and eviction,
// and through build_arguments' encoder: a repeated launch encodes nothing, a changed stride
// re-encodes exactly the map it belongs to.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "codegen/prefill/sm90_tensor_map_cache.h"
#include "codegen/prefill/sm90_tensor_maps.h"

namespace attnjit {
namespace {

TensorMapKey key(uint64_t tag) {
  TensorMapKey k{};
  k[2] = tag;
  return k;
}
TensorMapBytes bytes(unsigned char v) {
  TensorMapBytes b;
  b.fill(v);
  return b;
}

TEST(TensorMapCache, HitMissAndLeastRecentlyUsedEviction) {
  TensorMapCache c(2);
  TensorMapBytes out{};
  EXPECT_FALSE(c.find(key(1), out));
  c.insert(key(1), bytes(1));
  c.insert(key(2), bytes(2));
  ASSERT_TRUE(c.find(key(1), out));  // 1 is now the most recent
  EXPECT_EQ(out[127], 1);
  c.insert(key(3), bytes(3));  // evicts 2, the least recently used
  EXPECT_EQ(c.size(), 2u);
  EXPECT_FALSE(c.find(key(2), out));
  ASSERT_TRUE(c.find(key(3), out));
  EXPECT_EQ(out[0], 3);
  ASSERT_TRUE(c.find(key(1), out));
  EXPECT_EQ(c.hits(), 3u);
  EXPECT_EQ(c.misses(), 2u);
  c.insert(key(1), bytes(9));  // a re-insert replaces, no growth
  ASSERT_TRUE(c.find(key(1), out));
  EXPECT_EQ(out[5], 9);
  EXPECT_EQ(c.size(), 2u);
  EXPECT_THROW(TensorMapCache(0), SpecError);
}

int g_encodes = 0;
int counting(void* map, int, uint32_t, void* addr, const uint64_t* dims, const uint64_t* strides,
             const uint32_t* box, const uint32_t*, int, int, int, int) {
  ++g_encodes;
  // A map that differs with its inputs, so a wrong hit would show.
  std::memset(map, 0, 128);
  std::memcpy(map, &addr, sizeof addr);
  std::memcpy(static_cast<unsigned char*>(map) + 8, dims, 32);
  std::memcpy(static_cast<unsigned char*>(map) + 40, strides, 24);
  std::memcpy(static_cast<unsigned char*>(map) + 64, box, 16);
  return 0;
}

TEST(TensorMapCache, BuildArgumentsEncodeOncePerDistinctTensor) {
  tensor_map_cache().reset(1024);
  set_tensor_map_encoder(&counting);
  std::vector<uint16_t> q(2 * 64 * 4 * 64), k(q.size()), v(q.size()), o(q.size());
  PrefillParams p{};
  p.q = q.data();
  p.k = k.data();
  p.v = v.data();
  p.o = o.data();
  p.batch = 2;
  p.heads_q = p.heads_kv = 4;
  p.seqlen_q = p.seqlen_k = 64;
  for (long long* s : {&p.q_row_stride, &p.k_row_stride, &p.v_row_stride, &p.o_row_stride}) *s = 4 * 64;
  for (long long* s : {&p.q_head_stride, &p.k_head_stride, &p.v_head_stride, &p.o_head_stride}) *s = 64;
  for (long long* s : {&p.q_batch_stride, &p.k_batch_stride, &p.v_batch_stride, &p.o_batch_stride})
    *s = 64 * 4 * 64;
  g_encodes = 0;
  const PrefillSm90HostParams first = make_prefill_sm90_params(p, DType::BF16, 64, 128, 64);
  EXPECT_EQ(g_encodes, 4);
  const PrefillSm90HostParams again = make_prefill_sm90_params(p, DType::BF16, 64, 128, 64);
  EXPECT_EQ(g_encodes, 4) << "a repeated launch must not encode";
  EXPECT_EQ(std::memcmp(first.tq, again.tq, 512), 0);
  // K in BHSD order: new strides, one new map (K's); the others hit.
  p.k_row_stride = 64;
  p.k_head_stride = 64 * 64;
  const PrefillSm90HostParams bhsd = make_prefill_sm90_params(p, DType::BF16, 64, 128, 64);
  EXPECT_EQ(g_encodes, 5);
  EXPECT_NE(std::memcmp(first.tk, bhsd.tk, 128), 0);
  EXPECT_EQ(std::memcmp(first.tv, bhsd.tv, 128), 0);
  // Another block_n changes the K and V boxes: two more.
  make_prefill_sm90_params(p, DType::BF16, 64, 128, 128);
  EXPECT_EQ(g_encodes, 7);
  // A different encoder never sees the other's maps.
  set_tensor_map_encoder(nullptr);
  EXPECT_THROW(make_prefill_sm90_params(p, DType::BF16, 64, 128, 64), SpecError);
  // Bounded: a capacity of 2 keeps only the last two maps, so a full launch re-encodes.
  tensor_map_cache().reset(2);
  set_tensor_map_encoder(&counting);
  g_encodes = 0;
  make_prefill_sm90_params(p, DType::BF16, 64, 128, 64);
  make_prefill_sm90_params(p, DType::BF16, 64, 128, 64);
  EXPECT_EQ(g_encodes, 8);
  EXPECT_EQ(tensor_map_cache().size(), 2u);
  set_tensor_map_encoder(nullptr);
  tensor_map_cache().reset(1024);
}

}  // namespace
}  // namespace attnjit

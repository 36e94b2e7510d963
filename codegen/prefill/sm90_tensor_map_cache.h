// A bounded cache of encoded tensor maps (CUtensorMap, 128 bytes), keyed by every input of the
// cuTensorMapEncodeTiled call that made them: the encoder, data type, base pointer, sizes, byte
// strides and box. Encoding costs microseconds per map and a launch needs four; a serving loop
// launches with the same tensors (or the same pool of buffers) again and again. A map depends on
// nothing but its key, so a hit is always correct, even for a pointer that was freed and reused.
// Least recently used entries go first once `capacity` is reached. Thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <unordered_map>

namespace attnjit {

// The encode call's inputs as words (pointers as integers): hashed and compared as a whole.
using TensorMapKey = std::array<uint64_t, 14>;
using TensorMapBytes = std::array<unsigned char, 128>;

class TensorMapCache {
 public:
  explicit TensorMapCache(size_t capacity);

  // The map for `key`, copied to `out`; false on a miss.
  bool find(const TensorMapKey& key, TensorMapBytes& out);
  void insert(const TensorMapKey& key, const TensorMapBytes& map);

  size_t size() const;
  size_t capacity() const;
  // Drops every entry and sets a new capacity (>= 1).
  void reset(size_t capacity);
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  struct Hash {
    size_t operator()(const TensorMapKey& k) const;
  };
  using Entry = std::pair<TensorMapKey, TensorMapBytes>;
  mutable std::mutex mu_;
  size_t capacity_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<TensorMapKey, std::list<Entry>::iterator, Hash> index_;
  uint64_t hits_ = 0, misses_ = 0;
};

// The process-wide cache make_prefill_sm90_params encodes through (1024 maps: 128 KB).
TensorMapCache& tensor_map_cache();

}  // namespace attnjit

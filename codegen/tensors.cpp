// The tensor views of include/attnjit/tensors.h. Vocabulary of the public headers, so it sits
// at the bottom of the library with the other public types (the tuner builds views too).
#include "attnjit/tensors.h"

namespace attnjit {

TensorView TensorView::bshd(const void* data, int64_t seqlen, int64_t heads, int64_t head_dim) {
  return {data, seqlen * heads * head_dim, heads * head_dim, head_dim};
}

TensorView TensorView::bhsd(const void* data, int64_t seqlen, int64_t heads, int64_t head_dim) {
  return {data, heads * seqlen * head_dim, head_dim, seqlen * head_dim};
}

LseView LseView::dense(float* data, int64_t heads, int64_t seqlen) {
  return {data, heads * seqlen, seqlen};
}

}  // namespace attnjit

/* The C interface between the nanobind module attnjit._attnjit and the torch ops library
 * attnjit/_torch_ops.so (python/torch_ops/). Plain C on purpose: the library is compiled against
 * torch's headers with torch's ABI flags, the module against attnjit's, and neither may see the
 * other's C++ types (std::string layouts, inline templates bound to the wrong copies). The module
 * fills one table (attnjit._attnjit._ops_table() gives its address) and the library calls
 * through it, so both use the same runtimes and kernel caches. Functions return
 * ATTNJIT_OPS_OK or the kind of error; the message is then in the error struct. */
#ifndef ATTNJIT_PYTHON_OPS_ABI_H
#define ATTNJIT_PYTHON_OPS_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bump on any change to the structs below. */
#define ATTNJIT_OPS_ABI_VERSION 1

enum { ATTNJIT_OPS_OK = 0, ATTNJIT_OPS_TYPE_ERROR = 1, ATTNJIT_OPS_VALUE_ERROR = 2, ATTNJIT_OPS_RUNTIME_ERROR = 3 };

typedef struct {
  char message[1024];
} attnjit_ops_error;

/* A tensor as DLPack describes it; shape and strides (in elements) point to ndim values. */
typedef struct {
  const void* data;
  const int64_t* shape;
  const int64_t* strides;
  int32_t ndim;
  int32_t device_type, device_id; /* DLPack: 1 cpu, 2 cuda */
  uint8_t dtype_code, dtype_bits; /* DLPack: 0 int, 1 uint, 2 float, 4 bfloat, 6 bool, 10/12 fp8 */
} attnjit_ops_tensor;

/* One prefill call (attnjit::attention); lse, alibi_slopes and sinks may be NULL. */
typedef struct {
  const attnjit_ops_tensor *q, *k, *v, *out, *lse, *alibi_slopes, *sinks;
  const char* layout;
  size_t layout_len;
  double scale, softcap;
  int64_t window_left, window_right;
  uint8_t causal, has_window_left, has_window_right;
  void* stream; /* CUstream (CUDA), NULL on the CPU */
} attnjit_ops_prefill;

/* One varlen and / or paged-KV prefill call (attnjit::attention_varlen, attnjit::attention_paged);
 * q, k, v and out are required, any other tensor may be NULL. */
typedef struct {
  const attnjit_ops_tensor *q, *k, *v, *out, *lse, *cu_seqlens_q, *cu_seqlens_k, *cache_seqlens, *block_table;
  double scale, softcap;
  int64_t window_left, window_right, max_seqlen_q, max_seqlen_k;
  uint8_t causal, has_window_left, has_window_right, has_max_seqlen_q, has_max_seqlen_k;
  void* stream;
} attnjit_ops_varlen;

/* One decode call (attnjit::decode); every tensor but q, k_cache, v_cache and out may be NULL. */
typedef struct {
  const attnjit_ops_tensor *q, *k_cache, *v_cache, *out, *lse, *cache_seqlens, *block_table, *k_scale, *v_scale,
      *alibi_slopes, *sinks;
  const char* kv_dtype; /* "" = from k_cache's dtype */
  size_t kv_dtype_len;
  double scale, softcap;
  int64_t window_left, window_right, max_seqlen_k;
  uint8_t causal, has_window_left, has_window_right, has_max_seqlen_k;
  void* stream;
} attnjit_ops_decode;

typedef struct {
  uint32_t abi_version; /* ATTNJIT_OPS_ABI_VERSION */
  uint32_t size;        /* sizeof(attnjit_ops_table) */
  /* attnjit.default_runtime of a DLPack device (takes the GIL: call once per device, keep it). */
  int (*runtime)(int32_t device_type, int32_t device_id, void** runtime, attnjit_ops_error* error);
  /* Checks and enqueues a prefill call on `runtime`; no Python, the GIL need not be held. */
  int (*prefill)(void* runtime, const attnjit_ops_prefill* call, attnjit_ops_error* error);
  /* Likewise for a varlen / paged prefill call and a decode call. */
  int (*prefill_varlen)(void* runtime, const attnjit_ops_varlen* call, attnjit_ops_error* error);
  int (*decode)(void* runtime, const attnjit_ops_decode* call, attnjit_ops_error* error);
} attnjit_ops_table;

#ifdef __cplusplus
}
#endif

#endif

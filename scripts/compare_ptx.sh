#!/bin/bash
# compare_ptx.sh BEFORE AFTER: the PTX files of two dump_decode_ptx.sh runs are identical except
# for NVRTC's _INTERNAL_ symbol prefix of namespace-scope constants, which changes from run to
# run (a hash and a number that differ between two compiles of the same source).
n=0; same=0
norm() { sed -E 's/_ZN[0-9]+_INTERNAL_[0-9]+_[0-9]+_attnjit_kernel_cu_[0-9a-f]+_[0-9]+7attnjit/_ZN_INTERNAL_7attnjit/' "$1"; }
for f in "$1"/*; do
  g="$2/$(basename "$f")"
  if diff -q <(norm "$f") <(norm "$g") >/dev/null; then same=$((same + 1)); else echo "DIFF $f"; n=$((n + 1)); fi
done
echo "identical=$same differ=$n with_entry=$(grep -l '\.entry' "$2"/* | wc -l)"

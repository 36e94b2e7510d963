#!/bin/bash
# cmp BEFORE AFTER: PTX files identical except NVRTC's per-run _INTERNAL_ symbol hash
n=0; same=0
for f in $1/*; do g=$2/$(basename $f)
  if diff -q <(sed -E 's/_ZN[0-9]+_INTERNAL_[0-9]+_[0-9]+_attnjit_kernel_cu_[0-9a-f]+_[0-9]+7attnjit/_ZN_INTERNAL_7attnjit/' $f) <(sed -E 's/_ZN[0-9]+_INTERNAL_[0-9]+_[0-9]+_attnjit_kernel_cu_[0-9a-f]+_[0-9]+7attnjit/_ZN_INTERNAL_7attnjit/' $g) >/dev/null; then same=$((same+1)); else echo DIFF $f; n=$((n+1)); fi
done; echo "identical=$same differ=$n entries=$(grep -l '\.entry' $2/* | wc -l)"

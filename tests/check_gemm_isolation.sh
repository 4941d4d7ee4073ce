#!/usr/bin/env bash
# The AVX-512 GEMM object must not define any shared (weak/COMDAT) symbol outside its renamed
# Eigen namespace: the linker could otherwise keep an AVX-512 instance for the portable path,
# and an AVX2-only CPU would crash with an illegal instruction (see kernels/gemm_avx512.cpp).
set -euo pipefail
obj="$1"
[ -f "$obj" ] || { echo "no object file $obj"; exit 1; }
syms=$(nm -C "$obj" | awk '$2 ~ /^[WVu]$/')
echo "$syms" | grep -q 'EigenAvx512::' || { echo "no EigenAvx512:: instances: renaming broke"; exit 1; }
leaks=$(echo "$syms" | grep -v 'EigenAvx512::' | grep -v 'DW.ref.__gxx_personality_v0' || true)
if [ -n "$leaks" ]; then
    echo "weak symbols outside EigenAvx512 in $obj:"
    echo "$leaks"
    exit 1
fi
echo "gemm_avx512: $(echo "$syms" | wc -l) weak symbols, all in EigenAvx512"

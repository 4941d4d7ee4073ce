// The one float32 <-> 16-bit float converter: IEEE binary16 ("f16", "fp16", "F16") and bfloat16
// ("bf16", "BF16"). Every reader, writer and kernel that converts a single value goes through
// these functions (the vectorised F16C widening in kernels/gemm_half.cpp is the only other path).
//
// Finite values and infinities convert one way everywhere: widening is exact (subnormals
// included); narrowing rounds to nearest, ties to even, keeps subnormals (no flush to zero),
// turns finite values beyond the target's range into infinity and values at or below half the
// smallest subnormal into a signed zero.
//
// NaN policy. A NaN always stays a NaN with its sign: a payload only in the dropped low bits
// never turns into an infinity. What happens to its payload and quiet bit is the one place where
// the formats' reference implementations differ, so the f16 functions take a NanPolicy:
//   KeepPayload (default; safetensors, checkpoints, kernels): narrowing keeps the top 9 payload
//       bits and sets the quiet bit (0x7FA00000 -> 0x7F00); widening keeps every bit, so a
//       signalling NaN stays signalling (0x7C01 -> 0x7F802000).
//   Ggml (GGUF tensors and ggml block scales, which must be llama-quantize's bytes): narrowing
//       makes every NaN the quiet NaN 0x7E00 with its sign, as ggml_fp32_to_fp16 does; widening
//       keeps the payload and sets the quiet bit (0x7C01 -> 0x7FC02000), as ggml_fp16_to_fp32.
// The two cannot be one: tests/model/test_safetensors.cpp pins the first, and
// tests/model/test_ggml_quants.cpp compares every half (and NaN floats) with libggml's.
// bfloat16 needs no policy, because ggml and the safetensors path agree: narrowing keeps the top
// 7 payload bits and sets the quiet bit (0x7F800001 -> 0x7FC0), widening is exact.
#pragma once

#include <bit>
#include <cstdint>

namespace slimtune {

enum class NanPolicy { KeepPayload, Ggml };

constexpr float f16_to_f32(uint16_t h, NanPolicy nan = NanPolicy::KeepPayload) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1Fu;
    const uint32_t mantissa = h & 0x3FFu;
    if (exponent == 0x1F) { // infinity, or a NaN whose payload moves up unchanged
        const uint32_t quiet = mantissa != 0 && nan == NanPolicy::Ggml ? 0x400000u : 0u;
        return std::bit_cast<float>(sign | 0x7F800000u | quiet | (mantissa << 13));
    }
    if (exponent == 0) { // zero or subnormal: mantissa * 2^-24, exact (a normal float)
        const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
        return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(magnitude));
    }
    return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

constexpr uint16_t f32_to_f16(float f, NanPolicy nan = NanPolicy::KeepPayload) {
    const uint32_t w = std::bit_cast<uint32_t>(f);
    const auto sign = static_cast<uint16_t>((w >> 16) & 0x8000u);
    const uint32_t a = w & 0x7FFFFFFFu;
    if (a > 0x7F800000u) { // NaN
        const uint32_t payload = nan == NanPolicy::Ggml ? 0u : (a >> 13) & 0x1FFu;
        return static_cast<uint16_t>(sign | 0x7E00u | payload);
    }
    if (a >= 0x477FF000u) // 65520 (65504 + half an ulp, a tie to the even 2^16) and up: infinity
        return static_cast<uint16_t>(sign | 0x7C00u);
    if (a >= 0x38800000u) { // a normal half: rebias the exponent, round 13 mantissa bits away
        const uint32_t rebiased = a - (112u << 23);
        const uint32_t rounded = rebiased + 0x0FFFu + ((rebiased >> 13) & 1u);
        return static_cast<uint16_t>(sign | (rounded >> 13)); // a carry bumps the exponent
    }
    if (a <= 0x33000000u) // at most 2^-25, half the smallest subnormal: ties to even zero
        return sign;
    // A half subnormal: the value in units of 2^-24 is mantissa * 2^(exponent - 126).
    const uint32_t exponent = a >> 23;
    const uint32_t mantissa = (a & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126u - exponent; // 14..24
    uint32_t q = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (q & 1u)))
        ++q; // may become 0x400, the smallest normal, which is its correct encoding
    return static_cast<uint16_t>(sign | q);
}

constexpr float bf16_to_f32(uint16_t b) {
    return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

constexpr uint16_t f32_to_bf16(float f) {
    const uint32_t w = std::bit_cast<uint32_t>(f);
    if ((w & 0x7FFFFFFFu) > 0x7F800000u) // NaN: rounding could carry into infinity; set quiet
        return static_cast<uint16_t>((w >> 16) | 0x40u);
    // Round to nearest even on the dropped 16 bits; past the largest bf16 a carry gives infinity.
    return static_cast<uint16_t>((w + 0x7FFFu + ((w >> 16) & 1u)) >> 16);
}

} // namespace slimtune

// Counter-based random numbers: value i of stream `seed` is a pure function of (seed, i), so a
// parallel loop draws the same numbers whatever the thread count, and the whole generator state
// is two integers (easy to checkpoint and resume bit-exactly). The mixing function is
// SplitMix64's finalizer; tests/reference/gen_ops.py re-implements it to produce dropout masks.
#pragma once

#include <cstdint>

namespace slimtune {

// SplitMix64 finalizer applied to seed * golden-ratio + counter.
inline uint64_t rng_mix(uint64_t seed, uint64_t counter) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + counter;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Uniform float in [0, 1) with 24 random bits: exactly representable, identical everywhere.
inline float rng_uniform(uint64_t seed, uint64_t counter) {
    return static_cast<float>(rng_mix(seed, counter) >> 40) * (1.0f / 16777216.0f);
}

// A stream: seed plus the position of the next draw. Ops that need n numbers take them as a
// block [offset, offset + n) and advance the offset by n.
struct Rng {
    uint64_t seed = 0;
    uint64_t offset = 0;

    explicit Rng(uint64_t s = 0, uint64_t off = 0) : seed(s), offset(off) {}
    // Reserves n draws and returns the first counter of the block.
    uint64_t take(uint64_t n) {
        uint64_t first = offset;
        offset += n;
        return first;
    }
    uint64_t next_u64() { return rng_mix(seed, take(1)); }
    float next_uniform() { return rng_uniform(seed, take(1)); }
    // Standard normal via Box-Muller on two draws (used for test inputs and weight init).
    float next_normal();
};

} // namespace slimtune

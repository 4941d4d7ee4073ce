// BF16 x BF16 -> FP32 products against frozen bf16 weights, on oneDNN's matmul: the BF16 dot
// product instructions of AVX-512 BF16 (vdpbf16ps) or the AMX tiles, whichever the CPU has.
// oneDNN is what PyTorch's own CPU autocast runs on; hand-written AMX tile code would have to
// match its blocking and JIT to win, so the library is used rather than re-written.
//
// The float operand (activations, or dY for the input gradient) is rounded to bf16 (nearest,
// ties to even, model/half.h) into a per-thread scratch buffer: the only place the BF16 path
// rounds anything that is not a frozen weight. Accumulation is FP32 inside oneDNN.
#include "model/half.h"
#include "model/kernels/gemm.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <vector>

namespace slimtune::kernels {

namespace {

bool env_is(const char* name, const char* value) {
    const char* env = std::getenv(name);
    return env && std::strcmp(env, value) == 0;
}

// SLIMTUNE_NO_AMX=1 caps oneDNN at AVX-512 BF16, as on a CPU without AMX; it must be set before
// oneDNN's first primitive, hence here, once.
bool cpu_has_bf16_dot() {
    static const bool has = [] {
        if (env_is("SLIMTUNE_NO_AMX", "1"))
            dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx512_core_bf16);
        const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
        return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
    }();
    return has;
}

// SLIMTUNE_GEMM=portable is "a CPU with AVX2 only": no AVX-512 float GEMM, no BF16 dot either.
std::atomic<bool> g_bf16_on{
    [] { return cpu_has_bf16_dot() && !env_is("SLIMTUNE_GEMM", "portable"); }()};

// One matmul: (M, K) x (K, N) into dst (leading dimension ldc), the weight read as W (N, K)
// row-major seen transposed (the forward) or as W itself (the input gradient), and dst's old
// values scaled by beta and added (0: overwritten).
using ShapeKey = std::tuple<int64_t, int64_t, int64_t, int64_t, bool, float>;

struct Engine {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    std::mutex mutex;
    std::map<ShapeKey, dnnl::matmul> primitives; // created once per shape (JIT takes ms)
};

Engine& engine() {
    static Engine e;
    return e;
}

// A bounded cache: generation calls with a new M every token would otherwise grow it forever.
constexpr size_t kMaxPrimitives = 512;

// The plain layouts of one matmul's operands, for its primitive and to wrap the caller's pointers.
struct Operands {
    dnnl::memory::desc src, weights, dst;
};

Operands operands_of(const ShapeKey& key) {
    const auto [M, N, K, ldc, weight_transposed, beta] = key;
    using dt = dnnl::memory::data_type;
    // weights (K, N): W (N, K) row-major seen transposed has strides (1, K); W (K, N) itself (N, 1)
    return {
        {{M, K}, dt::bf16, {K, 1}},
        {{K, N}, dt::bf16, weight_transposed ? dnnl::memory::dims{1, K} : dnnl::memory::dims{N, 1}},
        {{M, N}, dt::f32, {ldc, 1}}};
}

dnnl::matmul primitive_for(const ShapeKey& key) {
    Engine& e = engine();
    const std::lock_guard lock(e.mutex);
    if (auto it = e.primitives.find(key); it != e.primitives.end())
        return it->second;
    const float beta = std::get<5>(key);
    const auto [src, weights, dst] = operands_of(key);
    dnnl::primitive_attr attr;
    if (beta != 0.0f) {
        dnnl::post_ops ops;
        ops.append_sum(beta);
        attr.set_post_ops(ops);
    }
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights, dst), attr, e.engine);
    if (e.primitives.size() >= kMaxPrimitives)
        e.primitives.clear();
    return e.primitives.emplace(key, dnnl::matmul(pd)).first->second;
}

// Rounds rows (M, K) of a float matrix with leading dimension ld into contiguous bf16.
const uint16_t* round_to_bf16(const float* a, int64_t M, int64_t K, int64_t ld) {
    thread_local std::vector<uint16_t> scratch;
    scratch.resize(static_cast<size_t>(M * K));
    uint16_t* out = scratch.data();
#pragma omp parallel for schedule(static) if (M * K > (1 << 15))
    for (int64_t r = 0; r < M; ++r)
        for (int64_t c = 0; c < K; ++c)
            out[r * K + c] = f32_to_bf16(a[r * ld + c]);
    return out;
}

void run(const ShapeKey& key, const uint16_t* src, const uint16_t* weight, float* dst) {
    const dnnl::matmul mm = primitive_for(key);
    dnnl::engine& eng = engine().engine;
    const Operands op = operands_of(key); // wraps the caller's pointers, no copy
    dnnl::memory s(op.src, eng, const_cast<uint16_t*>(src));
    dnnl::memory w(op.weights, eng, const_cast<uint16_t*>(weight));
    dnnl::memory d(op.dst, eng, dst);
    thread_local dnnl::stream stream(eng);
    mm.execute(stream, {{DNNL_ARG_SRC, s}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, d}});
    stream.wait();
}

} // namespace

bool bf16_gemm_available() {
    return g_bf16_on.load(std::memory_order_relaxed);
}

void bf16_gemm_force_off(bool off) {
    g_bf16_on = cpu_has_bf16_dot() && !off;
}

const char* bf16_gemm_isa() {
    if (!cpu_has_bf16_dot())
        return "none";
    return dnnl::get_effective_cpu_isa() == dnnl::cpu_isa::avx512_core_amx ? "amx" : "avx512-bf16";
}

void bf16_gemm_a_wt(int64_t M,
                    int64_t N,
                    int64_t K,
                    const float* A,
                    int64_t lda,
                    const uint16_t* W,
                    float beta,
                    float* C,
                    int64_t ldc) {
    if (M == 0 || N == 0)
        return;
    if (K == 0) { // an empty sum: C = beta C
        for (int64_t r = 0; r < M; ++r)
            for (int64_t c = 0; c < N; ++c)
                C[r * ldc + c] = beta == 0.0f ? 0.0f : beta * C[r * ldc + c];
        return;
    }
    run({M, N, K, ldc, true, beta}, round_to_bf16(A, M, K, lda), W, C);
}

void bf16_gemm_dy_w(int64_t M,
                    int64_t N,
                    int64_t K,
                    const float* dY,
                    int64_t ldy,
                    const uint16_t* W,
                    float* dX,
                    int64_t ldx) {
    if (M == 0 || K == 0 || N == 0)
        return;
    // dX (M, K) += dY (M, N) W (N, K): the matmul's K is the weight's N.
    run({M, K, N, ldx, false, 1.0f}, round_to_bf16(dY, M, N, ldy), W, dX);
}

} // namespace slimtune::kernels

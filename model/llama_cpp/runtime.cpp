#include "model/llama_cpp/runtime.h"

#include "common/rng.h"
#include "model/llama_cpp/library.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>

namespace slimtune::llama_cpp {

namespace {

// --- The C API of the package's release (llama.cpp 0.5.0-dev, ggml 0.25.1, commit 0ad4a86) ---
//
// The by-value structs are where a wrong declaration corrupts memory silently. The two large
// ones, llama_model_params (80 bytes) and llama_context_params (160), are held as 256-byte
// blobs, filled by the library's *_default_params() and changed only at verified offsets.
// That is ABI-safe on x86-64 SysV: a struct over 16 bytes is passed and returned in memory
// (the caller gives the return buffer in %rdi; an argument is copied to the stack), so the
// callee reads or writes its own sizeof() bytes at the start of the blob; and both calls that
// take one (llama_model_load_from_file, llama_init_from_model) take it as their only stack
// argument, so a longer blob shifts nothing. A newer library with a larger struct cannot write
// past the blob either, and check_defaults() then refuses it before anything is set.
//
// The layouts are include/llama.h's at that release (as public bindings pinned to it
// transcribe it; llama_model_params has load_mode and lazy_mode where older releases had
// use_mmap/use_mlock, llama_context_params has n_rs_seq, n_outputs_max and
// n_outputs_max_per_seq before n_threads), confirmed on this binary by disassembling
// llama_model_default_params, llama_context_default_params and llama_batch_init: the offsets
// each store writes, and the default values there (the tables below).
struct alignas(8) ParamsBlob {
    unsigned char bytes[256];
};
static_assert(sizeof(ParamsBlob) >= 80 && sizeof(ParamsBlob) >= 160);

// An int32 (or enum) field of a params struct, with the release's default value.
struct Field {
    const char* name;
    size_t offset;
    int32_t default_value;
};

namespace model_field {
constexpr Field n_gpu_layers{"n_gpu_layers", 16, -1}, split_mode{"split_mode", 20, 1},
    load_mode{"load_mode", 24, -1}, // AUTO: mmap on the CPU
    main_gpu{"main_gpu", 32, 0};
constexpr Field checked[] = {n_gpu_layers, split_mode, load_mode, main_gpu};
} // namespace model_field

// n_outputs_max_per_seq defaults to ONE output per sequence in this release; logits() needs
// every position. As an oracle for float32 models the context keeps its KV cache in F32 (the
// F16 default rounds keys and values to 11 bits) and takes the plain attention path (AUTO
// turns on flash attention, whose CPU kernel rounds Q and the mask to F16).
namespace context_field {
constexpr Field n_ctx{"n_ctx", 0, 512}, n_batch{"n_batch", 4, 2048}, n_ubatch{"n_ubatch", 8, 512},
    n_seq_max{"n_seq_max", 12, 1}, n_outputs_max{"n_outputs_max", 20, 0}, // 0: n_batch
    n_outputs_max_per_seq{"n_outputs_max_per_seq", 24, 1},                // 0: n_outputs_max
    n_threads{"n_threads", 28, 4}, n_threads_batch{"n_threads_batch", 32, 4},
    flash_attn_type{"flash_attn_type", 52, -1},         // AUTO
    type_k{"type_k", 104, 1}, type_v{"type_v", 108, 1}; // GGML_TYPE_F16
constexpr Field checked[] = {
    n_ctx,     n_batch,         n_ubatch,        n_seq_max, n_outputs_max, n_outputs_max_per_seq,
    n_threads, n_threads_batch, flash_attn_type, type_k,    type_v};
} // namespace context_field

int32_t get(const ParamsBlob& p, const Field& f) {
    int32_t v;
    std::memcpy(&v, p.bytes + f.offset, sizeof v);
    return v;
}
void set(ParamsBlob& p, const Field& f, int64_t v) {
    const auto v32 = static_cast<int32_t>(v); // an int32_t or a uint32_t field
    std::memcpy(p.bytes + f.offset, &v32, sizeof v32);
}

struct LlamaBatch {
    int32_t n_tokens;
    int32_t* token;
    float* embd;
    int32_t* pos;
    int32_t* n_seq_id;
    int32_t** seq_id;
    int8_t* logits;
};
static_assert(sizeof(LlamaBatch) == 56 && offsetof(LlamaBatch, token) == 8 &&
              offsetof(LlamaBatch, pos) == 24 && offsetof(LlamaBatch, seq_id) == 40 &&
              offsetof(LlamaBatch, logits) == 48);

// enum ggml_log_level
constexpr int kLogWarn = 3, kLogError = 4, kLogCont = 5;
// enum ggml_type GGML_TYPE_F32, enum llama_flash_attn_type LLAMA_FLASH_ATTN_TYPE_DISABLED
constexpr int32_t kTypeF32 = 0, kFlashAttnDisabled = 0;
using LogCallback = void (*)(int level, const char* text, void* user_data);

template <class F> F llama(const char* symbol) {
    return fn<F>("llama", symbol);
}
template <class F> F ggml(const char* symbol) {
    return fn<F>("ggml", symbol);
}
template <class F> F ggml_base(const char* symbol) {
    return fn<F>("ggml-base", symbol);
}

// Function pointers into libllama, libggml and libggml-base, with llama.h's and ggml.h's
// prototypes; model, context, vocab, memory and adapter handles are void*, enums are int.
struct Api {
    using Log = LogCallback;
    using Blob = ParamsBlob;
    using C = const void*;
    void (*log_set)(Log, void*) = llama<decltype(log_set)>("llama_log_set");
    void (*ggml_log_set)(Log, void*) = ggml_base<decltype(ggml_log_set)>("ggml_log_set");
    void (*load_backends)(const char*) =
        ggml<decltype(load_backends)>("ggml_backend_load_all_from_path");
    size_t (*dev_count)() = ggml<decltype(dev_count)>("ggml_backend_dev_count");
    const char* (*type_name)(int) = ggml_base<decltype(type_name)>("ggml_type_name");
    const char* (*fa_name)(int) = llama<decltype(fa_name)>("llama_flash_attn_type_name");
    void (*backend_init)() = llama<decltype(backend_init)>("llama_backend_init");
    Blob (*model_defaults)() = llama<decltype(model_defaults)>("llama_model_default_params");
    Blob (*context_defaults)() = llama<decltype(context_defaults)>("llama_context_default_params");
    using ModelLoad = void* (*)(const char* path, Blob params);
    ModelLoad model_load = llama<ModelLoad>("llama_model_load_from_file");
    void (*model_free)(void*) = llama<decltype(model_free)>("llama_model_free");
    using InitFromModel = void* (*)(void* model, Blob params);
    InitFromModel init_from_model = llama<InitFromModel>("llama_init_from_model");
    void (*free)(void*) = llama<decltype(free)>("llama_free");
    C (*model_get_vocab)(C) = llama<decltype(model_get_vocab)>("llama_model_get_vocab");
    int32_t (*vocab_n_tokens)(C) = llama<decltype(vocab_n_tokens)>("llama_vocab_n_tokens");
    using Tokenize = int32_t (*)(C vocab,
                                 const char* text,
                                 int32_t text_len,
                                 int32_t* tokens,
                                 int32_t n_tokens_max,
                                 bool add_special,
                                 bool parse_special);
    Tokenize tokenize = llama<Tokenize>("llama_tokenize");
    uint32_t (*n_ctx)(C) = llama<decltype(n_ctx)>("llama_n_ctx");
    uint32_t (*n_batch)(C) = llama<decltype(n_batch)>("llama_n_batch");
    uint32_t (*n_ubatch)(C) = llama<decltype(n_ubatch)>("llama_n_ubatch");
    uint32_t (*n_seq_max)(C) = llama<decltype(n_seq_max)>("llama_n_seq_max");
    int32_t (*n_threads)(void*) = llama<decltype(n_threads)>("llama_n_threads");
    int32_t (*n_threads_batch)(void*) = llama<decltype(n_threads_batch)>("llama_n_threads_batch");
    using BatchInit = LlamaBatch (*)(int32_t n_tokens, int32_t embd, int32_t n_seq_max);
    BatchInit batch_init = llama<BatchInit>("llama_batch_init");
    void (*batch_free)(LlamaBatch) = llama<decltype(batch_free)>("llama_batch_free");
    int32_t (*decode)(void*, LlamaBatch) = llama<decltype(decode)>("llama_decode");
    float* (*logits_ith)(void*, int32_t) = llama<decltype(logits_ith)>("llama_get_logits_ith");
    void* (*get_memory)(C) = llama<decltype(get_memory)>("llama_get_memory");
    void (*memory_clear)(void*, bool) = llama<decltype(memory_clear)>("llama_memory_clear");
    using MetaValStr = int32_t (*)(C model, const char* key, char* buf, size_t buf_size);
    MetaValStr meta_val_str = llama<MetaValStr>("llama_model_meta_val_str");
    void* (*lora_init)(void*, const char*) = llama<decltype(lora_init)>("llama_adapter_lora_init");
    void (*lora_free)(void*) = llama<decltype(lora_free)>("llama_adapter_lora_free");
    using SetLoras = int32_t (*)(void* ctx, void** adapters, size_t n_adapters, float* scales);
    SetLoras set_loras = llama<SetLoras>("llama_set_adapters_lora");
};

// llama.cpp's warnings and errors since the last take_log(), to append to an exception.
std::mutex log_mutex;
std::string log_text;
bool log_keeping = false; // whether a CONT line continues a kept message

void log_callback(int level, const char* text, void*) {
    static const bool show_all = std::getenv("SLIMTUNE_LLAMA_LOG") != nullptr;
    if (show_all)
        std::fputs(text, stderr);
    const std::lock_guard<std::mutex> lock(log_mutex);
    if (level != kLogCont)
        log_keeping = level == kLogWarn || level == kLogError;
    if (log_keeping && log_text.size() < 8000)
        log_text += text;
}

std::string take_log() {
    const std::lock_guard<std::mutex> lock(log_mutex);
    std::string s;
    std::swap(s, log_text);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

[[noreturn]] void fail(const std::string& what) {
    const std::string said = take_log();
    throw std::runtime_error("llama.cpp: " + what +
                             (said.empty() ? "" : "; llama.cpp said: " + said));
}

// Refuses a library whose *_default_params() does not hold this release's defaults where we
// read and write: its struct layout is not the one declared here.
template <size_t N>
void check_defaults(const ParamsBlob& p, const Field (&fields)[N], const char* function) {
    for (const Field& f : fields)
        if (get(p, f) != f.default_value)
            fail(std::string(function) + "() holds " + std::to_string(get(p, f)) + " at offset " +
                 std::to_string(f.offset) + " where this release has " + f.name + " = " +
                 std::to_string(f.default_value) + ": the struct layout changed");
}

// The API, bound once, with a CPU backend loaded.
const Api& api() {
    static const Api a = [] {
        const Api x;
        if (std::string(x.type_name(kTypeF32)) != "f32" ||
            std::string(x.fa_name(kFlashAttnDisabled)) != "disabled")
            fail("the enum values of ggml_type or llama_flash_attn_type changed");
        x.log_set(log_callback, nullptr);
        x.ggml_log_set(log_callback, nullptr);
        // The npm package's builds load their CPU backend (the best libggml-cpu-*.so for this
        // machine) from their directory; a build installed system-wide usually has it linked in.
        const std::string dir = directory();
        if (!dir.empty())
            x.load_backends(dir.c_str());
        else if (x.dev_count() == 0)
            ggml<void (*)()>("ggml_backend_load_all")();
        if (x.dev_count() == 0)
            fail("no ggml backend could be loaded" + (dir.empty() ? "" : " from " + dir) +
                 " (no libggml-cpu-*.so this CPU can run?)");
        x.backend_init();
        return x;
    }();
    return a;
}

// Frees a batch from llama_batch_init at scope exit.
struct BatchGuard {
    LlamaBatch batch;
    ~BatchGuard() { api().batch_free(batch); }
};

} // namespace

void check_api() {
    const Api& a = api();
    take_log();
    check_defaults(a.model_defaults(), model_field::checked, "llama_model_default_params");
    check_defaults(a.context_defaults(), context_field::checked, "llama_context_default_params");
}

struct Model::State {
    void* model = nullptr;
    void* ctx = nullptr;
    const void* vocab = nullptr;
    std::vector<void*> adapters;
    std::vector<float> scales;
    int32_t n_past = 0; // positions in the KV cache (extend())

    ~State() {
        const Api& a = api();
        if (ctx)
            a.free(ctx);
        for (void* adapter : adapters)
            a.lora_free(adapter);
        if (model)
            a.model_free(model);
    }
};

Model::Model(std::unique_ptr<State> state, int32_t n_vocab, int n_ctx)
    : state_(std::move(state)), n_vocab_(n_vocab), n_ctx_(n_ctx) {}
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

Model Model::load(const std::string& gguf_path, int n_ctx, int threads) {
    const Api& a = api();
    take_log();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(gguf_path, ec))
        fail(gguf_path + ": no such file");
    if (n_ctx < 2)
        fail("n_ctx must be at least 2, got " + std::to_string(n_ctx));
    if (threads < 1 || threads > 1024)
        fail("threads must be 1 to 1024, got " + std::to_string(threads));
    auto s = std::make_unique<State>();

    ParamsBlob mp = a.model_defaults();
    check_defaults(mp, model_field::checked, "llama_model_default_params");
    set(mp, model_field::n_gpu_layers, 0); // CPU only; load_mode stays AUTO (mmap)
    s->model = a.model_load(gguf_path.c_str(), mp);
    if (!s->model)
        fail(gguf_path + ": llama_model_load_from_file failed");
    s->vocab = a.model_get_vocab(s->model);
    const int32_t n_vocab = a.vocab_n_tokens(s->vocab);

    namespace f = context_field;
    const auto ctx_tokens = static_cast<uint32_t>(n_ctx);
    const uint32_t ubatch = std::min<uint32_t>(ctx_tokens, 512);
    ParamsBlob cp = a.context_defaults();
    check_defaults(cp, f::checked, "llama_context_default_params");
    set(cp, f::n_ctx, ctx_tokens);
    set(cp, f::n_batch, ctx_tokens); // a whole sequence in one llama_decode
    set(cp, f::n_ubatch, ubatch);
    set(cp, f::n_seq_max, 1);
    set(cp, f::n_outputs_max, 0);
    set(cp, f::n_outputs_max_per_seq, 0);
    set(cp, f::n_threads, threads);
    set(cp, f::n_threads_batch, threads);
    set(cp, f::flash_attn_type, kFlashAttnDisabled);
    set(cp, f::type_k, kTypeF32);
    set(cp, f::type_v, kTypeF32);
    s->ctx = a.init_from_model(s->model, cp);
    if (!s->ctx)
        fail(gguf_path + ": llama_init_from_model failed");
    // The context reports what it was given: a second check of the offsets written above
    // (llama.cpp may round n_ctx up, never down).
    if (a.n_ctx(s->ctx) < ctx_tokens || a.n_batch(s->ctx) != ctx_tokens ||
        a.n_ubatch(s->ctx) != ubatch || a.n_seq_max(s->ctx) != 1 ||
        a.n_threads(s->ctx) != threads || a.n_threads_batch(s->ctx) != threads)
        fail("the context did not take the parameters set (n_ctx " +
             std::to_string(a.n_ctx(s->ctx)) + ", n_batch " + std::to_string(a.n_batch(s->ctx)) +
             ", n_threads " + std::to_string(a.n_threads(s->ctx)) +
             "): llama_context_params layout mismatch");
    return Model(std::move(s), n_vocab, n_ctx);
}

std::vector<int32_t>
Model::tokenize(const std::string& text, bool add_special, bool parse_special) const {
    const Api& a = api();
    take_log();
    if (text.size() > static_cast<size_t>(INT32_MAX / 2))
        fail("text too long to tokenize");
    const auto len = static_cast<int32_t>(text.size());
    std::vector<int32_t> ids(text.size() + 8);
    int32_t n = a.tokenize(state_->vocab, text.data(), len, ids.data(),
                           static_cast<int32_t>(ids.size()), add_special, parse_special);
    if (n < 0 && n != INT32_MIN) { // -n: the number of ids needed
        ids.resize(static_cast<size_t>(-n));
        n = a.tokenize(state_->vocab, text.data(), len, ids.data(), -n, add_special, parse_special);
    }
    if (n < 0)
        fail("llama_tokenize failed (" + std::to_string(n) + ")");
    ids.resize(static_cast<size_t>(n));
    return ids;
}

// Decodes `ids` at positions n_past, n_past + 1, ... after what the KV cache holds; returns the
// logits of every one (all_rows) or of the last.
std::vector<float> Model::decode(std::span<const int32_t> ids, bool all_rows) {
    const Api& a = api();
    take_log();
    State& s = *state_;
    if (ids.empty())
        return {};
    if (ids.size() > static_cast<size_t>(n_ctx_ - s.n_past))
        fail(std::to_string(ids.size()) + " ids after " + std::to_string(s.n_past) +
             " do not fit the context of " + std::to_string(n_ctx_));
    for (const int32_t id : ids)
        if (id < 0 || id >= n_vocab_)
            fail("token id " + std::to_string(id) + " outside the vocabulary of " +
                 std::to_string(n_vocab_));

    const auto n = static_cast<int32_t>(ids.size());
    BatchGuard guard{a.batch_init(n, 0, 1)};
    LlamaBatch& b = guard.batch;
    for (int32_t i = 0; i < n; ++i) {
        b.token[i] = ids[static_cast<size_t>(i)];
        b.pos[i] = s.n_past + i;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = all_rows || i == n - 1 ? 1 : 0;
    }
    b.n_tokens = n;
    if (const int32_t rc = a.decode(s.ctx, b); rc != 0)
        fail("llama_decode of " + std::to_string(n) + " ids returned " + std::to_string(rc));
    s.n_past += n;

    const auto vocab = static_cast<size_t>(n_vocab_);
    const int32_t first = all_rows ? 0 : n - 1;
    std::vector<float> out(static_cast<size_t>(n - first) * vocab);
    for (int32_t i = first; i < n; ++i) {
        const float* row = a.logits_ith(s.ctx, i);
        if (!row)
            fail("no logits for position " + std::to_string(s.n_past - n + i));
        std::copy(row, row + vocab,
                  out.begin() +
                      static_cast<std::ptrdiff_t>(static_cast<size_t>(i - first) * vocab));
    }
    return out;
}

std::vector<float> Model::logits(const std::vector<int32_t>& ids) {
    reset();
    return decode(ids, true);
}

std::vector<float> Model::extend(std::span<const int32_t> ids) {
    return decode(ids, false);
}

void Model::reset() {
    api().memory_clear(api().get_memory(state_->ctx), true);
    state_->n_past = 0;
}

int Model::n_past() const {
    return state_->n_past;
}

void Model::apply_lora(const std::string& adapter_gguf, float scale) {
    const Api& a = api();
    take_log();
    State& s = *state_;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(adapter_gguf, ec))
        fail(adapter_gguf + ": no such file");
    void* adapter = a.lora_init(s.model, adapter_gguf.c_str());
    if (!adapter)
        fail(adapter_gguf + ": llama_adapter_lora_init failed");
    s.adapters.push_back(adapter);
    s.scales.push_back(scale);
    // The call sets the context's whole list of adapters, so it gets all of them each time.
    if (const int32_t rc =
            a.set_loras(s.ctx, s.adapters.data(), s.adapters.size(), s.scales.data());
        rc != 0)
        fail(adapter_gguf + ": llama_set_adapters_lora returned " + std::to_string(rc));
}

std::string Model::meta(const std::string& key) const {
    const Api& a = api();
    // Like snprintf: the value's full length, or -1 when the key is absent.
    std::vector<char> buf(256);
    int32_t n = a.meta_val_str(state_->model, key.c_str(), buf.data(), buf.size());
    if (n >= 0 && static_cast<size_t>(n) >= buf.size()) {
        buf.resize(static_cast<size_t>(n) + 1);
        n = a.meta_val_str(state_->model, key.c_str(), buf.data(), buf.size());
    }
    return n < 0 ? std::string() : std::string(buf.data(), static_cast<size_t>(n));
}

std::vector<int32_t>
generate(Model& m, std::span<const int32_t> prompt, const SamplingOptions& opts) {
    check_sampling_options(opts);
    if (prompt.empty())
        throw std::runtime_error("llama.cpp: generation needs a prompt of at least one id");
    Rng rng(opts.seed);
    std::vector<int32_t> seq(prompt.begin(), prompt.end()), out;
    m.reset();
    std::vector<float> row = m.extend(prompt);
    for (int64_t i = 0; i < opts.max_new_tokens; ++i) {
        const int32_t next = sample_next(row, seq, opts, rng);
        out.push_back(next);
        seq.push_back(next);
        const bool stop =
            std::find(opts.stop_ids.begin(), opts.stop_ids.end(), next) != opts.stop_ids.end();
        if (stop || i + 1 == opts.max_new_tokens || m.n_past() == m.n_ctx())
            break;
        row = m.extend(std::span<const int32_t>(&next, 1));
    }
    return out;
}

double mean_nll(Model& m, const std::vector<int32_t>& ids) {
    if (ids.size() < 2)
        throw std::runtime_error("llama.cpp: a mean NLL needs at least 2 ids, got " +
                                 std::to_string(ids.size()));
    const auto window = static_cast<size_t>(m.n_ctx());
    const auto vocab = static_cast<size_t>(m.n_vocab());
    double total = 0;
    // Window [start, end) predicts ids[start + 1 .. end - 1]; the next starts at end - 1.
    for (size_t start = 0; start + 1 < ids.size(); start += window - 1) {
        const size_t end = std::min(ids.size(), start + window);
        const std::vector<int32_t> part(ids.begin() + static_cast<std::ptrdiff_t>(start),
                                        ids.begin() + static_cast<std::ptrdiff_t>(end));
        const std::vector<float> rows = m.logits(part);
        for (size_t i = 0; i + 1 < part.size(); ++i) {
            const float* row = rows.data() + i * vocab;
            const double top = *std::max_element(row, row + vocab);
            double sum = 0;
            for (size_t v = 0; v < vocab; ++v)
                sum += std::exp(static_cast<double>(row[v]) - top);
            total += top + std::log(sum) - static_cast<double>(row[part[i + 1]]);
        }
    }
    return total / static_cast<double>(ids.size() - 1);
}

} // namespace slimtune::llama_cpp

// The peer of benches/llm.rs: the smallest generation loop on llama.h, linked to the very
// static libraries llama-cpp-sys-2 built for fieldkit. Whatever fieldkit is slower by is what
// the Rust binding, the worker process and its pipe cost.
//
// usage: llm_loop MODEL THREADS N_PROMPT N_GEN [nosample]
// It tokenizes a fixed text, repeats it to N_PROMPT tokens, decodes them in one batch (prompt
// processing), then picks N_GEN tokens greedily one at a time (generation). It prints the
// prompt's token ids on the first line (so fieldkit is given the very same tokens), then
// `pp_ms tg_ms ttft_ms`. With `nosample`, generation feeds back the same token without picking,
// as llama-bench's tg test does: the difference is what picking costs.
//
// Picking is fieldkit's own at temperature 0 (src/engine/llm.rs `Sampler::pick`): the first
// largest of the raw logits, not llama.cpp's sampler chain, which copies every logit into a
// candidate array first. Flash attention is pinned on, as fieldkit's worker and llama-bench
// (`-fa on`) are given.

#include "llama.h"
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

static double ms_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

static void quiet(ggml_log_level, const char *, void *) {}

int main(int argc, char ** argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: %s MODEL THREADS N_PROMPT N_GEN [nosample]\n", argv[0]);
        return 2;
    }
    const char * path = argv[1];
    const int threads = atoi(argv[2]);
    const int n_prompt = atoi(argv[3]);
    const int n_gen = atoi(argv[4]);
    const bool sample = argc == 5;
    llama_log_set(quiet, nullptr);
    llama_backend_init();
    llama_model * model = llama_model_load_from_file(path, llama_model_default_params());
    if (!model) {
        fprintf(stderr, "cannot load %s\n", path);
        return 1;
    }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const std::string text =
        "Field notes: the river crossing at dawn, water samples in crates, a generator that "
        "needs diesel every six hours, and a table of readings to check before nightfall. ";
    std::vector<llama_token> unit(512);
    int n = llama_tokenize(vocab, text.c_str(), (int)text.size(), unit.data(), (int)unit.size(), false, false);
    if (n <= 0) {
        fprintf(stderr, "tokenize failed\n");
        return 1;
    }
    unit.resize(n);
    std::vector<llama_token> prompt;
    prompt.push_back(llama_vocab_bos(vocab));
    while ((int)prompt.size() < n_prompt) {
        prompt.push_back(unit[prompt.size() % unit.size()]);
    }
    for (size_t i = 0; i < prompt.size(); i++) {
        printf(i ? ",%d" : "%d", prompt[i]);
    }
    printf("\n");

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 1024; // as fieldkit's bench jobs ask for
    cp.n_batch = n_prompt;
    cp.n_ubatch = 512;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_ENABLED;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "cannot make a context\n");
        return 1;
    }
    const int n_vocab = llama_vocab_n_tokens(vocab);
    // fieldkit's greedy pick: the first largest logit of the last position.
    auto pick = [&]() {
        const float * logits = llama_get_logits_ith(ctx, -1);
        int best = 0;
        for (int i = 1; i < n_vocab; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return (llama_token) best;
    };

    auto t0 = std::chrono::steady_clock::now();
    if (llama_decode(ctx, llama_batch_get_one(prompt.data(), (int)prompt.size())) != 0) {
        fprintf(stderr, "decode failed\n");
        return 1;
    }
    // As fieldkit's worker counts it: the prompt's decode alone; the first pick is in ttft.
    double pp_ms = ms_since(t0);
    llama_token tok = pick();
    double ttft_ms = ms_since(t0);
    auto t1 = std::chrono::steady_clock::now();
    for (int i = 1; i < n_gen; i++) {
        if (llama_decode(ctx, llama_batch_get_one(&tok, 1)) != 0) {
            fprintf(stderr, "decode failed\n");
            return 1;
        }
        if (sample) {
            tok = pick();
        }
    }
    double tg_ms = ms_since(t1);
    printf("%.3f %.3f %.3f\n", pp_ms, tg_ms, ttft_ms);
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}

// CUDA-on-CPU emulation pieces for the fused_attention kernel.
#pragma once
#include <math.h>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <barrier>
#include <thread>
#include <vector>
#include <mutex>
#include <functional>
#include <atomic>

#define __global__
#define __device__
#define __forceinline__
#define __launch_bounds__(x)

struct EmuDim3 { unsigned x = 0; };
inline thread_local EmuDim3 threadIdx, blockIdx;
inline EmuDim3 blockDim{128}, gridDim{1};

inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __fmaf_rn(float a, float b, float c) { return std::fmaf(a, b, c); }

// fp16 <-> f32 (IEEE round to nearest even, via the compiler's _Float16)
inline unsigned short f32_to_f16_bits(float v) { _Float16 h = (_Float16)v; unsigned short b; std::memcpy(&b, &h, 2); return b; }
inline float emu_f16_to_f32(unsigned short b) { _Float16 h; std::memcpy(&h, &b, 2); return (float)h; }

// block / warp synchronisation
inline std::barrier<>* g_block_bar = nullptr;
inline std::barrier<>* g_warp_bar[4] = {};
inline float g_xch[4][32];
inline std::atomic<long> g_shfl_calls{0}, g_sync_calls{0};
inline void __syncthreads() { if (threadIdx.x == 0) g_sync_calls++; g_block_bar->arrive_and_wait(); }
// exact only when all 32 lanes of the warp take part (what warp_sum/warp_max need)
inline float __shfl_xor_sync(unsigned mask, float v, int o) {
    if (mask != 0xffffffffu) { std::fprintf(stderr, "partial shuffle mask\n"); std::abort(); }
    int w = threadIdx.x >> 5, l = threadIdx.x & 31;
    if ((threadIdx.x & 31) == 0) g_shfl_calls++;
    g_xch[w][l] = v;
    g_warp_bar[w]->arrive_and_wait();
    float r = g_xch[w][l ^ o];
    g_warp_bar[w]->arrive_and_wait();
    return r;
}

// bounds-checked "shared" 2-D arrays, refilled with NaN before each block
inline std::mutex g_reg_mu;
inline std::vector<std::function<void()>> g_fillers;
[[noreturn]] inline void emu_oob(const char* what, int i, int lim) {
    std::fprintf(stderr, "OUT OF BOUNDS %s index %d (limit %d) thread %u block %u\n", what, i, lim, threadIdx.x, blockIdx.x);
    std::abort();
}
template <class T, int A, int B> struct Chk2 {
    T d[A][B];
    Chk2() { fill(); std::lock_guard<std::mutex> g(g_reg_mu); g_fillers.push_back([this] { fill(); }); }
    void fill() { for (int i = 0; i < A; ++i) for (int j = 0; j < B; ++j) d[i][j] = std::nanf(""); }
    struct Row { T* p; T& operator[](int j) const { if (j < 0 || j >= B) emu_oob("col", j, B); return p[j]; } };
    Row operator[](int i) { if (i < 0 || i >= A) emu_oob("row", i, A); return Row{d[i]}; }
};

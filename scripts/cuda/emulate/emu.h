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
#include <type_traits>

#define __global__
#define __device__
#define __forceinline__
#define __launch_bounds__(x)
#define __align__(x)

struct EmuDim3 { unsigned x = 0; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) float2 { float x, y; };
inline float2 make_float2(float x, float y) { return float2{x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }
inline thread_local EmuDim3 threadIdx, blockIdx;
inline EmuDim3 blockDim{128}, gridDim{1};

inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __fmaf_rn(float a, float b, float c) { return std::fmaf(a, b, c); }
// the fast exponential: exact here (the device's is within 2 ulp)
inline float __expf(float x) { return expf(x); }

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
    alignas(16) T d[A][B];
    Chk2() { fill(); std::lock_guard<std::mutex> g(g_reg_mu); g_fillers.push_back([this] { fill(); }); }
    // NaN: f32 NaN, or 0xffff (NaN as f16 and as bf16)
    void fill() { for (int i = 0; i < A; ++i) for (int j = 0; j < B; ++j) { if constexpr (std::is_floating_point_v<T>) d[i][j] = std::nanf(""); else d[i][j] = (T)0xffff; } }
    struct Row { T* p; T& operator[](int j) const { if (j < 0 || j >= B) emu_oob("col", j, B); return p[j]; } };
    Row operator[](int i) { if (i < 0 || i >= A) emu_oob("row", i, A); return Row{d[i]}; }
};

// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}: each lane posts its fragments, then
// computes its four accumulators from the whole warp's (PTX ISA fragment layouts), sums
// in double; exact only when all 32 lanes take part
inline unsigned g_mma[4][32][6];
inline float emu_half(unsigned word, int hi, int bf) {
    unsigned short b = hi ? (unsigned short)(word >> 16) : (unsigned short)(word & 0xffff);
    return bf ? __uint_as_float((unsigned)b << 16) : emu_f16_to_f32(b);
}
inline void emu_mma16816(float* d, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1, int bf) {
    int w = threadIdx.x >> 5, l = threadIdx.x & 31;
    unsigned* me = g_mma[w][l];
    me[0] = a0; me[1] = a1; me[2] = a2; me[3] = a3; me[4] = b0; me[5] = b1;
    g_warp_bar[w]->arrive_and_wait();
    auto A = [&](int row, int k) { return emu_half(g_mma[w][(row % 8) * 4 + (k % 8) / 2][(row >= 8) + 2 * (k >= 8)], k & 1, bf); };
    auto Bm = [&](int k, int col) { return emu_half(g_mma[w][col * 4 + (k % 8) / 2][4 + (k >= 8)], k & 1, bf); };
    int g = l >> 2, t = l & 3;
    float out[4];
    for (int e = 0; e < 4; ++e) {
        int row = g + 8 * (e >> 1), col = 2 * t + (e & 1);
        double s = 0;
        for (int k = 0; k < 16; ++k) s += (double)A(row, k) * (double)Bm(k, col);
        out[e] = (float)((double)d[e] + s);
    }
    g_warp_bar[w]->arrive_and_wait();
    for (int e = 0; e < 4; ++e) d[e] = out[e];
}

// ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16: lanes 8i..8i+7 post tile i's row
// addresses; untransposed, lane l takes tile i's elements (row l / 4, columns 2 (l % 4) and
// the next) into ri; transposed, (row 2 (l % 4), column l / 4) and (the next row, same
// column)
inline const unsigned short* g_ldsm[4][32];
inline void emu_ldsm(bool trans, unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3, const unsigned short* p) {
    int w = threadIdx.x >> 5, l = threadIdx.x & 31;
    if (reinterpret_cast<uintptr_t>(p) % 16) { std::fprintf(stderr, "ldmatrix row address not 16-byte aligned\n"); std::abort(); }
    g_ldsm[w][l] = p;
    g_warp_bar[w]->arrive_and_wait();
    unsigned r[4];
    for (int i = 0; i < 4; ++i) {
        unsigned short lo, hi;
        if (trans) {
            lo = g_ldsm[w][8 * i + 2 * (l % 4)][l / 4];
            hi = g_ldsm[w][8 * i + 2 * (l % 4) + 1][l / 4];
        } else {
            const unsigned short* row = g_ldsm[w][8 * i + l / 4];
            lo = row[2 * (l % 4)];
            hi = row[2 * (l % 4) + 1];
        }
        r[i] = (unsigned)lo | ((unsigned)hi << 16);
    }
    g_warp_bar[w]->arrive_and_wait();
    r0 = r[0]; r1 = r[1]; r2 = r[2]; r3 = r[3];
}
inline void emu_ldsm4t(unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3, const unsigned short* p) { emu_ldsm(true, r0, r1, r2, r3, p); }
inline void emu_ldsm4(unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3, const unsigned short* p) { emu_ldsm(false, r0, r1, r2, r3, p); }

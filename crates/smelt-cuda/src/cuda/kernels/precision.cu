// 16-bit operands for GEMM-type ops at --precision fp16/bf16 (see precision.rs): values are
// rounded to nearest even and stored as raw 16-bit patterns (no cuda_fp16.h in the program).
// `bf` selects the type: 0 = IEEE fp16, 1 = bfloat16. Needs ConvP (conv.cu, earlier).

__device__ __forceinline__ unsigned short f32_to_f16_bits(float v) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    return h;
}

// Round to nearest even by integer arithmetic (no sm_80 instruction needed); NaN stays a
// quiet NaN, overflow rounds to infinity.
__device__ __forceinline__ unsigned short f32_to_bf16_bits(float v) {
    unsigned int u = __float_as_uint(v);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short)(u >> 16);
}

__device__ __forceinline__ unsigned short to_16bit(float v, int bf) {
    return bf ? f32_to_bf16_bits(v) : f32_to_f16_bits(v);
}

// y[i] = x[i] rounded to 16 bits, n elements.
extern "C" __global__ void f32_to_16bit(const float* x, unsigned short* y, int n, int bf) {
    GRID_STRIDE(i, n) y[i] = to_16bit(x[i], bf);
}

// im2col_f32 (conv.cu) writing 16-bit columns: col is [n][c*kh*kw][oh*ow].
struct Store16 {
    unsigned short* col;
    int bf;
    __device__ __forceinline__ void operator()(long long i, float v) const { col[i] = to_16bit(v, bf); }
};

extern "C" __global__ void im2col_16bit(const float* x, unsigned short* col, ConvP p, int bf) {
    im2col_rows(x, Store16{col, bf}, p);
}

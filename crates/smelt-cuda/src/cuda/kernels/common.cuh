// Shared by every kernel source: the strided-index struct the planner fills (plan::Strides).
// Up to 8 dims; `a`, `b`, `c` are element strides of up to three operands (0 = broadcast).
#define MAXR 8
// NVRTC has no <math.h>: the constants are spelled out
#define SM_INF __int_as_float(0x7f800000)
struct Strides {
    int rank;
    int dims[MAXR];
    int a[MAXR];
    int b[MAXR];
    int c[MAXR];
};

__device__ __forceinline__ void offsets3(const Strides& s, int i, int& oa, int& ob, int& oc) {
    oa = 0; ob = 0; oc = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
        int q = i % s.dims[d];
        i /= s.dims[d];
        oa += q * s.a[d];
        ob += q * s.b[d];
        oc += q * s.c[d];
    }
}

#define GRID_STRIDE(i, n) for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

// Block-wide sum and max for blocks of a power-of-two size <= 1024 (`sh` holds 32 floats).
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
    return v;
}
__device__ float block_sum(float v, float* sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    v = (threadIdx.x < nw) ? sh[threadIdx.x] : 0.0f;
    if (w == 0) v = warp_sum(v);
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    return sh[0];
}
__device__ float block_max(float v, float* sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    v = (threadIdx.x < nw) ? sh[threadIdx.x] : (-SM_INF);
    if (w == 0) v = warp_max(v);
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    return sh[0];
}

// ---- Element types of the typed kernels (typed.cu, cast.cu) ----
// f16 and bf16 are 16-bit storage structs computed in float; conversions are exact bit code
// (no cuda_fp16.h): decode is exact, encode rounds to nearest even from a double (so a float
// or a double rounds once, as the CPU's half crate does).
struct f16s { unsigned short v; };
struct bf16s { unsigned short v; };

// The float with `eb` exponent and `mb` mantissa bits (IEEE layout with inf/NaN) in `bits`.
__device__ __forceinline__ float small_to_float(unsigned int bits, int eb, int mb) {
    unsigned int sign = (bits >> (eb + mb)) & 1u;
    int e = (bits >> mb) & ((1 << eb) - 1);
    unsigned int m = bits & ((1u << mb) - 1);
    int bias = (1 << (eb - 1)) - 1;
    float r;
    if (e == (1 << eb) - 1) r = m ? __int_as_float(0x7fc00000) : SM_INF;
    else if (e == 0) r = ldexpf((float)m, 1 - bias - mb);
    else r = ldexpf((float)(m | (1u << mb)), e - bias - mb);
    return sign ? -r : r;
}
// `v` rounded to nearest even into the IEEE-like format of `eb` exponent and `mb` mantissa
// bits (overflow gives inf, NaN a quiet NaN of v's sign).
__device__ __forceinline__ unsigned int double_to_small(double v, int eb, int mb) {
    unsigned long long b = (unsigned long long)__double_as_longlong(v);
    unsigned int s_out = (unsigned int)(b >> 63) << (eb + mb);
    int e = (int)((b >> 52) & 0x7ff);
    unsigned long long m = b & ((1ull << 52) - 1);
    unsigned int emax = (1u << eb) - 1;
    if (e == 0x7ff) return s_out | (emax << mb) | (m ? (1u << (mb - 1)) : 0u);
    if (e == 0) return s_out;
    int bias = (1 << (eb - 1)) - 1;
    int ue = e - 1023 + bias;
    unsigned long long mant = m | (1ull << 52);
    int shift = ue >= 1 ? 52 - mb : 52 - mb + (1 - ue);
    if (shift >= 64) return s_out;
    unsigned long long q = mant >> shift, rem = mant & ((1ull << shift) - 1), half = 1ull << (shift - 1);
    if (rem > half || (rem == half && (q & 1ull))) q++;
    unsigned long long out = (ue >= 1 ? ((unsigned long long)(ue - 1) << mb) : 0ull) + q;
    if (out >= ((unsigned long long)emax << mb)) out = (unsigned long long)emax << mb;
    return s_out | (unsigned int)out;
}

// Num<T>: C is the type T computes in; up/down convert; FLOAT says float semantics.
template <class T> struct Num {
    typedef T C;
    static constexpr bool FLOAT = false;
    static __device__ __forceinline__ C up(T x) { return x; }
    static __device__ __forceinline__ T down(C c) { return c; }
};
template <> struct Num<float> {
    typedef float C;
    static constexpr bool FLOAT = true;
    static __device__ __forceinline__ float up(float x) { return x; }
    static __device__ __forceinline__ float down(float c) { return c; }
};
template <> struct Num<double> {
    typedef double C;
    static constexpr bool FLOAT = true;
    static __device__ __forceinline__ double up(double x) { return x; }
    static __device__ __forceinline__ double down(double c) { return c; }
};
template <> struct Num<f16s> {
    typedef float C;
    static constexpr bool FLOAT = true;
    static __device__ __forceinline__ float up(f16s x) { return small_to_float(x.v, 5, 10); }
    static __device__ __forceinline__ f16s down(float c) { f16s r; r.v = (unsigned short)double_to_small((double)c, 5, 10); return r; }
};
template <> struct Num<bf16s> {
    typedef float C;
    static constexpr bool FLOAT = true;
    static __device__ __forceinline__ float up(bf16s x) { return __int_as_float(((int)x.v) << 16); }
    static __device__ __forceinline__ bf16s down(float c) { bf16s r; r.v = (unsigned short)double_to_small((double)c, 8, 7); return r; }
};

// Math in float or double by overload (NVRTC has the C functions, not the C++ overloads).
#define SM_MATH1(name, f, d) \
    __device__ __forceinline__ float m_##name(float x) { return f(x); } \
    __device__ __forceinline__ double m_##name(double x) { return d(x); }
SM_MATH1(exp, expf, exp) SM_MATH1(expm1, expm1f, expm1) SM_MATH1(log, logf, log) SM_MATH1(log1p, log1pf, log1p)
SM_MATH1(sqrt, sqrtf, sqrt) SM_MATH1(fabs, fabsf, fabs) SM_MATH1(erf, erff, erf) SM_MATH1(floor, floorf, floor)
SM_MATH1(ceil, ceilf, ceil) SM_MATH1(rint, rintf, rint) SM_MATH1(sin, sinf, sin) SM_MATH1(cos, cosf, cos)
SM_MATH1(tan, tanf, tan) SM_MATH1(asin, asinf, asin) SM_MATH1(acos, acosf, acos) SM_MATH1(atan, atanf, atan)
SM_MATH1(sinh, sinhf, sinh) SM_MATH1(cosh, coshf, cosh) SM_MATH1(asinh, asinhf, asinh) SM_MATH1(acosh, acoshf, acosh)
SM_MATH1(atanh, atanhf, atanh) SM_MATH1(tanh, tanhf, tanh)
__device__ __forceinline__ float m_pow(float a, float b) { return powf(a, b); }
__device__ __forceinline__ double m_pow(double a, double b) { return pow(a, b); }
__device__ __forceinline__ float m_fmod(float a, float b) { return fmodf(a, b); }
__device__ __forceinline__ double m_fmod(double a, double b) { return fmod(a, b); }

// f32 rounded to nearest even as a raw 16-bit pattern: IEEE fp16 (bf = 0) or bfloat16
// (bf = 1).
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

// A 16-bit float's value: f16 (bf = 0) or bf16 (bf = 1).
__device__ __forceinline__ float from_16bit(unsigned short h, int bf) {
    if (bf) return __uint_as_float(((unsigned int)h) << 16);
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

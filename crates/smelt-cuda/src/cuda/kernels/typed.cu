// Element-wise kernels over every numeric dtype: unary_<t>, binary_same_<t>, binary_<t>,
// compare_<t>, isclass_<t>, where_<bytes>. <t> is the dtype suffix (f64 f16 bf16 i8 u8 i16
// u16 i32 u32 i64 u64; f32 has the kernels of elementwise.cu, which share unary_fl).
// Op codes are plan::UnaryOp / plan::BinaryOp / plan::CompareOp. Semantics are the CPU's
// (smelt-ops math): f16/bf16 compute in float and round once; integer arithmetic wraps;
// integer Div truncates toward zero and Mod takes the divisor's sign (fmod: the dividend's);
// an integer divisor 0 sets *flag (the host then defers to the CPU, which reports it).

template <class C> __device__ __forceinline__ C unary_fl(int op, C x, C p, C q) {
    const C z = (C)0, one = (C)1;
    switch (op) {
    case 0: return x < z ? z : x;                                   // Relu (NaN stays)
    case 1: { if (x >= z) return one / (one + m_exp(-x)); C e = m_exp(x); return e / (one + e); } // Sigmoid
    case 2: return m_tanh(x);
    case 3: return m_exp(x);
    case 4: return m_log(x);
    case 5: return m_sqrt(x);
    case 6: return -x;
    case 7: return m_fabs(x);
    case 8: return m_erf(x);
    case 9: return (C)0.5 * x * (one + m_erf(x * (C)0.70710678118654752440)); // Gelu (exact)
    case 10: { C lo = x < p ? p : x; return lo > q ? q : lo; }     // Clip [p, q]
    case 11: return x >= z ? x : p * x;                             // LeakyRelu(alpha p)
    case 12: return one / x;                                        // Reciprocal
    case 13: return m_floor(x);
    case 14: return m_ceil(x);
    case 15: return m_sin(x);
    case 16: return m_cos(x);
    case 17: return x > (C)20 ? x : m_log1p(m_exp(x));             // Softplus
    case 18: { C v = p * x + q; v = v > z ? v : z; return v < one ? v : one; } // HardSigmoid
    case 19: return x >= z ? x : p * m_expm1(x);                    // Elu(alpha p)
    case 20: return x;                                              // Identity
    case 21: return x != x ? x : (C)((x > z) - (x < z));            // Sign (NaN stays)
    case 22: return m_rint(x);                                      // Round (half to even)
    case 23: { C v = x / (C)6 + (C)0.5; v = v > z ? v : z; return x * (v < one ? v : one); } // HardSwish
    case 24: return x > z ? q * x : q * (p * m_exp(x) - p);         // Selu(alpha p, gamma q)
    case 25: return x / (one + m_fabs(x));                          // Softsign
    case 26: return x / (one + m_exp(-x));                          // Silu
    case 27: return m_tan(x);
    case 28: return m_asin(x);
    case 29: return m_acos(x);
    case 30: return m_atan(x);
    case 31: return m_sinh(x);
    case 32: return m_cosh(x);
    case 33: return m_asinh(x);
    case 34: return m_acosh(x);
    case 35: return m_atanh(x);
    case 36: return x < -p ? x + q : (x > p ? x - q : z);           // Shrink(lambd p, bias q)
    case 37: return x > p ? x : z;                                  // ThresholdedRelu(alpha p)
    case 38: return (C)0.5 * x * (one + m_tanh((C)0.79788456080286535588 * (x + (C)0.044715 * x * x * x))); // Gelu tanh
    case 39: return x * m_tanh(x > (C)20 ? x : m_log1p(m_exp(x))); // Mish
    case 42: { C a = p, e = a * (m_exp(x / a) - one); return (x > z ? x : z) + (e < z ? e : z); } // Celu(alpha p)
    default: return (C)__int_as_float(0x7fc00000);
    }
}

// Integer unary ops: Relu, Neg, Abs, Identity, Sign, BitwiseNot (40), Not of bool (41).
template <class T> __device__ __forceinline__ T unary_int(int op, T x) {
    typedef unsigned long long U;
    const T z = (T)0;
    switch (op) {
    case 0: return x < z ? z : x;
    case 6: return (T)(0ull - (U)x);
    case 7: return x < z ? (T)(0ull - (U)x) : x;
    case 21: return (T)((x > z) - (x < z));
    case 40: return (T)~x;
    case 41: return (T)(x ? 0 : 1);
    default: return x;
    }
}

__device__ __forceinline__ long long ipow_i64(long long base, long long e) {
    if (e < 0) return base == 1 ? 1 : (base == -1 ? ((e % 2 == 0) ? 1 : -1) : 0);
    unsigned long long r = 1, b = (unsigned long long)base, k = (unsigned long long)e;
    while (k > 0) {
        if (k & 1ull) r *= b;
        b *= b;
        k >>= 1;
    }
    return (long long)r;
}

template <class C> __device__ __forceinline__ C binary_fl(int op, C a, C b) {
    const C nan = (C)__int_as_float(0x7fc00000);
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return m_pow(a, b);
    case 5: return (a != a || b != b) ? nan : (a > b ? a : b);      // Max
    case 6: return (a != a || b != b) ? nan : (a < b ? a : b);      // Min
    case 7: return a >= (C)0 ? a : a * b;                           // PRelu
    case 8: { C r = m_fmod(a, b); return (r != (C)0 && ((r < (C)0) != (b < (C)0))) ? r + b : r; } // Mod
    case 9: return m_fmod(a, b);                                    // Mod fmod=1
    default: return nan;
    }
}

template <class T> __device__ __forceinline__ T binary_int(int op, T a, T b, int* flag) {
    typedef unsigned long long U;
    const bool sgn = (T)(-1) < (T)0;
    const int bits = 8 * (int)sizeof(T);
    switch (op) {
    case 0: return (T)((U)a + (U)b);
    case 1: return (T)((U)a - (U)b);
    case 2: return (T)((U)a * (U)b);
    case 3:
        if (b == (T)0) { if (flag) *flag = 1; return (T)0; }
        if (sgn && b == (T)(-1)) return (T)(0ull - (U)a);
        return (T)(a / b);
    case 4: return (T)ipow_i64((long long)a, (long long)b);
    case 5: return a > b ? a : b;
    case 6: return a < b ? a : b;
    case 7: return a >= (T)0 ? a : (T)((U)a * (U)b);               // PRelu
    case 8:
    case 9: {
        if (b == (T)0) { if (flag) *flag = 1; return (T)0; }
        if (sgn && b == (T)(-1)) return (T)0;
        T r = (T)(a % b);
        if (op == 8 && r != (T)0 && ((r < (T)0) != (b < (T)0))) r = (T)((U)r + (U)b);
        return r;
    }
    case 10: return (T)(a & b);
    case 11: return (T)(a | b);
    case 12: return (T)(a ^ b);
    case 13: return (U)b < (U)bits ? (T)((U)a << (U)b) : (T)0;      // BitShift (unsigned)
    case 14: return (U)b < (U)bits ? (T)((U)a >> (U)b) : (T)0;
    default: return (T)0;
    }
}

template <class T> __device__ __forceinline__ T binary_t(int op, T a, T b, int* flag) {
    if constexpr (Num<T>::FLOAT) {
        typedef Num<T> N;
        return N::down(binary_fl<typename N::C>(op, N::up(a), N::up(b)));
    } else {
        return binary_int<T>(op, a, b, flag);
    }
}

template <class T> __device__ __forceinline__ bool compare_t(int op, T a, T b) {
    typedef Num<T> N;
    typename N::C x = N::up(a), z = N::up(b);
    switch (op) {
    case 0: return x == z;
    case 1: return x < z;
    case 2: return x > z;
    case 3: return x <= z;
    default: return x >= z;
    }
}

#define SM_BINARY(sfx, T) \
extern "C" __global__ void binary_same_##sfx(const T* a, const T* b, T* y, int n, int op, int* flag) { \
    GRID_STRIDE(i, n) y[i] = binary_t<T>(op, a[i], b[i], flag); } \
extern "C" __global__ void binary_##sfx(const T* a, const T* b, T* y, int n, int op, int* flag, Strides s) { \
    GRID_STRIDE(i, n) { int oa, ob, oc; offsets3(s, i, oa, ob, oc); y[i] = binary_t<T>(op, a[oa], b[ob], flag); } } \
extern "C" __global__ void compare_##sfx(const T* a, const T* b, unsigned char* y, int n, int op, Strides s) { \
    GRID_STRIDE(i, n) { int oa, ob, oc; offsets3(s, i, oa, ob, oc); y[i] = compare_t<T>(op, a[oa], b[ob]) ? 1 : 0; } }

#define SM_UNARY_FL(sfx, T) \
extern "C" __global__ void unary_##sfx(const T* x, T* y, int n, int op, float p, float q) { \
    typedef Num<T> N; typedef typename N::C C; \
    GRID_STRIDE(i, n) y[i] = N::down(unary_fl<C>(op, N::up(x[i]), (C)p, (C)q)); } \
extern "C" __global__ void isclass_##sfx(const T* x, unsigned char* y, int n, int mode) { \
    typedef Num<T> N; \
    GRID_STRIDE(i, n) { typename N::C v = N::up(x[i]); \
        y[i] = ((mode & 1) && v != v) || ((mode & 2) && v == SM_INF) || ((mode & 4) && v == -SM_INF); } }

#define SM_UNARY_INT(sfx, T) \
extern "C" __global__ void unary_##sfx(const T* x, T* y, int n, int op, float p, float q) { \
    GRID_STRIDE(i, n) y[i] = unary_int<T>(op, x[i]); }

SM_BINARY(f64, double) SM_BINARY(f16, f16s) SM_BINARY(bf16, bf16s)
SM_BINARY(i8, signed char) SM_BINARY(u8, unsigned char) SM_BINARY(i16, short) SM_BINARY(u16, unsigned short)
SM_BINARY(i32, int) SM_BINARY(u32, unsigned int) SM_BINARY(i64, long long) SM_BINARY(u64, unsigned long long)
// f32: Mod, compare etc. of the typed table (binary_f32 / compare_f32 of elementwise.cu stay)
extern "C" __global__ void binary_same_t_f32(const float* a, const float* b, float* y, int n, int op, int* flag) {
    GRID_STRIDE(i, n) y[i] = binary_t<float>(op, a[i], b[i], flag);
}
extern "C" __global__ void binary_t_f32(const float* a, const float* b, float* y, int n, int op, int* flag, Strides s) {
    GRID_STRIDE(i, n) { int oa, ob, oc; offsets3(s, i, oa, ob, oc); y[i] = binary_t<float>(op, a[oa], b[ob], flag); }
}
SM_UNARY_FL(f64, double) SM_UNARY_FL(f16, f16s) SM_UNARY_FL(bf16, bf16s)
extern "C" __global__ void isclass_f32(const float* x, unsigned char* y, int n, int mode) {
    GRID_STRIDE(i, n) { float v = x[i]; y[i] = ((mode & 1) && v != v) || ((mode & 2) && v == SM_INF) || ((mode & 4) && v == -SM_INF); }
}
SM_UNARY_INT(i8, signed char) SM_UNARY_INT(u8, unsigned char) SM_UNARY_INT(i16, short) SM_UNARY_INT(u16, unsigned short)
SM_UNARY_INT(i32, int) SM_UNARY_INT(u32, unsigned int) SM_UNARY_INT(i64, long long) SM_UNARY_INT(u64, unsigned long long)

// Where(cond, x, y) by element width: s.a, s.b, s.c are the strides of cond, x and y.
#define SM_WHERE(bytes, T) \
extern "C" __global__ void where_##bytes(const unsigned char* c, const T* a, const T* b, T* y, int n, Strides s) { \
    GRID_STRIDE(i, n) { int oc, oa, ob; offsets3(s, i, oc, oa, ob); y[i] = c[oc] ? a[oa] : b[ob]; } }
SM_WHERE(8, unsigned char) SM_WHERE(16, unsigned short) SM_WHERE(32, unsigned int) SM_WHERE(64, unsigned long long)
extern "C" __global__ void unary_t_f32(const float* x, float* y, int n, int op, float p, float q) {
    GRID_STRIDE(i, n) y[i] = unary_fl<float>(op, x[i], p, q);
}

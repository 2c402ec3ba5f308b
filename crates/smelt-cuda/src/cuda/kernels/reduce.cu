// Reductions of x viewed as [outer, r, inner] over the middle axis into y [outer, inner].
// op: plan::ReduceOp (0 sum, 1 mean, 2 max, 3 min, 4 prod, 5 sum of squares, 6 L1, 7 L2,
// 8 log-sum, 9 log-sum-exp).

__device__ __forceinline__ float reduce_init(int op) {
    return op == 2 ? (-SM_INF) : (op == 3 ? SM_INF : (op == 4 ? 1.0f : 0.0f));
}
__device__ __forceinline__ float reduce_step(int op, float acc, float v) {
    switch (op) {
    case 2: return (v > acc || v != v) ? v : acc;
    case 3: return (v < acc || v != v) ? v : acc;
    case 4: return acc * v;
    case 5:
    case 7: return acc + v * v;   // SumSquare, and L2 before its square root
    case 6: return acc + fabsf(v);
    default: return acc + v;
    }
}
__device__ __forceinline__ float reduce_final(int op, float acc, int r) {
    switch (op) {
    case 1: return acc / (float)r;
    case 7: return sqrtf(acc);
    case 8: return logf(acc);
    default: return acc;
    }
}

// One thread per output; the r elements are `inner` apart (coalesced across threads).
extern "C" __global__ void reduce_mid_f32(const float* x, float* y, int outer, int r, int inner, int op) {
    int n = outer * inner;
    GRID_STRIDE(i, n) {
        int in = i % inner, o = i / inner;
        const float* p = x + (unsigned long long)o * r * inner + in;
        if (op == 9) {
            float m = (-SM_INF);
            for (int k = 0; k < r; ++k) m = fmaxf(m, p[(unsigned long long)k * inner]);
            float s = 0.0f;
            for (int k = 0; k < r; ++k) s += expf(p[(unsigned long long)k * inner] - m);
            y[i] = m + logf(s);
            continue;
        }
        float acc = reduce_init(op);
        for (int k = 0; k < r; ++k) acc = reduce_step(op, acc, p[(unsigned long long)k * inner]);
        y[i] = reduce_final(op, acc, r);
    }
}

// inner == 1: one block per output row of r contiguous elements (sum-like ops and max/min).
extern "C" __global__ void reduce_rows_f32(const float* x, float* y, int outer, int r, int op) {
    __shared__ float sh[32];
    int o = blockIdx.x;
    if (o >= outer) return;
    const float* p = x + (unsigned long long)o * r;
    float res;
    if (op == 2 || op == 3) {
        float acc = reduce_init(op);
        for (int k = threadIdx.x; k < r; k += blockDim.x) acc = reduce_step(op, acc, p[k]);
        // fmaxf drops NaN, so a NaN seen by any thread is flagged and wins, as on the CPU
        float nan = (acc != acc) ? 1.0f : 0.0f;
        nan = block_max(nan, sh);
        float v = op == 2 ? block_max(acc, sh) : -block_max(-acc, sh);
        res = nan > 0.0f ? __int_as_float(0x7fc00000) : v;
    } else if (op == 9) {
        float m = (-SM_INF);
        for (int k = threadIdx.x; k < r; k += blockDim.x) m = fmaxf(m, p[k]);
        m = block_max(m, sh);
        float s = 0.0f;
        for (int k = threadIdx.x; k < r; k += blockDim.x) s += expf(p[k] - m);
        res = m + logf(block_sum(s, sh));
    } else if (op == 4) {
        // products are not summed: one thread walks the row
        float acc = 1.0f;
        if (threadIdx.x == 0) for (int k = 0; k < r; ++k) acc *= p[k];
        res = acc;
    } else {
        float acc = 0.0f;
        for (int k = threadIdx.x; k < r; k += blockDim.x) acc = reduce_step(op, acc, p[k]);
        res = reduce_final(op, block_sum(acc, sh), r);
    }
    if (threadIdx.x == 0) y[o] = res;
}

// ArgMax (max = 1) / ArgMin of x [outer, r, inner] along r into y [outer, inner] (i64).
// Ties give the first index, or the last with `last`; NaN counts as the extreme (the first
// NaN wins, or the last with `last`), as the CPU op.
extern "C" __global__ void arg_ext_f32(const float* x, long long* y, int outer, int r, int inner, int max, int last) {
    int n = outer * inner;
    GRID_STRIDE(i, n) {
        int in = i % inner, o = i / inner;
        const float* p = x + (unsigned long long)o * r * inner + in;
        int bi = 0;
        float bv = p[0];
        for (int k = 1; k < r; ++k) {
            float v = p[(unsigned long long)k * inner];
            bool vn = v != v, bn = bv != bv, better;
            if (bn) better = last && vn;
            else if (vn) better = true;
            else if (max) better = last ? v >= bv : v > bv;
            else better = last ? v <= bv : v < bv;
            if (better) { bi = k; bv = v; }
        }
        y[i] = bi;
    }
}

// Reductions of the other dtypes (reduce_typed_<t>), one thread per output of x viewed as
// [outer, r, inner], as the CPU (smelt-ops reduce_ops.rs): floats in their compute type
// (f16/bf16 in float, f64 in double; LogSumExp shifts by a finite max); integers exact and
// wrapping for Sum/Prod/L1/SumSquare (in 64 bits, then truncated), Max/Min in the type, and
// Mean/L2/LogSum/LogSumExp in double then converted saturating; bool (as u8) Max = any,
// Min = all. r >= 1.
template <class C> __device__ __forceinline__ C reduce_fl(int op, C acc, C v) {
    switch (op) {
    case 2: return (v > acc || v != v) ? v : acc;
    case 3: return (v < acc || v != v) ? v : acc;
    case 4: return acc * v;
    case 5:
    case 7: return acc + v * v;
    case 6: return acc + m_fabs(v);
    default: return acc + v;
    }
}
template <class C, class Load> __device__ C reduce_float_run(Load ld, int r, int op) {
    if (op == 9) {
        C m = (C)(-SM_INF);
        for (int k = 0; k < r; ++k) { C v = ld(k); m = (v > m || v != v) ? v : m; }
        C sh = (m == m && m != (C)SM_INF && m != (C)(-SM_INF)) ? m : (C)0;
        C s = (C)0;
        for (int k = 0; k < r; ++k) s += m_exp(ld(k) - sh);
        return m_log(s) + sh;
    }
    C acc = op == 2 ? (C)(-SM_INF) : (op == 3 ? (C)SM_INF : (op == 4 ? (C)1 : (C)0));
    for (int k = 0; k < r; ++k) acc = reduce_fl<C>(op, acc, ld(k));
    switch (op) {
    case 1: return acc / (C)r;
    case 7: return m_sqrt(acc);
    case 8: return m_log(acc);
    default: return acc;
    }
}
template <class T> __device__ __forceinline__ T sat_from_double(double d) {
    const bool sgn = (T)(-1) < (T)0;
    const int bits = 8 * (int)sizeof(T);
    double hi = sgn ? ldexp(1.0, bits - 1) : ldexp(1.0, bits);   // first value out of range
    double lo = sgn ? -ldexp(1.0, bits - 1) : 0.0;
    if (d != d) return (T)0;
    if (d >= hi) return (T)(sgn ? ((1ull << (bits - 1)) - 1) : ~0ull);
    if (d <= lo) return sgn ? (T)(1ull << (bits - 1)) : (T)0;
    return sgn ? (T)(long long)d : (T)(unsigned long long)d;
}
template <class T> __device__ void reduce_typed(const T* x, T* y, int outer, int r, int inner, int op) {
    int n = outer * inner;
    GRID_STRIDE(i, n) {
        int in = i % inner, o = i / inner;
        const T* p = x + (unsigned long long)o * r * inner + in;
        unsigned long long st = (unsigned long long)inner;
        if constexpr (Num<T>::FLOAT) {
            typedef Num<T> N;
            typedef typename N::C C;
            y[i] = N::down(reduce_float_run<C>([&](int k) { return N::up(p[k * st]); }, r, op));
        } else if (op == 1 || op >= 7) {
            double v = reduce_float_run<double>([&](int k) { return (double)p[k * st]; }, r, op);
            y[i] = sat_from_double<T>(v);
        } else if (op == 2 || op == 3) {
            T acc = p[0];
            for (int k = 1; k < r; ++k) { T v = p[k * st]; acc = (op == 2) ? (v > acc ? v : acc) : (v < acc ? v : acc); }
            y[i] = acc;
        } else {
            typedef unsigned long long U;
            const bool sgn = (T)(-1) < (T)0;
            U acc = op == 4 ? 1ull : 0ull;
            for (int k = 0; k < r; ++k) {
                T t = p[k * st];
                U v = sgn ? (U)(long long)t : (U)t;
                if (op == 4) acc *= v;
                else if (op == 5) acc += v * v;
                else if (op == 6) acc += (sgn && (long long)v < 0) ? 0ull - v : v;
                else acc += v;
            }
            y[i] = (T)acc;
        }
    }
}
#define SM_REDUCE(sfx, T) \
extern "C" __global__ void reduce_typed_##sfx(const T* x, T* y, int outer, int r, int inner, int op) { \
    reduce_typed<T>(x, y, outer, r, inner, op); }
SM_REDUCE(f64, double) SM_REDUCE(f16, f16s) SM_REDUCE(bf16, bf16s)
SM_REDUCE(i8, signed char) SM_REDUCE(u8, unsigned char) SM_REDUCE(i16, short) SM_REDUCE(u16, unsigned short)
SM_REDUCE(i32, int) SM_REDUCE(u32, unsigned int) SM_REDUCE(i64, long long) SM_REDUCE(u64, unsigned long long)

// CumSum / CumProd of x viewed as [outer, n, inner] along n, one thread per (outer, inner)
// line, as the CPU: sums of f16/bf16 accumulate in float, products round to the type at
// each step (the half crate's Mul); integers wrap. `exclusive` writes the running value
// before the element, `reverse` runs from the end.
template <class T> __device__ void scan_typed(const T* x, T* y, int outer, int n, int inner, int prod, int exclusive, int reverse) {
    int lines = outer * inner;
    GRID_STRIDE(l, lines) {
        int in = l % inner, o = l / inner;
        unsigned long long base = (unsigned long long)o * n * inner + in;
        if constexpr (Num<T>::FLOAT) {
            typedef Num<T> N;
            typedef typename N::C C;
            C acc = prod ? (C)1 : (C)0;
            for (int s = 0; s < n; ++s) {
                int k = reverse ? n - 1 - s : s;
                unsigned long long at = base + (unsigned long long)k * inner;
                C v = N::up(x[at]);
                if (exclusive) y[at] = N::down(acc);
                acc = prod ? N::up(N::down(acc * v)) : acc + v;
                if (!exclusive) y[at] = N::down(acc);
            }
        } else {
            typedef unsigned long long U;
            U acc = prod ? 1ull : 0ull;
            for (int s = 0; s < n; ++s) {
                int k = reverse ? n - 1 - s : s;
                unsigned long long at = base + (unsigned long long)k * inner;
                U v = (U)x[at];
                if (exclusive) y[at] = (T)acc;
                acc = prod ? acc * v : acc + v;
                if (!exclusive) y[at] = (T)acc;
            }
        }
    }
}
#define SM_SCAN(sfx, T) \
extern "C" __global__ void scan_##sfx(const T* x, T* y, int outer, int n, int inner, int prod, int exclusive, int reverse) { \
    scan_typed<T>(x, y, outer, n, inner, prod, exclusive, reverse); }
SM_SCAN(f32, float) SM_SCAN(f64, double) SM_SCAN(f16, f16s) SM_SCAN(bf16, bf16s)
SM_SCAN(i8, signed char) SM_SCAN(u8, unsigned char) SM_SCAN(i16, short) SM_SCAN(u16, unsigned short)
SM_SCAN(i32, int) SM_SCAN(u32, unsigned int) SM_SCAN(i64, long long) SM_SCAN(u64, unsigned long long)

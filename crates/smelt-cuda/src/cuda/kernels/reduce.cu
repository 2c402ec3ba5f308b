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

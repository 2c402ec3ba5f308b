// Losses over x [N, C, inner] (plan::loss). Targets are i64, checked on the host (each in
// 0..C or the ignore index); weight [C] may be null.

// y = log_softmax(x) over the C axis: one thread per (n, inner) position.
extern "C" __global__ void log_softmax_mid_f32(const float* x, float* y, int n, int c, int inner) {
    int total = n * inner;
    GRID_STRIDE(i, total) {
        int in = i % inner, b = i / inner;
        long long base = (long long)b * c * inner + in;
        float m = (-SM_INF);
        for (int k = 0; k < c; ++k) m = fmaxf(m, x[base + (long long)k * inner]);
        float s = 0.0f;
        for (int k = 0; k < c; ++k) s += expf(x[base + (long long)k * inner] - m);
        float lse = m + logf(s);
        for (int k = 0; k < c; ++k) y[base + (long long)k * inner] = x[base + (long long)k * inner] - lse;
    }
}

__device__ __forceinline__ void nll_one(const float* logp, const long long* tgt, const float* w, int c,
                                        int inner, long long ignore, int has_ignore, int i, float& loss,
                                        float& wt) {
    long long t = tgt[i];
    if (has_ignore && t == ignore) { loss = 0.0f; wt = 0.0f; return; }
    int in = i % inner, b = i / inner;
    wt = w ? w[t] : 1.0f;
    loss = -logp[((long long)b * c + t) * inner + in] * wt;
}

// reduction none: y [N, inner].
extern "C" __global__ void nll_none_f32(const float* logp, const long long* tgt, const float* w, float* y,
                                        int n, int c, int inner, long long ignore, int has_ignore) {
    int total = n * inner;
    GRID_STRIDE(i, total) {
        float l, wt;
        nll_one(logp, tgt, w, c, inner, ignore, has_ignore, i, l, wt);
        y[i] = l;
    }
}

// reduction sum (mean = 0) or mean (mean = 1) into y[0]: one block.
extern "C" __global__ void nll_reduce_f32(const float* logp, const long long* tgt, const float* w, float* y,
                                          int n, int c, int inner, long long ignore, int has_ignore, int mean) {
    __shared__ float sh[32];
    int total = n * inner;
    float ls = 0.0f, ws = 0.0f;
    for (int i = threadIdx.x; i < total; i += blockDim.x) {
        float l, wt;
        nll_one(logp, tgt, w, c, inner, ignore, has_ignore, i, l, wt);
        ls += l;
        ws += wt;
    }
    ls = block_sum(ls, sh);
    ws = block_sum(ws, sh);
    if (threadIdx.x == 0) y[0] = mean ? (ws == 0.0f ? 0.0f : ls / ws) : ls;
}

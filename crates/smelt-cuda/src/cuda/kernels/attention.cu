// Attention (plan::attention): present K/V, scores, softmax over keys, then P·V.
// Layouts: 4-D Q (B, Hq, S, D), K/V (B, Hkv, L, D); 3-D Q (B, S, Hq*D), K/V (B, L, Hkv*D).
// Present K/V and the scores are (B, H, *, *) row-major; query head h reads KV head
// h / (Hq / Hkv).
struct AttnParams {
    int b, hq, hkv, s, l, p, t, d, dv;
    int three_d, causal, qk_mode, mask_kind, mlast;
    int mst[4];
    int has_nonpad;
    float scale, softcap;
};

// out (B, Hkv, T, dd) = past (B, Hkv, P, dd) followed by cur (B, Hkv, L, dd) or, 3-D,
// (B, L, Hkv*dd). past may be null when P == 0.
extern "C" __global__ void attn_present_f32(const float* past, const float* cur, float* out, AttnParams p, int dd) {
    int n = p.b * p.hkv * p.t * dd;
    GRID_STRIDE(i, n) {
        int x = i % dd, r = i / dd;
        int t = r % p.t, bh = r / p.t;
        if (t < p.p) {
            out[i] = past[((long long)bh * p.p + t) * dd + x];
        } else {
            int j = t - p.p;
            long long src;
            if (p.three_d) {
                int b = bh / p.hkv, h = bh % p.hkv;
                src = (((long long)b * p.l + j) * p.hkv + h) * dd + x;
            } else {
                src = ((long long)bh * p.l + j) * dd + x;
            }
            out[i] = cur[src];
        }
    }
}

// sc (B, Hq, S, T) = scale * Q·Kᵀ (softcapped), plus the mask, causal and nonpad biases;
// qk (may be null) takes the value before the biases (mode 0/1) or after them (mode 2).
extern "C" __global__ void attn_scores_f32(const float* q, const float* k, const void* mask,
                                           const long long* nonpad, float* sc, float* qk, AttnParams p) {
    int n = p.b * p.hq * p.s * p.t;
    int group = p.hq / p.hkv;
    GRID_STRIDE(idx, n) {
        int j = idx % p.t, r = idx / p.t;
        int i = r % p.s, bh = r / p.s;
        int h = bh % p.hq, b = bh / p.hq;
        const float* qr = p.three_d ? q + (((long long)b * p.s + i) * p.hq + h) * p.d
                                    : q + (long long)r * p.d;
        const float* kr = k + (((long long)b * p.hkv + h / group) * p.t + j) * p.d;
        float acc = 0.0f;
        for (int x = 0; x < p.d; ++x) acc += qr[x] * kr[x];
        float v = acc * p.scale;
        if (p.softcap > 0.0f) v = p.softcap * tanhf(v / p.softcap);
        if (qk && p.qk_mode <= 1) qk[idx] = v;
        float bias = 0.0f;
        if (p.mask_kind) {
            if (j < p.mlast) {
                long long mo = (long long)b * p.mst[0] + (long long)h * p.mst[1] + (long long)i * p.mst[2] +
                               (long long)j * p.mst[3];
                if (p.mask_kind == 1) bias += ((const unsigned char*)mask)[mo] ? 0.0f : (-SM_INF);
                else bias += ((const float*)mask)[mo];
            } else {
                bias += (-SM_INF);
            }
        }
        if (p.causal && j > i + p.p) bias += (-SM_INF);
        if (p.has_nonpad && (long long)j >= nonpad[b]) bias += (-SM_INF);
        v += bias;
        sc[idx] = v;
        if (qk && p.qk_mode == 2) qk[idx] = v;
    }
}

// In-place softmax of each row of n scores (one block per row); qk (may be null) takes a
// copy. A fully masked row gives NaN, as the CPU op.
extern "C" __global__ void attn_softmax_f32(float* sc, float* qk, int rows, int n) {
    __shared__ float sh[32];
    int r = blockIdx.x;
    if (r >= rows) return;
    float* xr = sc + (long long)r * n;
    float m = (-SM_INF);
    for (int j = threadIdx.x; j < n; j += blockDim.x) m = fmaxf(m, xr[j]);
    m = block_max(m, sh);
    float s = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) s += expf(xr[j] - m);
    s = block_sum(s, sh);
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float v = expf(xr[j] - m) / s;
        xr[j] = v;
        if (qk) qk[(long long)r * n + j] = v;
    }
}

// y = P·V: one thread per output element, Y in the 4-D or 3-D layout.
extern "C" __global__ void attn_pv_f32(const float* pr, const float* v, float* y, AttnParams p) {
    int n = p.b * p.hq * p.s * p.dv;
    int group = p.hq / p.hkv;
    GRID_STRIDE(idx, n) {
        int x = idx % p.dv, r = idx / p.dv;
        int i = r % p.s, bh = r / p.s;
        int h = bh % p.hq, b = bh / p.hq;
        const float* row = pr + (long long)r * p.t;
        const float* vb = v + ((long long)b * p.hkv + h / group) * p.t * p.dv + x;
        float acc = 0.0f;
        for (int j = 0; j < p.t; ++j) acc += row[j] * vb[(long long)j * p.dv];
        long long o = p.three_d ? (((long long)b * p.s + i) * p.hq + h) * p.dv + x : (long long)idx;
        y[o] = acc;
    }
}

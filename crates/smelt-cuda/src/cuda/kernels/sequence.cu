// Recurrent sequence ops (plan::sequence).

struct LaParams {
    int b, t, hq, hk, dk, dv;
    int has_past, gating, decay_per_head, delta, beta_last;
    float scale;
};

// LinearAttention: each column m of each state S[b, h] (dk x dv) evolves on its own, so one
// thread per (b, h_kv, m) walks the T steps, holding its column in `state` (the
// present_state output) and writing Y for the query heads of its KV head. f32 sums in the
// CPU op's order.
extern "C" __global__ void linear_attn_f32(const float* q, const float* k, const float* v, const float* past,
                                           const float* decay, const float* beta, float* y, float* state,
                                           LaParams p) {
    int total = p.b * p.hk * p.dv;
    int group = p.hq / p.hk;
    GRID_STRIDE(i, total) {
        int m = i % p.dv, r = i / p.dv;
        int h = r % p.hk, bi = r / p.hk;
        long long so = (long long)r * p.dk * p.dv + m;
        float* s = state + so;
        for (int d = 0; d < p.dk; ++d) s[(long long)d * p.dv] = p.has_past ? past[so + (long long)d * p.dv] : 0.0f;
        for (int ti = 0; ti < p.t; ++ti) {
            long long base = (long long)bi * p.t + ti;
            const float* kt = k + base * p.hk * p.dk + (long long)h * p.dk;
            float vm = v[base * p.hk * p.dv + (long long)h * p.dv + m];
            if (p.gating) {
                for (int d = 0; d < p.dk; ++d) {
                    float g = p.decay_per_head ? decay[base * p.hk + h]
                                               : decay[base * p.hk * p.dk + (long long)h * p.dk + d];
                    s[(long long)d * p.dv] *= expf(g);
                }
            }
            if (p.delta) {
                float bv = beta[base * p.beta_last + (p.beta_last == 1 ? 0 : h)];
                float ret = 0.0f;
                for (int d = 0; d < p.dk; ++d) ret += s[(long long)d * p.dv] * kt[d];
                vm = bv * (vm - ret);
            }
            for (int d = 0; d < p.dk; ++d) s[(long long)d * p.dv] += kt[d] * vm;
            for (int hh = h * group; hh < (h + 1) * group; ++hh) {
                const float* qt = q + base * p.hq * p.dk + (long long)hh * p.dk;
                float acc = 0.0f;
                for (int d = 0; d < p.dk; ++d) acc += qt[d] * s[(long long)d * p.dv];
                y[base * p.hq * p.dv + (long long)hh * p.dv + m] = p.scale * acc;
            }
        }
    }
}

// CausalConvWithState: threads over y [B, C, L] then state [B, C, K-1]; the padded row is
// past (zeros when null) followed by x. Sums in double, as the CPU op.
extern "C" __global__ void causal_conv_f32(const float* x, const float* w, const float* bias, const float* past,
                                           float* y, float* state, int b, int c, int l, int k, int silu) {
    int ny = b * c * l, km = k - 1;
    int total = ny + b * c * km;
    GRID_STRIDE(i, total) {
        int bc, pos;
        if (i < ny) { bc = i / l; pos = i % l; }
        else { int j = i - ny; bc = j / km; pos = l + j % km; }  // padded index - (k - 1)
        // padded[u] for u in 0..l+k-1: u < k-1 past, else x[u - (k-1)]
        if (i < ny) {
            int ch = bc % c;
            double acc = bias ? (double)bias[ch] : 0.0;
            for (int j = 0; j < k; ++j) {
                int u = pos + j;
                double pv = u < km ? (past ? (double)past[(long long)bc * km + u] : 0.0)
                                   : (double)x[(long long)bc * l + (u - km)];
                acc += pv * (double)w[(long long)ch * k + j];
            }
            if (silu) acc /= 1.0 + exp(-acc);
            y[i] = (float)acc;
        } else {
            int u = pos;  // state[j] = padded[l + j], j in 0..k-1
            float pv = u < km ? (past ? past[(long long)bc * km + u] : 0.0f) : x[(long long)bc * l + (u - km)];
            state[i - ny] = pv;
        }
    }
}

struct RopeParams {
    int n, b, s, h, d, half, three_d, interleaved, has_rows;
};

// RotaryEmbedding (plan::rotary): one thread per element; rows (may be null) holds the
// cache row offset of each (b, s). Arithmetic in double, as the CPU op.
extern "C" __global__ void rotary_f32(const float* x, const float* cosc, const float* sinc, const int* rows,
                                      float* y, RopeParams p) {
    GRID_STRIDE(e, p.n) {
        int j = e % p.d, r = e / p.d;
        int si, bi;
        if (p.three_d) { r /= p.h; si = r % p.s; bi = r / p.s; }
        else { si = (r % p.s); bi = r / p.s / p.h; }
        int rd = 2 * p.half;
        if (j >= rd) { y[e] = x[e]; continue; }
        int k, j1, j2;
        bool first;
        if (p.interleaved) { k = j / 2; first = (j % 2) == 0; j1 = 2 * k; j2 = 2 * k + 1; }
        else { first = j < p.half; k = first ? j : j - p.half; j1 = k; j2 = k + p.half; }
        int bs = bi * p.s + si;
        int c0 = p.has_rows ? rows[bs] : bs * p.half;
        double c = (double)cosc[c0 + k], sn = (double)sinc[c0 + k];
        double x1 = (double)x[e - j + j1], x2 = (double)x[e - j + j2];
        y[e] = (float)(first ? c * x1 - sn * x2 : sn * x1 + c * x2);
    }
}

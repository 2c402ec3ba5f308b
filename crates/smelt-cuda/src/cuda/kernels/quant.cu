// QuantizeLinear / DequantizeLinear (u8) and DynamicQuantizeLinear (plan::quant).
struct QMap {
    int kind, dim, inner, bs, nb;
};

// The parameter index of flat element i of x (the CPU op's ParamMap::index).
__device__ __forceinline__ int qmap_index(const QMap& m, int i) {
    if (m.kind == 0) return 0;
    if (m.kind == 1) return (i / m.inner) % m.dim;
    int o = i / (m.dim * m.inner), a = (i / m.inner) % m.dim, r = i % m.inner;
    return (o * m.nb + a / m.bs) * m.inner + r;
}

// y = (x - zp) * scale; zp may be null.
extern "C" __global__ void dequant_u8_f32(const unsigned char* x, const float* scale, const unsigned char* zp,
                                          float* y, int n, QMap sm, QMap zm) {
    GRID_STRIDE(i, n) {
        float z = zp ? (float)zp[qmap_index(zm, i)] : 0.0f;
        y[i] = ((float)x[i] - z) * scale[qmap_index(sm, i)];
    }
}

// y = clamp(rint(x / scale) + zp, 0, 255); zp may be null.
extern "C" __global__ void quant_f32_u8(const float* x, const float* scale, const unsigned char* zp,
                                        unsigned char* y, int n, QMap sm, QMap zm) {
    GRID_STRIDE(i, n) {
        float z = zp ? (float)zp[qmap_index(zm, i)] : 0.0f;
        float q = rintf(x[i] / scale[qmap_index(sm, i)]) + z;
        q = fminf(fmaxf(q, 0.0f), 255.0f);
        y[i] = (unsigned char)q;
    }
}

// DynamicQuantizeLinear, step 1 (one block): the range [min(0, min x), max(0, max x)]
// gives scale = (max - min, or 1 when equal) / 255 and zp = rint(clamp(-min / scale, 0, 255)).
extern "C" __global__ void dql_params_f32(const float* x, int n, float* scale, unsigned char* zp) {
    __shared__ float sh[32];
    float mx = 0.0f, mn = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) { mx = fmaxf(mx, x[i]); mn = fminf(mn, x[i]); }
    mx = block_max(mx, sh);
    mn = -block_max(-mn, sh);
    if (threadIdx.x == 0) {
        float s = (mx == mn ? 1.0f : mx - mn) / 255.0f;
        float z = rintf(fminf(fmaxf(0.0f - mn / s, 0.0f), 255.0f));
        scale[0] = s;
        zp[0] = (unsigned char)z;
    }
}

// DynamicQuantizeLinear, step 2: y = clamp(rint(x / scale) + zp, 0, 255).
extern "C" __global__ void dql_apply_f32(const float* x, unsigned char* y, int n, const float* scale,
                                         const unsigned char* zp) {
    float s = scale[0], z = (float)zp[0];
    GRID_STRIDE(i, n) {
        float q = fminf(fmaxf(rintf(x[i] / s) + z, 0.0f), 255.0f);
        y[i] = (unsigned char)q;
    }
}

// Row-wise normalisations: one block per row of n contiguous elements.

extern "C" __global__ void softmax_rows_f32(const float* x, float* y, int rows, int n, int log_softmax) {
    __shared__ float sh[32];
    int r = blockIdx.x;
    if (r >= rows) return;
    const float* xr = x + (unsigned long long)r * n;
    float* yr = y + (unsigned long long)r * n;
    float m = (-SM_INF);
    for (int j = threadIdx.x; j < n; j += blockDim.x) m = fmaxf(m, xr[j]);
    m = block_max(m, sh);
    float s = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) s += expf(xr[j] - m);
    s = block_sum(s, sh);
    if (log_softmax) {
        float ls = logf(s);
        for (int j = threadIdx.x; j < n; j += blockDim.x) yr[j] = xr[j] - m - ls;
    } else {
        float inv = 1.0f / s;
        for (int j = threadIdx.x; j < n; j += blockDim.x) yr[j] = expf(xr[j] - m) * inv;
    }
}

// Softmax (log_softmax: LogSoftmax) of rows of n <= 1024 elements: one warp per row, the
// row held in registers (32 per lane), warp-shuffle reductions; blockDim.x / 32 rows per
// block.
extern "C" __global__ void softmax_warp_f32(const float* x, float* y, int rows, int n, int log_softmax) {
    int r = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
    if (r >= rows) return;
    const float* xr = x + (unsigned long long)r * n;
    float* yr = y + (unsigned long long)r * n;
    float v[32];
    float m = (-SM_INF);
#pragma unroll
    for (int k = 0; k < 32; ++k) {
        int j = lane + 32 * k;
        v[k] = j < n ? xr[j] : (-SM_INF);
        m = fmaxf(m, v[k]);
    }
    m = warp_max(m);
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < 32; ++k) {
        int j = lane + 32 * k;
        float e = j < n ? expf(v[k] - m) : 0.0f;
        s += e;
        if (!log_softmax) v[k] = e;
    }
    s = warp_sum(s);
    float ls = logf(s), inv = 1.0f / s;
#pragma unroll
    for (int k = 0; k < 32; ++k) {
        int j = lane + 32 * k;
        if (j < n) yr[j] = log_softmax ? v[k] - m - ls : v[k] * inv;
    }
}

// LayerNormalization over the last n elements: y = (x - mean) / sqrt(var + eps) * scale + bias.
// scale and bias hold n elements; bias may be null; mean_out and inv_out (one value per
// row) may be null.
// y16 (may be null): y's values also rounded to 16 bits (to_16bit, `bf`), for GEMM readers.
extern "C" __global__ void layernorm_rows_f32(const float* x, const float* scale, const float* bias, float* y,
                                               float* mean_out, float* inv_out, int rows, int n, float eps,
                                               unsigned short* y16, int bf) {
    __shared__ float sh[32];
    int r = blockIdx.x;
    if (r >= rows) return;
    const float* xr = x + (unsigned long long)r * n;
    float* yr = y + (unsigned long long)r * n;
    float s = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) s += xr[j];
    float mean = block_sum(s, sh) / (float)n;
    float v = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) { float d = xr[j] - mean; v += d * d; }
    float inv = rsqrtf(block_sum(v, sh) / (float)n + eps);
    if (threadIdx.x == 0 && mean_out) { mean_out[r] = mean; inv_out[r] = inv; }
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float o = (xr[j] - mean) * inv * scale[j];
        o = bias ? o + bias[j] : o;
        yr[j] = o;
        if (y16) y16[(unsigned long long)r * n + j] = to_16bit(o, bf);
    }
}

// LayerNormalization with a warp per row, for rows of n <= 128 V values, n % 4 == 0, the
// row held in registers (read once) and four values per load. x is f32 (xt 0) or 16-bit
// (xt 1: f16, 2: bf16; y16's type is bf's); y (f32) and y16 (16-bit) may each be null;
// mean_out / inv_out as in layernorm_rows_f32. Pointers: x, scale, bias, y 16-byte
// aligned for f32, x and y16 8-byte aligned for 16 bits (the launcher checks).
template <int V>
__device__ __forceinline__ void layernorm_warp(const void* x, int xt, const float* scale, const float* bias,
                                               float* y, float* mean_out, float* inv_out, int rows, int n,
                                               float eps, unsigned short* y16, int bf) {
    int r = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (r >= rows) return;
    int n4 = n >> 2;
    unsigned long long base = (unsigned long long)r * n;
    float4 v[V];
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < V; ++k) {
        int j = lane + 32 * k;
        float4 a = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (j < n4) {
            if (xt == 0) {
                a = reinterpret_cast<const float4*>((const float*)x + base)[j];
            } else {
                uint2 h = reinterpret_cast<const uint2*>((const unsigned short*)x + base)[j];
                int b16 = xt == 2;
                a.x = from_16bit((unsigned short)(h.x & 0xffffu), b16);
                a.y = from_16bit((unsigned short)(h.x >> 16), b16);
                a.z = from_16bit((unsigned short)(h.y & 0xffffu), b16);
                a.w = from_16bit((unsigned short)(h.y >> 16), b16);
            }
        }
        v[k] = a;
        s += (a.x + a.y) + (a.z + a.w);
    }
    float mean = warp_sum(s) / (float)n;
    float q = 0.0f;
#pragma unroll
    for (int k = 0; k < V; ++k) {
        if (lane + 32 * k < n4) {
            float dx = v[k].x - mean, dy = v[k].y - mean, dz = v[k].z - mean, dw = v[k].w - mean;
            q += (dx * dx + dy * dy) + (dz * dz + dw * dw);
        }
    }
    float inv = rsqrtf(warp_sum(q) / (float)n + eps);
    if (lane == 0 && mean_out) { mean_out[r] = mean; inv_out[r] = inv; }
#pragma unroll
    for (int k = 0; k < V; ++k) {
        int j = lane + 32 * k;
        if (j >= n4) continue;
        float4 sc = reinterpret_cast<const float4*>(scale)[j];
        float4 o;
        o.x = (v[k].x - mean) * inv * sc.x;
        o.y = (v[k].y - mean) * inv * sc.y;
        o.z = (v[k].z - mean) * inv * sc.z;
        o.w = (v[k].w - mean) * inv * sc.w;
        if (bias) {
            float4 b = reinterpret_cast<const float4*>(bias)[j];
            o.x += b.x; o.y += b.y; o.z += b.z; o.w += b.w;
        }
        if (y) reinterpret_cast<float4*>(y + base)[j] = o;
        if (y16) {
            uint2 h;
            h.x = (unsigned int)to_16bit(o.x, bf) | ((unsigned int)to_16bit(o.y, bf) << 16);
            h.y = (unsigned int)to_16bit(o.z, bf) | ((unsigned int)to_16bit(o.w, bf) << 16);
            reinterpret_cast<uint2*>(y16 + base)[j] = h;
        }
    }
}
#define LAYERNORM_WARP(V)                                                                              \
    extern "C" __global__ void layernorm_warp##V(const void* x, int xt, const float* scale, const float* bias, \
                                                 float* y, float* mean_out, float* inv_out, int rows, int n,  \
                                                 float eps, unsigned short* y16, int bf) {                    \
        layernorm_warp<V>(x, xt, scale, bias, y, mean_out, inv_out, rows, n, eps, y16, bf);                   \
    }
LAYERNORM_WARP(2)
LAYERNORM_WARP(4)
LAYERNORM_WARP(8)
LAYERNORM_WARP(16)

// BatchNormalization (inference) over x laid out [.., c, inner].
extern "C" __global__ void batchnorm_f32(const float* x, float* y, const float* scale, const float* bias,
                                          const float* mean, const float* var, int c, int inner, int n, float eps) {
    GRID_STRIDE(i, n) {
        int ch = (i / inner) % c;
        y[i] = (x[i] - mean[ch]) * rsqrtf(var[ch] + eps) * scale[ch] + bias[ch];
    }
}

// RMSNormalization over rows of n elements: y = x / sqrt(mean(x^2) + eps) * scale, the
// scale read through `sp` (its strides over the normalised dims in `a`, 0 = broadcast).
extern "C" __global__ void rmsnorm_rows_f32(const float* x, const float* scale, float* y, int rows, int n,
                                             float eps, Strides sp) {
    __shared__ float sh[32];
    int r = blockIdx.x;
    if (r >= rows) return;
    const float* xr = x + (unsigned long long)r * n;
    float* yr = y + (unsigned long long)r * n;
    float s = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) s += xr[j] * xr[j];
    float inv = 1.0f / sqrtf(block_sum(s, sh) / (float)n + eps);
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        int so, u1, u2;
        offsets3(sp, j, so, u1, u2);
        yr[j] = xr[j] * inv * scale[so];
    }
}

// GroupNormalization / InstanceNormalization: x [N, C, sp] seen as rows of blk = cpg * sp
// elements (one per (n, group); one block per row). y = (x - mean) * (scale[q] / sqrt(var +
// eps)) + bias[q], q = the channel (per_ch) or the group.
extern "C" __global__ void groupnorm_rows_f32(const float* x, const float* scale, const float* bias, float* y,
                                              int rows, int groups, int cpg, int sp, int per_ch, float eps) {
    __shared__ float sh[32];
    int r = blockIdx.x;
    if (r >= rows) return;
    int blk = cpg * sp, gi = r % groups;
    const float* xr = x + (unsigned long long)r * blk;
    float* yr = y + (unsigned long long)r * blk;
    float s = 0.0f;
    for (int j = threadIdx.x; j < blk; j += blockDim.x) s += xr[j];
    float mean = block_sum(s, sh) / (float)blk;
    float v = 0.0f;
    for (int j = threadIdx.x; j < blk; j += blockDim.x) { float d = xr[j] - mean; v += d * d; }
    float inv = 1.0f / sqrtf(block_sum(v, sh) / (float)blk + eps);
    for (int j = threadIdx.x; j < blk; j += blockDim.x) {
        int q = per_ch ? gi * cpg + j / sp : gi;
        yr[j] = (xr[j] - mean) * (scale[q] * inv) + bias[q];
    }
}

// LpNormalization (p 1 or 2) of x [outer, n, inner] along n: one thread per (outer, inner).
extern "C" __global__ void lpnorm_mid_f32(const float* x, float* y, int outer, int n, int inner, int p) {
    int total = outer * inner;
    GRID_STRIDE(i, total) {
        int in = i % inner, o = i / inner;
        long long base = (long long)o * n * inner + in;
        float acc = 0.0f;
        for (int k = 0; k < n; ++k) {
            float v = x[base + (long long)k * inner];
            acc += p == 1 ? fabsf(v) : v * v;
        }
        float nrm = p == 1 ? acc : sqrtf(acc);
        float a = nrm == 0.0f ? 0.0f : 1.0f / nrm;
        for (int k = 0; k < n; ++k) y[base + (long long)k * inner] = x[base + (long long)k * inner] * a;
    }
}

// Block-wide double sum (blocks of a power-of-two size <= 1024; `sh` holds 32 doubles).
__device__ double block_sum_d(double v, double* sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    v = (threadIdx.x < nw) ? sh[threadIdx.x] : 0.0;
    if (w == 0)
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    return sh[0];
}

// MeanVarianceNormalization: one block per kept index; `kept` and `red` hold the kept and
// reduced dims with x's strides (in `a`). Statistics in double, as the CPU op:
// y = (x - mean) * (1 / (sqrt(max(E[x^2] - mean^2, 0)) + 1e-9)), mean and factor then f32.
extern "C" __global__ void mvn_f32(const float* x, float* y, int groups, int r, Strides kept, Strides red) {
    __shared__ double sh[32];
    int g = blockIdx.x;
    if (g >= groups) return;
    int base, u1, u2;
    offsets3(kept, g, base, u1, u2);
    double s = 0.0, q = 0.0;
    for (int j = threadIdx.x; j < r; j += blockDim.x) {
        int o;
        offsets3(red, j, o, u1, u2);
        double v = x[base + o];
        s += v;
        q += v * v;
    }
    double md = block_sum_d(s, sh) / (double)r;
    double ms = block_sum_d(q, sh) / (double)r;
    float m = (float)md;
    float inv = (float)(1.0 / (sqrt(fmax(ms - md * md, 0.0)) + 1e-9));
    for (int j = threadIdx.x; j < r; j += blockDim.x) {
        int o;
        offsets3(red, j, o, u1, u2);
        y[base + o] = (x[base + o] - m) * inv;
    }
}

// Softmax (kind 0), LogSoftmax (1), Hardmax (2) of x [outer, n, inner] along n: one thread
// per (outer, inner). Hardmax is 1 at the first maximum (NaN never is), 0 elsewhere.
extern "C" __global__ void softmax_mid_f32(const float* x, float* y, int outer, int n, int inner, int kind) {
    int total = outer * inner;
    GRID_STRIDE(i, total) {
        int in = i % inner, o = i / inner;
        long long base = (long long)o * n * inner + in;
        float m = (-SM_INF);
        int arg = 0;
        for (int k = 0; k < n; ++k) {
            float v = x[base + (long long)k * inner];
            if (v > m) { m = v; arg = k; }
        }
        if (kind == 2) {
            for (int k = 0; k < n; ++k) y[base + (long long)k * inner] = k == arg ? 1.0f : 0.0f;
            continue;
        }
        float s = 0.0f;
        for (int k = 0; k < n; ++k) s += expf(x[base + (long long)k * inner] - m);
        if (kind == 1) {
            float l = m + logf(s);
            for (int k = 0; k < n; ++k) y[base + (long long)k * inner] = x[base + (long long)k * inner] - l;
        } else {
            float inv = 1.0f / s;
            for (int k = 0; k < n; ++k) y[base + (long long)k * inner] = expf(x[base + (long long)k * inner] - m) * inv;
        }
    }
}

// BatchNormalization in training mode over x [nb, c, sp]: one block per channel takes the
// batch mean and population variance (two passes), normalises with them, and writes the
// running statistics (input * momentum + batch * (1 - momentum)) and the batch ones; the
// four statistic outputs may be null.
extern "C" __global__ void batchnorm_train_f32(const float* x, const float* scale, const float* bias,
                                               const float* mean_in, const float* var_in, float* y, float* rm,
                                               float* rv, float* bm, float* bv, int nb, int c, int sp, float eps,
                                               float mo) {
    __shared__ float sh[32];
    int ch = blockIdx.x;
    if (ch >= c) return;
    int cnt = nb * sp;
    float s = 0.0f;
    for (int j = threadIdx.x; j < cnt; j += blockDim.x) s += x[((long long)(j / sp) * c + ch) * sp + j % sp];
    float m = block_sum(s, sh) / (float)cnt;
    float q = 0.0f;
    for (int j = threadIdx.x; j < cnt; j += blockDim.x) {
        float d = x[((long long)(j / sp) * c + ch) * sp + j % sp] - m;
        q += d * d;
    }
    float v = block_sum(q, sh) / (float)cnt;
    float a = scale[ch] / sqrtf(v + eps);
    for (int j = threadIdx.x; j < cnt; j += blockDim.x) {
        long long k = ((long long)(j / sp) * c + ch) * sp + j % sp;
        y[k] = (x[k] - m) * a + bias[ch];
    }
    if (threadIdx.x == 0) {
        if (rm) rm[ch] = mean_in[ch] * mo + m * (1.0f - mo);
        if (rv) rv[ch] = var_in[ch] * mo + v * (1.0f - mo);
        if (bm) bm[ch] = m;
        if (bv) bv[ch] = v;
    }
}

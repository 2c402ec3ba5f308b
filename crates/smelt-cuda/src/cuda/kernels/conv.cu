// Convolution pieces (plan::ConvPlan fills ConvP). NCHW layout; a 1-d conv is H = 1.
struct ConvP {
    int n, c, h, w;      // input
    int m, oh, ow;       // output channels and spatial size
    int kh, kw, sh, sw, ph, pw, dh, dw;
    int groups;
};

// col is [n][c*kh*kw][oh*ow]; taps that fall in the padding are 0. Launched on a 2-d grid:
// blockIdx.y walks the column rows (b, ch, ky, kx), decoded once per row, and the threads
// of x walk the row's output pixels (one division per element). `st(i, v)` stores element
// i of col.
template <class Store> __device__ __forceinline__ void im2col_rows(const float* x, Store st, const ConvP& p) {
    int P = p.oh * p.ow, K = p.c * p.kh * p.kw;
    long long rows = (long long)p.n * K;
    for (long long r = blockIdx.y; r < rows; r += gridDim.y) {
        int k = (int)(r % K), b = (int)(r / K);
        int kx = k % p.kw, t = k / p.kw;
        int ky = t % p.kh, ch = t / p.kh;
        const float* xc = x + ((long long)b * p.c + ch) * p.h * p.w;
        int y0 = ky * p.dh - p.ph, x0 = kx * p.dw - p.pw;
        for (int pix = blockIdx.x * blockDim.x + threadIdx.x; pix < P; pix += blockDim.x * gridDim.x) {
            int oy = pix / p.ow, ox = pix - oy * p.ow;
            int iy = oy * p.sh + y0, ix = ox * p.sw + x0;
            float v = (iy >= 0 && iy < p.h && ix >= 0 && ix < p.w) ? xc[iy * p.w + ix] : 0.0f;
            st(r * P + pix, v);
        }
    }
}

struct StoreF32 {
    float* col;
    __device__ __forceinline__ void operator()(long long i, float v) const { col[i] = v; }
};

extern "C" __global__ void im2col_f32(const float* x, float* col, ConvP p) {
    im2col_rows(x, StoreF32{col}, p);
}

// Direct convolution, one thread per output element (grouped and depthwise convs).
// w is [m][c/groups][kh][kw]; bias may be null.
extern "C" __global__ void conv2d_direct_f32(const float* x, const float* wt, const float* bias, float* y, ConvP p) {
    int total = p.n * p.m * p.oh * p.ow;
    int cg = p.c / p.groups, mg = p.m / p.groups;
    GRID_STRIDE(i, total) {
        int ox = i % p.ow, t = i / p.ow;
        int oy = t % p.oh; t /= p.oh;
        int oc = t % p.m, b = t / p.m;
        int g = oc / mg;
        float acc = bias ? bias[oc] : 0.0f;
        for (int ci = 0; ci < cg; ++ci) {
            const float* xc = x + ((unsigned long long)(b * p.c + g * cg + ci)) * p.h * p.w;
            const float* wc = wt + ((unsigned long long)(oc * cg + ci)) * p.kh * p.kw;
            for (int ky = 0; ky < p.kh; ++ky) {
                int iy = oy * p.sh - p.ph + ky * p.dh;
                if (iy < 0 || iy >= p.h) continue;
                for (int kx = 0; kx < p.kw; ++kx) {
                    int ix = ox * p.sw - p.pw + kx * p.dw;
                    if (ix < 0 || ix >= p.w) continue;
                    acc += xc[iy * p.w + ix] * wc[ky * p.kw + kx];
                }
            }
        }
        y[i] = acc;
    }
}

// y[i] += bias[(i / inner) % c] for y of n elements laid out [.., c, inner] (bias may be
// null), then Relu when `relu` (NaN stays, as unary_f's Relu).
extern "C" __global__ void channel_bias_f32(float* y, const float* bias, int c, int inner, int n, int relu) {
    GRID_STRIDE(i, n) {
        float v = y[i];
        if (bias) v += bias[(i / inner) % c];
        if (relu) v = v < 0.0f ? 0.0f : v;
        y[i] = v;
    }
}

// channel_bias_f32 on 16-bit y (f16, or bf16 with `bf`): the sum and Relu in f32, rounded
// once to 16 bits.
extern "C" __global__ void channel_bias_16(unsigned short* y, const float* bias, int c, int inner, int n, int relu, int bf) {
    GRID_STRIDE(i, n) {
        float v = from_16bit(y[i], bf);
        if (bias) v += bias[(i / inner) % c];
        if (relu) v = v < 0.0f ? 0.0f : v;
        y[i] = to_16bit(v, bf);
    }
}

// channel_bias_16 eight values at a time: n8 groups of 8 (y 16-byte aligned); the channel
// is found once per group and stepped at each plane boundary, so planes of any size
// (inner < 8 too) are handled.
extern "C" __global__ void channel_bias_16x8(unsigned short* y, const float* bias, int c, int inner, int n8, int relu, int bf) {
    GRID_STRIDE(v, n8) {
        int i = v * 8, q = i / inner, j = i - q * inner, ch = q % c;
        uint4 w = reinterpret_cast<uint4*>(y)[v];
        unsigned int u[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
        for (int e = 0; e < 8; ++e) {
            unsigned int word = u[e >> 1];
            float val = from_16bit((unsigned short)((e & 1) ? word >> 16 : word & 0xffffu), bf);
            if (bias) val += bias[ch];
            if (relu) val = val < 0.0f ? 0.0f : val;
            unsigned int h = to_16bit(val, bf);
            u[e >> 1] = (e & 1) ? ((word & 0xffffu) | (h << 16)) : ((word & 0xffff0000u) | h);
            if (++j == inner) { j = 0; ch = ch + 1 == c ? 0 : ch + 1; }
        }
        reinterpret_cast<uint4*>(y)[v] = make_uint4(u[0], u[1], u[2], u[3]);
    }
}

// ConvTranspose, one thread per output element: y[b, oc, oy, ox] sums x[b, c, iy, ix] *
// w[c, oc % mg, ky, kx] over the group's input channels and the taps with
// oy = iy * sh - ph + ky * dh (and likewise for x). w is [c][m/groups][kh][kw].
extern "C" __global__ void conv_transpose2d_f32(const float* x, const float* wt, const float* bias, float* y, ConvP p) {
    int total = p.n * p.m * p.oh * p.ow;
    int cg = p.c / p.groups, mg = p.m / p.groups;
    GRID_STRIDE(i, total) {
        int ox = i % p.ow, t = i / p.ow;
        int oy = t % p.oh; t /= p.oh;
        int oc = t % p.m, b = t / p.m;
        int g = oc / mg, ocg = oc % mg;
        float acc = bias ? bias[oc] : 0.0f;
        for (int ky = 0; ky < p.kh; ++ky) {
            int ty = oy + p.ph - ky * p.dh;
            if (ty < 0 || ty % p.sh) continue;
            int iy = ty / p.sh;
            if (iy >= p.h) continue;
            for (int kx = 0; kx < p.kw; ++kx) {
                int tx = ox + p.pw - kx * p.dw;
                if (tx < 0 || tx % p.sw) continue;
                int ix = tx / p.sw;
                if (ix >= p.w) continue;
                for (int ci = 0; ci < cg; ++ci) {
                    int ch = g * cg + ci;
                    acc += x[((unsigned long long)(b * p.c + ch) * p.h + iy) * p.w + ix]
                         * wt[(((unsigned long long)ch * mg + ocg) * p.kh + ky) * p.kw + kx];
                }
            }
        }
        y[i] = acc;
    }
}

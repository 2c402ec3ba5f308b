// 2-d pooling over NCHW (plan::pool fills PoolP; mode 0 = max, 1 = average), and the
// resampling pass of Resize.
struct PoolP {
    int nc, h, w, oh, ow;
    int kh, kw, sh, sw, ph, pw, dh, dw;
    int peh, pew;  // end pads (the count_include_pad divisor)
    int mode, count_include_pad;
};

extern "C" __global__ void pool2d_f32(const float* x, float* y, PoolP p) {
    int total = p.nc * p.oh * p.ow;
    GRID_STRIDE(i, total) {
        int ox = i % p.ow, t = i / p.ow;
        int oy = t % p.oh, c = t / p.oh;
        const float* xc = x + (unsigned long long)c * p.h * p.w;
        float acc = p.mode == 0 ? (-SM_INF) : 0.0f;
        int cnt = 0;
        for (int ky = 0; ky < p.kh; ++ky) {
            int iy = oy * p.sh - p.ph + ky * p.dh;
            for (int kx = 0; kx < p.kw; ++kx) {
                int ix = ox * p.sw - p.pw + kx * p.dw;
                bool inside = iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
                if (p.mode == 0) {
                    if (inside) { float v = xc[iy * p.w + ix]; acc = (v > acc || v != v) ? v : acc; }
                } else {
                    // count_include_pad counts padding taps but not taps past the padded edge
                    bool in_pad = iy >= -p.ph && iy < p.h + p.peh && ix >= -p.pw && ix < p.w + p.pew;
                    if (inside) { acc += xc[iy * p.w + ix]; cnt++; }
                    else if (p.count_include_pad && in_pad) cnt++;
                }
            }
        }
        y[i] = p.mode == 0 ? acc : (cnt > 0 ? acc / (float)cnt : 0.0f);
    }
}

// Resize pass: x [outer, dim, inner] -> y [outer, out, inner]; output position j takes
// sum_k w[j*n+k] * x[idx[j*n+k]] along the axis (zero weights skipped, as on the CPU).
extern "C" __global__ void resample_axis_f32(const float* x, float* y, int outer, int dim, int inner,
                                              int out, int n, const int* idx, const float* w) {
    int total = outer * out * inner;
    GRID_STRIDE(i, total) {
        int in = i % inner, r = i / inner;
        int j = r % out, o = r / out;
        const float* src = x + (unsigned long long)o * dim * inner + in;
        float acc = 0.0f;
        for (int k = 0; k < n; ++k) {
            float wt = w[j * n + k];
            if (wt != 0.0f) acc += wt * src[(unsigned long long)idx[j * n + k] * inner];
        }
        y[i] = acc;
    }
}

// Pooling over NC + 3 spatial dims (plan::pool fills PoolP, 1-d and 2-d as 3-d with
// leading dims of 1; mode 0 = max, 1 = average), and the resampling pass of Resize.
struct PoolP {
    int nc;
    int i[3], o[3], k[3], s[3], p[3], d[3];
    int pe[3];  // end pads (the count_include_pad divisor)
    int mode, count_include_pad;
};

extern "C" __global__ void pool_f32(const float* x, float* y, PoolP p) {
    int total = p.nc * p.o[0] * p.o[1] * p.o[2];
    GRID_STRIDE(i, total) {
        int ox = i % p.o[2], t = i / p.o[2];
        int oy = t % p.o[1]; t /= p.o[1];
        int oz = t % p.o[0], c = t / p.o[0];
        const float* xc = x + (unsigned long long)c * p.i[0] * p.i[1] * p.i[2];
        float acc = p.mode == 0 ? (-SM_INF) : 0.0f;
        int cnt = 0;
        for (int kz = 0; kz < p.k[0]; ++kz) {
            int iz = oz * p.s[0] - p.p[0] + kz * p.d[0];
            for (int ky = 0; ky < p.k[1]; ++ky) {
                int iy = oy * p.s[1] - p.p[1] + ky * p.d[1];
                for (int kx = 0; kx < p.k[2]; ++kx) {
                    int ix = ox * p.s[2] - p.p[2] + kx * p.d[2];
                    bool inside = iz >= 0 && iz < p.i[0] && iy >= 0 && iy < p.i[1] && ix >= 0 && ix < p.i[2];
                    if (p.mode == 0) {
                        if (inside) {
                            float v = xc[(iz * p.i[1] + iy) * p.i[2] + ix];
                            acc = (v > acc || v != v) ? v : acc;
                        }
                    } else {
                        // count_include_pad counts padding taps but not taps past the padded edge
                        bool in_pad = iz >= -p.p[0] && iz < p.i[0] + p.pe[0] && iy >= -p.p[1] &&
                                      iy < p.i[1] + p.pe[1] && ix >= -p.p[2] && ix < p.i[2] + p.pe[2];
                        if (inside) { acc += xc[(iz * p.i[1] + iy) * p.i[2] + ix]; cnt++; }
                        else if (p.count_include_pad && in_pad) cnt++;
                    }
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

// Pooling over NC + 3 spatial dims (plan::pool fills PoolP, 1-d and 2-d as 3-d with
// leading dims of 1; mode 0 = max, 1 = average), and the resampling pass of Resize.
// Max: the first maximum in window order, a NaN winning over numbers (as the CPU op);
// a window with no tap inside the input gives 0. `idx` (optional, may be null): MaxPool's
// Indices, the flat input index of the maximum, row-major within the plane or
// column-major for storage_order 1.
struct PoolP {
    int nc;
    int i[3], o[3], k[3], s[3], p[3], d[3];
    int pe[3];  // end pads (the count_include_pad divisor)
    int mode, count_include_pad, storage_order;
};

extern "C" __global__ void pool_f32(const float* x, float* y, long long* idx, PoolP p) {
    int total = p.nc * p.o[0] * p.o[1] * p.o[2];
    long long plane = (long long)p.i[0] * p.i[1] * p.i[2];
    GRID_STRIDE(i, total) {
        int ox = i % p.o[2], t = i / p.o[2];
        int oy = t % p.o[1]; t /= p.o[1];
        int oz = t % p.o[0], c = t / p.o[0];
        const float* xc = x + c * plane;
        float acc = 0.0f;
        int cnt = 0, az = 0, ay = 0, ax = 0;
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
                            if (cnt == 0 || v > acc || (v != v && acc == acc)) {
                                acc = v; az = iz; ay = iy; ax = ix;
                            }
                            cnt++;
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
        if (idx) {
            long long off = p.storage_order == 0
                ? ((long long)az * p.i[1] + ay) * p.i[2] + ax
                : az + (long long)ay * p.i[0] + (long long)ax * p.i[0] * p.i[1];
            idx[i] = cnt > 0 ? c * plane + off : c * plane;
        }
    }
}

// MaxUnpool, pass 1: winner[pos] = the largest input position writing pos (the CPU writes
// in order, so the last one wins); an index outside [0, n_default) sets *bad.
// `pos` maps the index over the default unpooled shape `dflt` into the output shape `os`
// (zero-extended at the end of each dim); rank <= 5.
struct UnpoolP {
    int rank, nx;
    int dflt[5], os[5];
    long long n_default;
};

__device__ long long unpool_pos(long long v, const UnpoolP& p) {
    long long out = 0, mul = 1;
    for (int d = p.rank - 1; d >= 0; --d) {
        out += (v % p.dflt[d]) * mul;
        v /= p.dflt[d];
        mul *= p.os[d];
    }
    return out;
}

extern "C" __global__ void unpool_claim(const long long* idx, int* winner, int* bad, UnpoolP p) {
    GRID_STRIDE(i, p.nx) {
        long long v = idx[i];
        if (v < 0 || v >= p.n_default) { atomicExch(bad, 1); continue; }
        atomicMax(&winner[unpool_pos(v, p)], i);
    }
}

extern "C" __global__ void unpool_write(const float* x, const long long* idx, const int* winner, float* y, UnpoolP p) {
    GRID_STRIDE(i, p.nx) {
        long long v = idx[i];
        if (v < 0 || v >= p.n_default) continue;
        long long pos = unpool_pos(v, p);
        if (winner[pos] == i) y[pos] = x[i];
    }
}

extern "C" __global__ void pool_fill_i32(int* y, int v, int n) {
    GRID_STRIDE(i, n) { y[i] = v; }
}

extern "C" __global__ void pool_fill_f32(float* y, float v, int n) {
    GRID_STRIDE(i, n) { y[i] = v; }
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

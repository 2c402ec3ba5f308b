// GridSample (plan::grid_sample): one thread per output (b, ch, o); coordinates, weights
// and the sum in double, as the CPU op.
struct GsParams {
    int n, c, k, mode, pad, align;
    int dims[3];
    int on;
};

__device__ double gs_reflect(double x, double lo, double hi) {
    double rng = hi - lo;
    if (rng <= 0.0) return lo;
    if (x < lo) {
        double dx = lo - x;
        long long n = (long long)(dx / rng);
        double r = dx - (double)n * rng;
        return (n % 2 == 0) ? lo + r : hi - r;
    }
    if (x > hi) {
        double dx = x - hi;
        long long n = (long long)(dx / rng);
        double r = dx - (double)n * rng;
        return (n % 2 == 0) ? hi - r : lo + r;
    }
    return x;
}

// An integer index through the padding mode; -1 = a zero pixel.
__device__ int gs_index(long long i, int d, int pad, double lo, double hi) {
    long long n = d;
    if (pad == 0) return (i >= 0 && i < n) ? (int)i : -1;
    if (pad == 1) return (int)(i < 0 ? 0 : (i > n - 1 ? n - 1 : i));
    long long r = (long long)gs_reflect((double)i, lo, hi);
    return (int)(r < 0 ? 0 : (r > n - 1 ? n - 1 : r));
}

__device__ void gs_cubic(double x, double* w) {
    double a = -0.75;
    x = fabs(x);
    w[0] = ((a * (x + 1.0) - 5.0 * a) * (x + 1.0) + 8.0 * a) * (x + 1.0) - 4.0 * a;
    w[1] = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    w[2] = ((a + 2.0) * (1.0 - x) - (a + 3.0)) * (1.0 - x) * (1.0 - x) + 1.0;
    w[3] = ((a * (2.0 - x) - 5.0 * a) * (2.0 - x) + 8.0 * a) * (2.0 - x) - 4.0 * a;
}

extern "C" __global__ void grid_sample_f32(const float* x, const float* grid, float* y, GsParams p) {
    int total = p.n * p.c * p.on;
    GRID_STRIDE(i, total) {
        int o = i % p.on, r = i / p.on;
        int b = r / p.c;
        const float* g = grid + ((long long)b * p.on + o) * p.k;
        int idx[3][4];
        double w[3][4];
        int cnt[3] = {1, 1, 1};
        int stride[3];
        int sp = 1;
        for (int d = p.k - 1; d >= 0; --d) { stride[d] = sp; sp *= p.dims[d]; }
        for (int d = 0; d < p.k; ++d) {
            double v = (double)g[p.k - 1 - d];
            double dd = (double)p.dims[d];
            double lo = p.align ? 0.0 : -0.5, hi = p.align ? dd - 1.0 : dd - 0.5;
            double q = p.align ? (v + 1.0) / 2.0 * (dd - 1.0) : ((v + 1.0) * dd - 1.0) / 2.0;
            if (p.mode == 0) q = rint(q);
            if (q < lo || q > hi) {
                if (p.pad == 1) q = fmin(fmax(q, 0.0), dd - 1.0);
                else if (p.pad == 2) q = gs_reflect(q, lo, hi);
            }
            q = fmin(fmax(q, -1e15), 1e15);
            if (p.mode == 0) {
                idx[d][0] = gs_index((long long)q, p.dims[d], p.pad, lo, hi);
                w[d][0] = 1.0;
            } else if (p.mode == 1) {
                double f = floor(q), t = q - f;
                idx[d][0] = gs_index((long long)f, p.dims[d], p.pad, lo, hi);
                idx[d][1] = gs_index((long long)f + 1, p.dims[d], p.pad, lo, hi);
                w[d][0] = 1.0 - t;
                w[d][1] = t;
                cnt[d] = 2;
            } else {
                double f = floor(q);
                gs_cubic(q - f, w[d]);
                for (int j = 0; j < 4; ++j) idx[d][j] = gs_index((long long)f - 1 + j, p.dims[d], p.pad, lo, hi);
                cnt[d] = 4;
            }
        }
        const float* src = x + (long long)r * sp;
        double acc = 0.0;
        int combos = cnt[0] * cnt[1] * cnt[2];
        for (int t = 0; t < combos; ++t) {
            int rem = t, off = 0;
            double wt = 1.0;
            bool zero = false;
            for (int d = p.k - 1; d >= 0; --d) {
                int j = rem % cnt[d];
                rem /= cnt[d];
                int ix = idx[d][j];
                if (ix < 0) { zero = true; break; }
                off += ix * stride[d];
                wt *= w[d][j];
            }
            if (!zero) acc += wt * (double)src[off];
        }
        y[i] = (float)acc;
    }
}

struct AgParams {
    int n, k;
    int sp[3];
    int np, total, align;
};

// AffineGrid: one thread per output element (b, point, r) = theta[b][r] · (x, y[, z], 1)
// over the normalised base grid (x on the last spatial dim), in double as the CPU op.
extern "C" __global__ void affine_grid_f32(const float* theta, float* y, AgParams p) {
    GRID_STRIDE(e, p.total) {
        int r = e % p.k, t = e / p.k;
        int pt = t % p.np, b = t / p.np;
        const float* th = theta + ((long long)b * p.k + r) * (p.k + 1);
        double acc = 0.0;
        int stride = 1;
        double coord[3];
        for (int d = p.k - 1; d >= 0; --d) {
            int n = p.sp[d];
            int i = (pt / stride) % n;
            stride *= n;
            double v;
            if (p.align) v = n <= 1 ? 0.0 : -1.0 + 2.0 * (double)i / (double)(n - 1);
            else v = (2.0 * (double)i + 1.0) / (double)n - 1.0;
            coord[p.k - 1 - d] = v;
        }
        for (int j = 0; j < p.k; ++j) acc += (double)th[j] * coord[j];
        acc += (double)th[p.k];
        y[e] = (float)acc;
    }
}

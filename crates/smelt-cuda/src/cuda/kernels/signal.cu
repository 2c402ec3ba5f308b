// DFT and the window generators (plan::signal); f64 arithmetic, as the CPU ops.
#define SIG_PI 3.141592653589793

struct DftParams {
    int outer, in_len, inner, c, n, out_len, out_c, inverse, real_out, total;
};

// One thread per output element (o, k, i, part): the naive transform along the axis.
extern "C" __global__ void dft_f32(const float* x, float* y, DftParams p) {
    GRID_STRIDE(e, p.total) {
        int part = e % p.out_c, r = e / p.out_c;
        int i = r % p.inner, r2 = r / p.inner;
        int k = r2 % p.out_len, o = r2 / p.out_len;
        double sign = p.inverse ? 1.0 : -1.0;
        int h = min(p.n / 2 + 1, p.in_len);
        double sr = 0.0, si = 0.0;
        for (int t = 0; t < p.n; ++t) {
            // the input sample t (zero-padded; a mirrored half spectrum for real_out)
            double xr = 0.0, xi = 0.0;
            int src = -1;
            bool conj = false;
            if (p.real_out) {
                if (t < h) src = t;
                else if (t >= p.n / 2 + 1 && p.n - t < h) { src = p.n - t; conj = true; }
            } else if (t < p.in_len) {
                src = t;
            }
            if (src < 0) continue;
            const float* xs = x + (((long long)o * p.in_len + src) * p.inner + i) * p.c;
            xr = (double)xs[0];
            xi = p.c == 2 ? (double)xs[1] : 0.0;
            if (conj) xi = -xi;
            double ang = sign * 2.0 * SIG_PI * (double)(((long long)k * t) % p.n) / (double)p.n;
            double c = cos(ang), s = sin(ang);
            sr += xr * c - xi * s;
            si += xr * s + xi * c;
        }
        double v = part == 0 ? sr : si;
        if (p.inverse) v *= 1.0 / (double)p.n;
        y[e] = (float)v;
    }
}

// For a power-of-two n: one thread per row (o, i) runs the CPU op's radix-2 FFT (same
// operations in the same order, so the same rounding) in `w` (2 n doubles per row), after
// the same zero padding / Hermitian extension, then writes the row's out_len outputs.
extern "C" __global__ void dft_pow2_f32(const float* x, float* y, double* w, DftParams p) {
    int rows = p.outer * p.inner, n = p.n;
    GRID_STRIDE(r, rows) {
        int i = r % p.inner, o = r / p.inner;
        double* re = w + (long long)r * 2 * n;
        double* im = re + n;
        for (int t = 0; t < n; ++t) { re[t] = 0.0; im[t] = 0.0; }
        const float* xr = x + ((long long)o * p.in_len * p.inner + i) * p.c;
        long long step = (long long)p.inner * p.c;
        if (p.real_out) {
            int h = min(n / 2 + 1, p.in_len);
            for (int k = 0; k < h; ++k) {
                re[k] = xr[k * step];
                im[k] = p.c == 2 ? (double)xr[k * step + 1] : 0.0;
            }
            for (int k = 1; k < (n + 1) / 2; ++k)
                if (k < h) { re[n - k] = re[k]; im[n - k] = -im[k]; }
        } else {
            for (int t = 0; t < min(p.in_len, n); ++t) {
                re[t] = xr[t * step];
                im[t] = p.c == 2 ? (double)xr[t * step + 1] : 0.0;
            }
        }
        double sign = p.inverse ? 1.0 : -1.0;
        for (int a = 1, j = 0; a < n; ++a) {
            int bit = n >> 1;
            while (j & bit) { j ^= bit; bit >>= 1; }
            j |= bit;
            if (a < j) {
                double t = re[a]; re[a] = re[j]; re[j] = t;
                t = im[a]; im[a] = im[j]; im[j] = t;
            }
        }
        for (int len = 2; len <= n; len <<= 1) {
            double ang = sign * 2.0 * SIG_PI / (double)len;
            for (int start = 0; start < n; start += len) {
                for (int k = 0; k < len / 2; ++k) {
                    double wr = cos(ang * (double)k), wi = sin(ang * (double)k);
                    int a = start + k, b = start + k + len / 2;
                    // no fused multiply-add: the CPU rounds each product
                    double tr = __dsub_rn(__dmul_rn(re[b], wr), __dmul_rn(im[b], wi));
                    double ti = __dadd_rn(__dmul_rn(re[b], wi), __dmul_rn(im[b], wr));
                    re[b] = re[a] - tr;
                    im[b] = im[a] - ti;
                    re[a] += tr;
                    im[a] += ti;
                }
            }
        }
        double f = p.inverse ? 1.0 / (double)n : 1.0;
        for (int k = 0; k < p.out_len; ++k) {
            float* yo = y + (((long long)o * p.out_len + k) * p.inner + i) * p.out_c;
            yo[0] = (float)(p.inverse ? re[k] * f : re[k]);
            if (p.out_c == 2) yo[1] = (float)(p.inverse ? im[k] * f : im[k]);
        }
    }
}

// Hann (kind 0), Hamming (1), Blackman (2) windows of n samples over denominator d.
extern "C" __global__ void window_f32(float* y, int n, int kind, double d) {
    GRID_STRIDE(i, n) {
        double x = 2.0 * SIG_PI * (double)i / d;
        double v;
        if (kind == 0) v = 0.5 - 0.5 * cos(x);
        else if (kind == 1) v = 25.0 / 46.0 - (1.0 - 25.0 / 46.0) * cos(x);
        else v = 0.42 - 0.5 * cos(x) + 0.08 * cos(2.0 * x);
        y[i] = (float)v;
    }
}

struct EinsumParams {
    int nin, nout, ncon;
    int out_dims[8], con_dims[8];
    int ostr[4][8], cstr[4][8];
    int total, ncomb;
};

// Einsum (plan::einsum): one thread per output element.
extern "C" __global__ void einsum_f32(const float* x0, const float* x1, const float* x2, const float* x3, float* y,
                                      EinsumParams p) {
    const float* xs[4] = {x0, x1, x2, x3};
    GRID_STRIDE(e, p.total) {
        int base[4] = {0, 0, 0, 0};
        int rem = e;
        for (int d = p.nout - 1; d >= 0; --d) {
            int v = rem % p.out_dims[d];
            rem /= p.out_dims[d];
            for (int k = 0; k < p.nin; ++k) base[k] += v * p.ostr[k][d];
        }
        float acc = 0.0f;
        for (int c = 0; c < p.ncomb; ++c) {
            int off[4] = {base[0], base[1], base[2], base[3]};
            int r = c;
            for (int d = p.ncon - 1; d >= 0; --d) {
                int v = r % p.con_dims[d];
                r /= p.con_dims[d];
                for (int k = 0; k < p.nin; ++k) off[k] += v * p.cstr[k][d];
            }
            float prod = xs[0][off[0]];
            for (int k = 1; k < p.nin; ++k) prod *= xs[k][off[k]];
            acc += prod;
        }
        y[e] = acc;
    }
}

// LRN, ReverseSequence and Det.

// LRN over x [N, C, sp]: y = x / (bias + alpha / size * sum of x^2 over channels
// [c - (size-1)/2, c + size/2] clipped to [0, C)) ^ beta.
extern "C" __global__ void lrn_f32(const float* x, float* y, int n, int c, int sp, int lo, int hi,
                                    float k, float bias, float beta) {
    int total = n * c * sp;
    GRID_STRIDE(i, total) {
        int s = i % sp, t = i / sp;
        int ch = t % c, b = t / c;
        int c0 = ch - lo < 0 ? 0 : ch - lo, c1 = ch + hi > c - 1 ? c - 1 : ch + hi;
        float acc = 0.0f;
        for (int cc = c0; cc <= c1; ++cc) {
            float v = x[((long long)b * c + cc) * sp + s];
            acc += v * v;
        }
        y[i] = x[i] / powf(bias + k * acc, beta);
    }
}

// ReverseSequence of x viewed as [d0, d1, inner] (elements of `esize` bytes): for batch b
// (along batch axis, 0 or 1) the first lens[b] steps along the time axis (the other of
// 0 and 1) are reversed, the rest copied.
extern "C" __global__ void reverse_sequence(const unsigned char* x, unsigned char* y, const long long* lens,
                                             int d0, int d1, int inner, int batch_axis, int esize) {
    int total = d0 * d1 * inner;
    GRID_STRIDE(i, total) {
        int in = i % inner, t = i / inner;
        int i1 = t % d1, i0 = t / d1;
        int b = batch_axis == 0 ? i0 : i1, ts = batch_axis == 0 ? i1 : i0;
        int l = (int)lens[b];
        int src_t = ts < l ? l - 1 - ts : ts;
        int s0 = batch_axis == 0 ? i0 : src_t, s1 = batch_axis == 0 ? src_t : i1;
        long long src = ((long long)s0 * d1 + s1) * inner + in;
        for (int e = 0; e < esize; ++e) y[(long long)i * esize + e] = x[src * esize + e];
    }
}

// Det of `batch` n x n matrices, one thread each, by LU with partial pivoting in double
// (the CPU op's algorithm); `a` is scratch of batch * n * n doubles.
extern "C" __global__ void det_f32(const float* x, float* y, double* a, int batch, int n) {
    GRID_STRIDE(m, batch) {
        double* A = a + (long long)m * n * n;
        for (int i = 0; i < n * n; ++i) A[i] = x[(long long)m * n * n + i];
        double det = 1.0;
        for (int col = 0; col < n; ++col) {
            int piv = col;
            for (int r = col + 1; r < n; ++r)
                if (fabs(A[r * n + col]) > fabs(A[piv * n + col])) piv = r;
            double p = A[piv * n + col];
            if (p == 0.0) { det = 0.0; break; }
            if (piv != col) {
                for (int j = 0; j < n; ++j) { double t = A[col * n + j]; A[col * n + j] = A[piv * n + j]; A[piv * n + j] = t; }
                det = -det;
            }
            det *= p;
            for (int r = col + 1; r < n; ++r) {
                double f = A[r * n + col] / p;
                if (f != 0.0)
                    for (int j = col + 1; j < n; ++j) A[r * n + j] -= f * A[col * n + j];
            }
        }
        y[m] = (float)det;
    }
}

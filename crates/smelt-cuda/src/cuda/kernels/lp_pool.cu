// LpPool over NC + 1 to 3 spatial dims (plan::pool's PoolP, mode unused): y = (sum over
// the window taps inside the input of |x|^p)^(1/p), in double as the CPU op.
extern "C" __global__ void lppool_f32(const float* x, float* y, PoolP q, double p) {
    int total = q.nc * q.o[0] * q.o[1] * q.o[2];
    GRID_STRIDE(i, total) {
        int ox = i % q.o[2], t = i / q.o[2];
        int oy = t % q.o[1]; t /= q.o[1];
        int oz = t % q.o[0], c = t / q.o[0];
        const float* xc = x + (unsigned long long)c * q.i[0] * q.i[1] * q.i[2];
        double acc = 0.0;
        for (int kz = 0; kz < q.k[0]; ++kz) {
            int iz = oz * q.s[0] - q.p[0] + kz * q.d[0];
            if (iz < 0 || iz >= q.i[0]) continue;
            for (int ky = 0; ky < q.k[1]; ++ky) {
                int iy = oy * q.s[1] - q.p[1] + ky * q.d[1];
                if (iy < 0 || iy >= q.i[1]) continue;
                for (int kx = 0; kx < q.k[2]; ++kx) {
                    int ix = ox * q.s[2] - q.p[2] + kx * q.d[2];
                    if (ix >= 0 && ix < q.i[2]) acc += pow(fabs((double)xc[(iz * q.i[1] + iy) * q.i[2] + ix]), p);
                }
            }
        }
        y[i] = (float)pow(acc, 1.0 / p);
    }
}

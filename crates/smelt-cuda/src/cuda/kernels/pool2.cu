// LpPool over NCHW (1-d and 2-d; plan::pool's PoolP, mode unused): y = (sum over the window
// taps inside the input of |x|^p)^(1/p), in double as the CPU op.
extern "C" __global__ void lppool2d_f32(const float* x, float* y, PoolP q, double p) {
    int total = q.nc * q.oh * q.ow;
    GRID_STRIDE(i, total) {
        int ox = i % q.ow, t = i / q.ow;
        int oy = t % q.oh, c = t / q.oh;
        const float* xc = x + (unsigned long long)c * q.h * q.w;
        double acc = 0.0;
        for (int ky = 0; ky < q.kh; ++ky) {
            int iy = oy * q.sh - q.ph + ky * q.dh;
            if (iy < 0 || iy >= q.h) continue;
            for (int kx = 0; kx < q.kw; ++kx) {
                int ix = ox * q.sw - q.pw + kx * q.dw;
                if (ix >= 0 && ix < q.w) acc += pow(fabs((double)xc[iy * q.w + ix]), p);
            }
        }
        y[i] = (float)pow(acc, 1.0 / p);
    }
}

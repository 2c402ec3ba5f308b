struct RoiParams {
    double spatial_scale;
    int n, c, h, w, oh, ow, nr, half_pixel, max, sampling_ratio, total;
};

// RoiAlign (plan::roi_align): one thread per output (r, ch, ph, pw), in double.
extern "C" __global__ void roi_align_f32(const float* x, const float* rois, const int* bidx, float* y,
                                         RoiParams p) {
    GRID_STRIDE(e, p.total) {
        int pw = e % p.ow, t = e / p.ow;
        int ph = t % p.oh;
        t /= p.oh;
        int ch = t % p.c, r = t / p.c;
        const float* roi = rois + (long long)r * 4;
        double off = p.half_pixel ? 0.5 : 0.0;
        double sw = (double)roi[0] * p.spatial_scale - off, sh = (double)roi[1] * p.spatial_scale - off;
        double ew = (double)roi[2] * p.spatial_scale - off, eh = (double)roi[3] * p.spatial_scale - off;
        double rw = ew - sw, rh = eh - sh;
        if (!p.half_pixel) { rw = fmax(rw, 1.0); rh = fmax(rh, 1.0); }
        double bh = rh / (double)p.oh, bw = rw / (double)p.ow;
        int gh = p.sampling_ratio > 0 ? p.sampling_ratio : (int)fmax(ceil(rh / (double)p.oh), 0.0);
        int gw = p.sampling_ratio > 0 ? p.sampling_ratio : (int)fmax(ceil(rw / (double)p.ow), 0.0);
        double count = (double)max(gh * gw, 1);
        const float* src = x + ((long long)bidx[r] * p.c + ch) * p.h * p.w;
        double acc = 0.0;
        bool first = true;
        for (int iy = 0; iy < gh; ++iy) {
            for (int ix = 0; ix < gw; ++ix) {
                double yy = sh + ph * bh + (iy + 0.5) * bh / (double)gh;
                double xx = sw + pw * bw + (ix + 0.5) * bw / (double)gw;
                int i0 = 0, i1 = 0, i2 = 0, i3 = 0;
                double w0 = 0.0, w1 = 0.0, w2 = 0.0, w3 = 0.0;
                if (!(yy < -1.0 || yy > (double)p.h || xx < -1.0 || xx > (double)p.w || p.h == 0 || p.w == 0)) {
                    yy = fmax(yy, 0.0);
                    xx = fmax(xx, 0.0);
                    int yl = (int)yy, xl = (int)xx, yh, xh;
                    if (yl >= p.h - 1) { yl = p.h - 1; yh = yl; yy = (double)yl; } else yh = yl + 1;
                    if (xl >= p.w - 1) { xl = p.w - 1; xh = xl; xx = (double)xl; } else xh = xl + 1;
                    double ly = yy - yl, lx = xx - xl, hy = 1.0 - ly, hx = 1.0 - lx;
                    i0 = yl * p.w + xl; i1 = yl * p.w + xh; i2 = yh * p.w + xl; i3 = yh * p.w + xh;
                    w0 = hy * hx; w1 = hy * lx; w2 = ly * hx; w3 = ly * lx;
                }
                double v0 = w0 * src[i0], v1 = w1 * src[i1], v2 = w2 * src[i2], v3 = w3 * src[i3];
                if (p.max) {
                    double v = fmax(fmax(fmax(fmax(__longlong_as_double(0xfff0000000000000ULL), v0), v1), v2), v3);
                    acc = first ? v : fmax(acc, v);
                    first = false;
                } else {
                    acc += (((0.0 + v0) + v1) + v2) + v3;
                }
            }
        }
        if (!p.max) acc /= count;
        y[e] = (float)acc;
    }
}

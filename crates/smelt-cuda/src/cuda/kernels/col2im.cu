struct C2iParams {
    int nd;
    int img[3], blk[3], grid[3], dil[3], pad[3], st[3];
    int kprod, l, ipix, total;
};

// Col2Im (plan::col2im) as a gather: one thread per output pixel sums, over the block
// offsets k in order, the one block position (if any) that lands on it: the CPU op's order.
extern "C" __global__ void col2im_f32(const float* x, float* y, C2iParams p) {
    GRID_STRIDE(e, p.total) {
        int pix = e % p.ipix, bc = e / p.ipix;
        int coord[3];
        int rem = pix;
        for (int d = p.nd - 1; d >= 0; --d) { coord[d] = rem % p.img[d]; rem /= p.img[d]; }
        float acc = 0.0f;
        for (int k = 0; k < p.kprod; ++k) {
            int kr = k, pos = 0, gstride = 1;
            bool ok = true;
            int kd[3];
            for (int d = p.nd - 1; d >= 0; --d) { kd[d] = kr % p.blk[d]; kr /= p.blk[d]; }
            for (int d = p.nd - 1; d >= 0; --d) {
                int num = coord[d] + p.pad[d] - kd[d] * p.dil[d];
                if (num < 0 || num % p.st[d] != 0) { ok = false; break; }
                int pd = num / p.st[d];
                if (pd >= p.grid[d]) { ok = false; break; }
                pos += pd * gstride;
                gstride *= p.grid[d];
            }
            if (ok) acc += x[((long long)bc * p.kprod + k) * p.l + pos];
        }
        y[e] = acc;
    }
}

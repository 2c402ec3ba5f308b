// Optimizer steps (plan::train fills OptP): one group's X, G and states (s1 only for Adam)
// updated element-wise in double, as the CPU op does.
struct OptP {
    int kind, nesterov;
    double a, b, eps, norm, norm_post, r, t;
    int n;
};

extern "C" __global__ void optimizer_f32(const float* x, const float* g, const float* s0, const float* s1,
                                          float* yx, float* ys0, float* ys1, OptP p) {
    GRID_STRIDE(i, p.n) {
        double xv = x[i], gv = p.norm * xv + (double)g[i], a = s0[i], nx;
        if (p.kind == 0) {  // Adagrad
            double r = p.r / (1.0 + p.t * p.a);
            a += gv * gv;
            nx = xv - r * gv / (sqrt(a) + p.eps);
        } else if (p.kind == 1) {  // Adam
            double v = s1[i];
            a = p.a * a + (1.0 - p.a) * gv;
            v = p.b * v + (1.0 - p.b) * gv * gv;
            double r = p.t > 0.0 ? p.r * sqrt(1.0 - pow(p.b, p.t)) / (1.0 - pow(p.a, p.t)) : p.r;
            nx = (1.0 - p.norm_post) * (xv - r * a / (sqrt(v) + p.eps));
            ys1[i] = (float)v;
        } else {  // Momentum
            double b = p.t > 0.0 ? p.b : 1.0;
            a = p.a * a + b * gv;
            nx = p.nesterov ? xv - p.r * (gv + p.a * a) : xv - p.r * a;
        }
        yx[i] = (float)nx;
        ys0[i] = (float)a;
    }
}

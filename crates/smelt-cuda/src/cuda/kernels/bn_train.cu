// BatchNormalization in training mode over x [nb, c, sp]: one block per channel computes
// the batch mean and population variance (two passes, in float), the running statistics
// (input * momentum + batch * (1 - momentum)) and normalises the channel.
extern "C" __global__ void bn_train_f32(const float* x, const float* scale, const float* bias,
                                         const float* mean_in, const float* var_in, float* y,
                                         float* run_mean, float* run_var, float* saved_mean,
                                         float* saved_var, int nb, int c, int sp, float eps, float momentum) {
    __shared__ float sh[32];
    int ch = blockIdx.x;
    long long cnt = (long long)nb * sp;
    float s = 0.0f;
    for (long long k = threadIdx.x; k < cnt; k += blockDim.x) {
        long long n = k / sp, i = k % sp;
        s += x[(n * c + ch) * sp + i];
    }
    float m = block_sum(s, sh) / (float)cnt;
    float q = 0.0f;
    for (long long k = threadIdx.x; k < cnt; k += blockDim.x) {
        long long n = k / sp, i = k % sp;
        float d = x[(n * c + ch) * sp + i] - m;
        q += d * d;
    }
    float v = block_sum(q, sh) / (float)cnt;
    float a = scale[ch] / sqrtf(v + eps), b = bias[ch];
    for (long long k = threadIdx.x; k < cnt; k += blockDim.x) {
        long long n = k / sp, i = k % sp;
        long long o = (n * c + ch) * sp + i;
        y[o] = (x[o] - m) * a + b;
    }
    if (threadIdx.x == 0) {
        if (run_mean) run_mean[ch] = mean_in[ch] * momentum + m * (1.0f - momentum);
        if (run_var) run_var[ch] = var_in[ch] * momentum + v * (1.0f - momentum);
        if (saved_mean) saved_mean[ch] = m;
        if (saved_var) saved_var[ch] = v;
    }
}

// f16 <-> f32 conversions (f16 held as its 16 bits), for ops that run f16 through their
// f32 kernels. PTX cvt: round to nearest even.
__device__ __forceinline__ float nn_h2f(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ unsigned short nn_f2h(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

extern "C" __global__ void nn_f16_to_f32(const unsigned short* x, float* y, int n) {
    GRID_STRIDE(i, n) y[i] = nn_h2f(x[i]);
}

extern "C" __global__ void nn_f32_to_f16(const float* x, unsigned short* y, int n) {
    GRID_STRIDE(i, n) y[i] = nn_f2h(x[i]);
}

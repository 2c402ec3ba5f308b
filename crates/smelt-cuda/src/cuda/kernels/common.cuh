// Shared by every kernel source: the strided-index struct the planner fills (plan::Strides).
// Up to 8 dims; `a`, `b`, `c` are element strides of up to three operands (0 = broadcast).
#define MAXR 8
// NVRTC has no <math.h>: the constants are spelled out
#define SM_INF __int_as_float(0x7f800000)
struct Strides {
    int rank;
    int dims[MAXR];
    int a[MAXR];
    int b[MAXR];
    int c[MAXR];
};

__device__ __forceinline__ void offsets3(const Strides& s, int i, int& oa, int& ob, int& oc) {
    oa = 0; ob = 0; oc = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
        int q = i % s.dims[d];
        i /= s.dims[d];
        oa += q * s.a[d];
        ob += q * s.b[d];
        oc += q * s.c[d];
    }
}

#define GRID_STRIDE(i, n) for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

// Block-wide sum and max for blocks of a power-of-two size <= 1024 (`sh` holds 32 floats).
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
    return v;
}
__device__ float block_sum(float v, float* sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    v = (threadIdx.x < nw) ? sh[threadIdx.x] : 0.0f;
    if (w == 0) v = warp_sum(v);
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    return sh[0];
}
__device__ float block_max(float v, float* sh) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    v = (threadIdx.x < nw) ? sh[threadIdx.x] : (-SM_INF);
    if (w == 0) v = warp_max(v);
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    return sh[0];
}

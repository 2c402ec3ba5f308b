// 16-bit operands for GEMM-type ops at --precision fp16/bf16 (see precision.rs): values are
// rounded to nearest even (to_16bit, common.cuh) and stored as raw 16-bit patterns (no
// cuda_fp16.h in the program). `bf` selects the type: 0 = IEEE fp16, 1 = bfloat16. Needs
// ConvP (conv.cu, earlier).

// y[i] = x[i] rounded to 16 bits, n elements.
extern "C" __global__ void f32_to_16bit(const float* x, unsigned short* y, int n, int bf) {
    GRID_STRIDE(i, n) y[i] = to_16bit(x[i], bf);
}

// im2col_f32 (conv.cu) writing 16-bit columns: col is [n][c*kh*kw][oh*ow].
struct Store16 {
    unsigned short* col;
    int bf;
    __device__ __forceinline__ void operator()(long long i, float v) const { col[i] = to_16bit(v, bf); }
};

extern "C" __global__ void im2col_16bit(const float* x, unsigned short* col, ConvP p, int bf) {
    im2col_rows(x, Store16{col, bf}, p);
}

// strided_copy_32 (copy.cu) of f32 elements writing them rounded to 16 bits: a Transpose
// whose only readers are GEMM operands (see exec/lowp.rs).
extern "C" __global__ void strided_copy_to_16bit(const float* x, unsigned short* y, int n, int base, Strides s, int bf) {
    GRID_STRIDE(i, n) {
        int oa, ob, oc;
        offsets3(s, i, oa, ob, oc);
        y[i] = to_16bit(x[base + oa], bf);
    }
}

// The same over runs of four: x read as float4 (plan in units of four floats, as
// strided_copy_128's), y written as four 16-bit values (8 bytes) per element.
extern "C" __global__ void strided_copy_to_16bit_x4(const float4* x, uint2* y, int n, int base, Strides s, int bf) {
    GRID_STRIDE(i, n) {
        int oa, ob, oc;
        offsets3(s, i, oa, ob, oc);
        float4 v = x[base + oa];
        unsigned int lo = (unsigned int)to_16bit(v.x, bf) | ((unsigned int)to_16bit(v.y, bf) << 16);
        unsigned int hi = (unsigned int)to_16bit(v.z, bf) | ((unsigned int)to_16bit(v.w, bf) << 16);
        y[i] = make_uint2(lo, hi);
    }
}

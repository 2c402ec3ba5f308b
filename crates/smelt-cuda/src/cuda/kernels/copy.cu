// Data movement: strided gather copies (Transpose, Slice, Expand, broadcast of a bias),
// block copies into a larger output (Concat) and Gather. Element width 4 or 8 bytes.

// y[i] = x[base + sum(idx_d * s.a[d])] over output dims s.dims (strides may be 0 or negative).
extern "C" __global__ void strided_copy_32(const unsigned int* x, unsigned int* y, int n, int base, Strides s) {
    GRID_STRIDE(i, n) {
        int oa, ob, oc;
        offsets3(s, i, oa, ob, oc);
        y[i] = x[base + oa];
    }
}
extern "C" __global__ void strided_copy_64(const unsigned long long* x, unsigned long long* y, int n, int base, Strides s) {
    GRID_STRIDE(i, n) {
        int oa, ob, oc;
        offsets3(s, i, oa, ob, oc);
        y[i] = x[base + oa];
    }
}

// Concat: x is [outer, run] placed at column `offset` of y, which is [outer, out_run].
extern "C" __global__ void copy_into_32(const unsigned int* x, unsigned int* y, int outer, int run, int out_run, int offset) {
    int n = outer * run;
    GRID_STRIDE(i, n) {
        int o = i / run, j = i - o * run;
        y[o * out_run + offset + j] = x[i];
    }
}
extern "C" __global__ void copy_into_64(const unsigned long long* x, unsigned long long* y, int outer, int run, int out_run, int offset) {
    int n = outer * run;
    GRID_STRIDE(i, n) {
        int o = i / run, j = i - o * run;
        y[o * out_run + offset + j] = x[i];
    }
}

// Gather through per-dim coordinate maps (Pad): output coordinate q of dim d reads input
// coordinate table[s.b[d] + q] (-1: the fill value); s.dims are the output dims and s.a the
// input's strides.
extern "C" __global__ void map_gather_f32(const float* x, float* y, int n, float fill, const int* table, Strides s) {
    GRID_STRIDE(i, n) {
        int rem = i, off = 0;
        bool inside = true;
        for (int d = s.rank - 1; d >= 0; --d) {
            int q = rem % s.dims[d];
            rem /= s.dims[d];
            int src = table[s.b[d] + q];
            if (src < 0) inside = false;
            off += src * s.a[d];
        }
        y[i] = inside ? x[off] : fill;
    }
}

// The same copies for 1-, 2- and 16-byte elements (16: runs of narrower elements moved as
// uint4, see ops::layout::strided_copy), and the Pad gather for
// every width with the fill value's bits in the low bytes of `fill`.
#define SM_COPY_W(bits, T) \
extern "C" __global__ void strided_copy_##bits(const T* x, T* y, int n, int base, Strides s) { \
    GRID_STRIDE(i, n) { int oa, ob, oc; offsets3(s, i, oa, ob, oc); y[i] = x[base + oa]; } } \
extern "C" __global__ void copy_into_##bits(const T* x, T* y, int outer, int run, int out_run, int offset) { \
    int n = outer * run; \
    GRID_STRIDE(i, n) { int o = i / run, j = i - o * run; y[o * out_run + offset + j] = x[i]; } }
SM_COPY_W(8, unsigned char) SM_COPY_W(16, unsigned short) SM_COPY_W(128, uint4)

// Gather along an axis: x is [outer, axis_len, inner], idx holds nidx indices (i64 when
// idx64, else i32), negative ones counted from the end; y is [outer, nidx, inner]. An index
// out of [-axis_len, axis_len) stores `code` in the error word `err` (the first failure
// wins) and yields zero bits.
__device__ __forceinline__ long long sm_index(const void* idx, int idx64, long long k, long long len, int* err, int code) {
    long long j = idx64 ? ((const long long*)idx)[k] : (long long)((const int*)idx)[k];
    if (j < 0) j += len;
    if (j < 0 || j >= len) { atomicCAS(err, 0, code); return -1; }
    return j;
}
#define SM_GATHER_W(bits, T) \
extern "C" __global__ void gather_##bits(const T* x, const void* idx, int idx64, T* y, int outer, int axis_len, int nidx, int inner, int* err, int code) { \
    int n = outer * nidx * inner; \
    GRID_STRIDE(i, n) { int in = i % inner, r = i / inner; int k = r % nidx, o = r / nidx; \
        long long j = sm_index(idx, idx64, k, axis_len, err, code); \
        y[i] = j < 0 ? (T)0 : x[(o * axis_len + (int)j) * inner + in]; } }
SM_GATHER_W(8, unsigned char) SM_GATHER_W(16, unsigned short) SM_GATHER_W(32, unsigned int) SM_GATHER_W(64, unsigned long long)

#define SM_MAP_GATHER_W(bits, T) \
extern "C" __global__ void map_gather_##bits(const T* x, T* y, int n, unsigned long long fill, const int* table, Strides s) { \
    GRID_STRIDE(i, n) { int rem = i, off = 0; bool inside = true; \
        for (int d = s.rank - 1; d >= 0; --d) { int q = rem % s.dims[d]; rem /= s.dims[d]; \
            int src = table[s.b[d] + q]; if (src < 0) inside = false; off += src * s.a[d]; } \
        y[i] = inside ? x[off] : (T)fill; } }
SM_MAP_GATHER_W(8, unsigned char) SM_MAP_GATHER_W(16, unsigned short) SM_MAP_GATHER_W(32, unsigned int) SM_MAP_GATHER_W(64, unsigned long long)

// y[i] = the value whose bits are the low bytes of `bits` (ConstantOfShape).
#define SM_FILL_W(bits_, T) \
extern "C" __global__ void fill_##bits_(T* y, int n, unsigned long long bits) { GRID_STRIDE(i, n) y[i] = (T)bits; }
SM_FILL_W(8, unsigned char) SM_FILL_W(16, unsigned short) SM_FILL_W(32, unsigned int) SM_FILL_W(64, unsigned long long)

// Range: y[i] = a + i * c, in i64 (exact) or f64 (rounded as the CPU: the product, then the
// sum, no fused multiply-add); the host converts to the output dtype.
extern "C" __global__ void range_i64(long long* y, int n, long long a, long long c) {
    GRID_STRIDE(i, n) y[i] = (long long)((unsigned long long)a + (unsigned long long)i * (unsigned long long)c);
}
extern "C" __global__ void range_f64(double* y, int n, double a, double c) {
    GRID_STRIDE(i, n) y[i] = __dadd_rn(a, __dmul_rn((double)i, c));
}

// Trilu over the last two dims [rows, cols]: keeps x where j - i >= k (upper) or
// j - i <= k (lower), else 0 (all-zero bits).
#define SM_TRILU_W(bits_, T) \
extern "C" __global__ void trilu_##bits_(const T* x, T* y, int n, int rows, int cols, long long k, int upper) { \
    GRID_STRIDE(i, n) { int j = i % cols, r = (i / cols) % rows; long long d = (long long)j - r; \
        bool keep = upper ? d >= k : d <= k; y[i] = keep ? x[i] : (T)0; } }
SM_TRILU_W(8, unsigned char) SM_TRILU_W(16, unsigned short) SM_TRILU_W(32, unsigned int) SM_TRILU_W(64, unsigned long long)

// GatherElements: y has the indices' dims s.dims; y[i] = x[offset of i over the data strides
// s.a (0 on the axis) + idx[i] * axis_stride], indices as Gather's (checked on the device
// against axis_len).
#define SM_GATHER_EL_W(bits_, T) \
extern "C" __global__ void gather_elements_##bits_(const T* x, const void* idx, int idx64, T* y, int n, int axis_len, int axis_stride, Strides s, int* err, int code) { \
    GRID_STRIDE(i, n) { int oa, ob, oc; offsets3(s, i, oa, ob, oc); \
        long long j = sm_index(idx, idx64, i, axis_len, err, code); \
        y[i] = j < 0 ? (T)0 : x[oa + (int)j * axis_stride]; } }
SM_GATHER_EL_W(8, unsigned char) SM_GATHER_EL_W(16, unsigned short) SM_GATHER_EL_W(32, unsigned int) SM_GATHER_EL_W(64, unsigned long long)

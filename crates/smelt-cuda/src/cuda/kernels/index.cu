// Indexing, generation and selection ops (plan/index.rs): EyeLike, GatherND, Compress,
// CenterCropPad, ScatterElements / ScatterND, TensorScatter, OneHot, TopK, NonMaxSuppression,
// NonZero, Unique.
// Data-moving kernels are keyed by element width (_8, _16, _32, _64: bool is 1 byte; zero
// bits are 0 of every dtype); arithmetic ones by dtype (_f32, _f64, _f16, _i32, _i64), with
// f16 stored as its bits and computed in float. Indices arrive checked and made
// non-negative on the host.

#define IX_SIZES(M) M(8, unsigned char) M(16, unsigned short) M(32, unsigned int) M(64, unsigned long long)

// f16 <-> float without cuda_fp16.h (PTX cvt, round to nearest even).
struct ix_h16 { unsigned short v; };
__device__ __forceinline__ float ix_h2f(unsigned short h) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f; }
__device__ __forceinline__ unsigned short ix_f2h(float f) { unsigned short h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h; }

// Storage type S computed as C: ld/st convert, add/mul are the CPU op's arithmetic
// (integers wrap, f16 in float).
template <typename S> struct IxNum;
template <> struct IxNum<float> {
    typedef float C;
    static __device__ __forceinline__ C ld(float v) { return v; }
    static __device__ __forceinline__ float st(C c) { return c; }
    static __device__ __forceinline__ C add(C a, C b) { return __fadd_rn(a, b); }
    static __device__ __forceinline__ C mul(C a, C b) { return __fmul_rn(a, b); }
};
template <> struct IxNum<double> {
    typedef double C;
    static __device__ __forceinline__ C ld(double v) { return v; }
    static __device__ __forceinline__ double st(C c) { return c; }
    static __device__ __forceinline__ C add(C a, C b) { return __dadd_rn(a, b); }
    static __device__ __forceinline__ C mul(C a, C b) { return __dmul_rn(a, b); }
};
template <> struct IxNum<ix_h16> {
    typedef float C;
    static __device__ __forceinline__ C ld(ix_h16 v) { return ix_h2f(v.v); }
    static __device__ __forceinline__ ix_h16 st(C c) { ix_h16 h; h.v = ix_f2h(c); return h; }
    static __device__ __forceinline__ C add(C a, C b) { return __fadd_rn(a, b); }
    static __device__ __forceinline__ C mul(C a, C b) { return __fmul_rn(a, b); }
};
template <> struct IxNum<int> {
    typedef int C;
    static __device__ __forceinline__ C ld(int v) { return v; }
    static __device__ __forceinline__ int st(C c) { return c; }
    static __device__ __forceinline__ C add(C a, C b) { return (int)((unsigned)a + (unsigned)b); }
    static __device__ __forceinline__ C mul(C a, C b) { return (int)((unsigned)a * (unsigned)b); }
};
template <> struct IxNum<long long> {
    typedef long long C;
    static __device__ __forceinline__ C ld(long long v) { return v; }
    static __device__ __forceinline__ long long st(C c) { return c; }
    static __device__ __forceinline__ C add(C a, C b) { return (long long)((unsigned long long)a + (unsigned long long)b); }
    static __device__ __forceinline__ C mul(C a, C b) { return (long long)((unsigned long long)a * (unsigned long long)b); }
};
#define IX_TYPES(M) M(f32, float) M(f64, double) M(f16, ix_h16) M(i32, int) M(i64, long long)

// ---- generation -------------------------------------------------------------------------

// EyeLike: y [r, c] is `one` where j - i == k, else 0. Fill: y[i] = v.
#define IX_GEN(B, T)                                                                              \
    extern "C" __global__ void eye_##B(T* y, int r, int c, long long k, T one) {                  \
        int n = r * c;                                                                            \
        GRID_STRIDE(i, n) { y[i] = ((long long)(i % c) - (long long)(i / c) == k) ? one : (T)0; } \
    }                                                                                             \
    extern "C" __global__ void ix_fill_##B(T* y, int n, T v) {                                       \
        GRID_STRIDE(i, n) { y[i] = v; }                                                           \
    }
IX_SIZES(IX_GEN)

// ---- gathers ----------------------------------------------------------------------------

// OneHot: y [outer, depth, inner] is `on` where tgt[o, i] == d (tgt -1: none), else `off`.
#define IX_GATHER(B, T)                                                                           \
    extern "C" __global__ void one_hot_##B(const int* tgt, T* y, int outer, int depth, int inner, T off, T on) { \
        int n = outer * depth * inner;                                                            \
        GRID_STRIDE(i, n) {                                                                       \
            int in = i % inner, r = i / inner;                                                    \
            int d = r % depth, o = r / depth;                                                     \
            y[i] = tgt[o * inner + in] == d ? on : off;                                           \
        }                                                                                         \
    }                                                                                             \
    /* Scatter without reduction: y[dst[u]] = upd[u]; `serial` (duplicate destinations):      \
       one thread applies them in order, so the last one wins as on the CPU. */               \
    extern "C" __global__ void scatter_set_##B(T* y, const T* upd, const long long* dst, int n, int serial) { \
        if (serial) {                                                                             \
            if (blockIdx.x == 0 && threadIdx.x == 0)                                              \
                for (int u = 0; u < n; ++u) y[dst[u]] = upd[u];                                   \
            return;                                                                               \
        }                                                                                         \
        GRID_STRIDE(u, n) { y[dst[u]] = upd[u]; }                                                 \
    }
IX_SIZES(IX_GATHER)

// Row gathers over y [rows, inner]: row r is the run of x at src[r] (GatherND's slices,
// Compress's kept rows). Map gather (CenterCropPad): s.dims = output dims, s.a = input
// strides; output coordinate q of dim d reads input coordinate table[s.b[d] + q] (-1: 0).
#define IX_ROWS(B, T)                                                                             \
    extern "C" __global__ void gather_rows_##B(const T* x, const long long* src, T* y, int rows, int inner) { \
        int n = rows * inner;                                                                     \
        GRID_STRIDE(i, n) { y[i] = x[src[i / inner] + i % inner]; }                               \
    }                                                                                             \
    extern "C" __global__ void ix_map_gather_##B(const T* x, T* y, int n, const int* table, Strides s) { \
        GRID_STRIDE(i, n) {                                                                       \
            int rem = i, off = 0;                                                                 \
            bool inside = true;                                                                   \
            for (int d = s.rank - 1; d >= 0; --d) {                                               \
                int q = rem % s.dims[d];                                                          \
                rem /= s.dims[d];                                                                 \
                int src = table[s.b[d] + q];                                                      \
                if (src < 0) inside = false;                                                      \
                off += src * s.a[d];                                                              \
            }                                                                                     \
            y[i] = inside ? x[off] : (T)0;                                                        \
        }                                                                                         \
    }
IX_SIZES(IX_ROWS)

// ---- arithmetic -------------------------------------------------------------------------

// Scatter with a reduction (1 add, 2 mul, 3 max, 4 min), as the CPU's Reduction::apply.
template <typename S>
__device__ void ix_scatter_red(S* y, const S* upd, const long long* dst, int n, int red, int serial) {
    typedef IxNum<S> N;
    int first = serial ? 0 : blockIdx.x * blockDim.x + threadIdx.x;
    int step = serial ? 1 : blockDim.x * gridDim.x;
    if (serial && (blockIdx.x != 0 || threadIdx.x != 0)) return;
    for (int u = first; u < n; u += step) {
        typename N::C a = N::ld(y[dst[u]]), b = N::ld(upd[u]);
        if (red == 1) y[dst[u]] = N::st(N::add(a, b));
        else if (red == 2) y[dst[u]] = N::st(N::mul(a, b));
        else if (red == 3) { if (b > a) y[dst[u]] = upd[u]; }
        else if (b < a) y[dst[u]] = upd[u];
    }
}

#define IX_ARITH(N, S)                                                                            \
    extern "C" __global__ void scatter_red_##N(S* y, const S* upd, const long long* dst, int n, int red, int serial) { \
        ix_scatter_red<S>(y, upd, dst, n, red, serial);                                           \
    }
IX_TYPES(IX_ARITH)

// TopK along the middle dim of [outer, n, inner], always sorted as the CPU op: the order is
// by value (largest: descending; NaN above every number) then by index, a total order, so
// each element's output position is the number of elements before it; one thread per
// element writes itself there when that is < k. vals / idx are [outer, k, inner].
__device__ __forceinline__ float ix_key(float v) { return v; }
__device__ __forceinline__ double ix_key(double v) { return v; }
__device__ __forceinline__ float ix_key(ix_h16 v) { return ix_h2f(v.v); }
template <typename K> __device__ __forceinline__ K ix_key(K v) { return v; }
template <typename K> __device__ __forceinline__ int ix_ord(K a, K b) {
    bool na = a != a, nb = b != b;
    if (na || nb) return (na && nb) ? 0 : (na ? 1 : -1);
    return a < b ? -1 : (a > b ? 1 : 0);
}
template <typename S>
__device__ void ix_topk(const S* x, S* vals, long long* idx, int outer, int n, int inner, int k, int largest) {
    int total = outer * n * inner;
    GRID_STRIDE(t, total) {
        int e = t % n, l = t / n;
        int o = l / inner, in = l - o * inner;
        auto ve = ix_key(x[(o * n + e) * inner + in]);
        int rank = 0;
        for (int j = 0; j < n && rank < k; ++j) {
            if (j == e) continue;
            int c = ix_ord(ix_key(x[(o * n + j) * inner + in]), ve);
            bool before = c == 0 ? j < e : (largest ? c > 0 : c < 0);
            rank += before;
        }
        if (rank < k) {
            int p = (o * k + rank) * inner + in;
            vals[p] = x[(o * n + e) * inner + in];
            idx[p] = e;
        }
    }
}
#define IX_TOPK(N, S)                                                                             \
    extern "C" __global__ void topk_##N(const S* x, S* vals, long long* idx, int outer, int n, int inner, int k, int largest) { \
        ix_topk<S>(x, vals, idx, outer, n, inner, k, largest);                                    \
    }
IX_TYPES(IX_TOPK)
IX_TOPK(u8, unsigned char) IX_TOPK(i8, signed char) IX_TOPK(u16, unsigned short) IX_TOPK(i16, short)
IX_TOPK(u32, unsigned int) IX_TOPK(u64, unsigned long long)

// NonMaxSuppression (f32 boxes and scores, computed in double as the CPU op, no fma).
// nms_over: over[b, k, i] = IoU(box k, box i) > th for every pair of a batch.
// nms_order: each candidate of (b, c) (score > th when has_th) at its rank by score
// (descending) then index, in order[(b * nc + c) * n + rank].
// nms_greedy: one thread per (b, c) keeps candidates in that order while fewer than
// max_out are kept and none kept overlaps it; sel[bc * cap + m], cnt[bc].
// nms_write: rows (b, c, box) at offs[bc] + m of out [K, 3].
__device__ __forceinline__ void ix_corners(const float* p, int center, double* c) {
    double b0 = p[0], b1 = p[1], b2 = p[2], b3 = p[3];
    if (center) {
        c[0] = __dsub_rn(b1, b3 / 2.0); c[1] = __dsub_rn(b0, b2 / 2.0);
        c[2] = __dadd_rn(b1, b3 / 2.0); c[3] = __dadd_rn(b0, b2 / 2.0);
    } else {
        c[0] = fmin(b0, b2); c[1] = fmin(b1, b3); c[2] = fmax(b0, b2); c[3] = fmax(b1, b3);
    }
}
__device__ double ix_iou(const double* a, const double* b) {
    double ih = fmax(__dsub_rn(fmin(a[2], b[2]), fmax(a[0], b[0])), 0.0);
    double iw = fmax(__dsub_rn(fmin(a[3], b[3]), fmax(a[1], b[1])), 0.0);
    double inter = __dmul_rn(ih, iw);
    double aa = __dmul_rn(__dsub_rn(a[2], a[0]), __dsub_rn(a[3], a[1]));
    double ab = __dmul_rn(__dsub_rn(b[2], b[0]), __dsub_rn(b[3], b[1]));
    if (aa <= 0.0 || ab <= 0.0) return 0.0;
    double uni = __dsub_rn(__dadd_rn(aa, ab), inter);
    return uni <= 0.0 ? 0.0 : __ddiv_rn(inter, uni);
}
extern "C" __global__ void nms_over(const float* boxes, unsigned char* over, int nb, int n, int center, double th) {
    int total = nb * n * n;
    GRID_STRIDE(t, total) {
        int i = t % n, k = (t / n) % n, b = t / (n * n);
        double ck[4], ci[4];
        ix_corners(boxes + (b * n + k) * 4, center, ck);
        ix_corners(boxes + (b * n + i) * 4, center, ci);
        over[t] = ix_iou(ck, ci) > th;
    }
}
extern "C" __global__ void nms_order(const float* scores, int* order, int nbc, int n, int has_th, double th) {
    int total = nbc * n;
    GRID_STRIDE(t, total) {
        int i = t % n, bc = t / n;
        const float* s = scores + bc * n;
        if (has_th && !((double)s[i] > th)) continue;
        int rank = 0;
        for (int j = 0; j < n; ++j) {
            if (j == i || (has_th && !((double)s[j] > th))) continue;
            rank += (s[j] > s[i]) || (s[j] == s[i] && j < i);
        }
        order[bc * n + rank] = i;
    }
}
extern "C" __global__ void nms_greedy(const float* scores, const int* order, const unsigned char* over, int* sel, int* cnt,
                                      int nbc, int nc, int n, int max_out, int cap, int has_th, double th) {
    GRID_STRIDE(bc, nbc) {
        int b = bc / nc;
        const float* s = scores + bc * n;
        int ncand = 0;
        for (int j = 0; j < n; ++j) ncand += !has_th || (double)s[j] > th;
        int m = 0;
        for (int r = 0; r < ncand && m < max_out; ++r) {
            int i = order[bc * n + r];
            bool ok = true;
            for (int q = 0; q < m && ok; ++q) ok = !over[((long long)b * n + sel[bc * cap + q]) * n + i];
            if (ok) sel[bc * cap + m++] = i;
        }
        cnt[bc] = m;
    }
}
extern "C" __global__ void nms_write(const int* sel, const long long* offs, long long* out, int nbc, int nc, int cap) {
    int total = nbc * cap;
    GRID_STRIDE(t, total) {
        int bc = t / cap, m = t % cap;
        long long at = offs[bc] + m;
        if (at < offs[bc + 1]) {
            out[at * 3] = bc / nc;
            out[at * 3 + 1] = bc % nc;
            out[at * 3 + 2] = sel[t];
        }
    }
}

// NonZero in two passes over chunks of `chunk` elements, one block per chunk (256 threads):
// nonzero_count writes each chunk's count; the host turns the counts into offsets (and the
// output length), then nonzero_write writes the coordinates of each chunk's nonzero
// elements in order (warp ballots) into out [rank, total] from offs[block]. `fl`: a float
// dtype, whose sign bit is ignored (-0 is zero, NaN is not). s.dims: the input's dims.
template <typename U> __device__ __forceinline__ bool ix_nz(U v, int fl) {
    unsigned long long b = (unsigned long long)v;
    if (fl) b &= ~(1ull << (sizeof(U) * 8 - 1));
    return b != 0;
}
#define IX_NONZERO(B, T)                                                                          \
    extern "C" __global__ void nonzero_count_##B(const T* x, int n, int chunk, int fl, int* counts) { \
        __shared__ int c;                                                                         \
        if (threadIdx.x == 0) c = 0;                                                              \
        __syncthreads();                                                                          \
        int start = blockIdx.x * chunk, end = min(n, start + chunk), local = 0;                   \
        for (int i = start + threadIdx.x; i < end; i += blockDim.x) local += ix_nz(x[i], fl);     \
        atomicAdd(&c, local);                                                                     \
        __syncthreads();                                                                          \
        if (threadIdx.x == 0) counts[blockIdx.x] = c;                                             \
    }                                                                                             \
    extern "C" __global__ void nonzero_write_##B(const T* x, int n, int chunk, int fl, const int* offs, long long* out, int total, Strides s) { \
        __shared__ int wsum[32];                                                                  \
        __shared__ int base;                                                                      \
        if (threadIdx.x == 0) base = offs[blockIdx.x];                                            \
        __syncthreads();                                                                          \
        int start = blockIdx.x * chunk, end = min(n, start + chunk);                              \
        int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;                  \
        for (int t0 = start; t0 < end; t0 += blockDim.x) {                                        \
            int i = t0 + threadIdx.x;                                                             \
            bool f = i < end && ix_nz(x[i], fl);                                                  \
            unsigned m = __ballot_sync(0xffffffffu, f);                                           \
            int pre = __popc(m & ((1u << lane) - 1u));                                            \
            if (lane == 0) wsum[w] = __popc(m);                                                   \
            __syncthreads();                                                                      \
            int woff = 0;                                                                         \
            for (int k = 0; k < w; ++k) woff += wsum[k];                                          \
            if (f) {                                                                              \
                int pos = base + woff + pre, rem = i;                                             \
                for (int d = s.rank - 1; d >= 0; --d) {                                           \
                    out[(long long)d * total + pos] = rem % s.dims[d];                            \
                    rem /= s.dims[d];                                                             \
                }                                                                                 \
            }                                                                                     \
            __syncthreads();                                                                      \
            if (threadIdx.x == 0) {                                                               \
                int tot = 0;                                                                      \
                for (int k = 0; k < nw; ++k) tot += wsum[k];                                      \
                base += tot;                                                                      \
            }                                                                                     \
            __syncthreads();                                                                      \
        }                                                                                         \
    }
IX_SIZES(IX_NONZERO)

// Unique over n items (item i: the elements x[(o * n + i) * inner + j], o < outer, j < inner,
// compared lexicographically with the CPU op's order: NaN above numbers, NaN equals NaN).
// unique_group: leader_of[i] = the first item equal to i, eqc[i] = how many equal it,
// *ngroups += leaders. unique_rank: grank[i] = its group's output position (sorted: leaders
// less than it; else: leaders before its leader). unique_write_B: Y, indices, inverse and
// counts (Y [outer, g, inner]).
template <typename S> __device__ int ix_item_cmp(const S* x, int a, int b, int outer, int n, int inner) {
    for (int o = 0; o < outer; ++o)
        for (int j = 0; j < inner; ++j) {
            int c = ix_ord(ix_key(x[(o * n + a) * inner + j]), ix_key(x[(o * n + b) * inner + j]));
            if (c) return c;
        }
    return 0;
}
#define IX_UNIQUE(N, S)                                                                           \
    extern "C" __global__ void unique_group_##N(const S* x, int outer, int n, int inner, int* leader_of, int* eqc, int* ngroups) { \
        GRID_STRIDE(i, n) {                                                                       \
            int lead = i, cnt = 0;                                                                \
            for (int j = 0; j < n; ++j)                                                           \
                if (ix_item_cmp<S>(x, j, i, outer, n, inner) == 0) { if (j < lead) lead = j; ++cnt; } \
            leader_of[i] = lead;                                                                  \
            eqc[i] = cnt;                                                                         \
            if (lead == i) atomicAdd(ngroups, 1);                                                 \
        }                                                                                         \
    }                                                                                             \
    extern "C" __global__ void unique_rank_##N(const S* x, int outer, int n, int inner, const int* leader_of, int sorted, int* grank) { \
        GRID_STRIDE(i, n) {                                                                       \
            int r = 0, li = leader_of[i];                                                         \
            for (int j = 0; j < n; ++j) {                                                         \
                if (leader_of[j] != j) continue;                                                  \
                r += sorted ? ix_item_cmp<S>(x, j, i, outer, n, inner) < 0 : j < li;              \
            }                                                                                     \
            grank[i] = r;                                                                         \
        }                                                                                         \
    }
IX_TYPES(IX_UNIQUE)
IX_UNIQUE(u8, unsigned char) IX_UNIQUE(i8, signed char) IX_UNIQUE(u16, unsigned short) IX_UNIQUE(i16, short)
IX_UNIQUE(u32, unsigned int) IX_UNIQUE(u64, unsigned long long)

#define IX_UNIQUE_WRITE(B, T)                                                                     \
    extern "C" __global__ void unique_write_##B(const T* x, T* y, const int* leader_of, const int* grank, const int* eqc, \
                                                long long* first, long long* inv, long long* counts, int outer, int n, int inner, int g) { \
        int total = outer * n * inner;                                                            \
        GRID_STRIDE(t, total) {                                                                   \
            int j = t % inner, i = (t / inner) % n, o = t / (inner * n);                          \
            bool lead = leader_of[i] == i;                                                        \
            if (lead) y[(o * g + grank[i]) * inner + j] = x[t];                                   \
            if (o == 0 && j == 0) {                                                               \
                inv[i] = grank[i];                                                                \
                if (lead) { first[grank[i]] = i; counts[grank[i]] = eqc[i]; }                     \
            }                                                                                     \
        }                                                                                         \
    }
IX_SIZES(IX_UNIQUE_WRITE)

// Resize tf_crop_and_resize: rows of y [outer, out, inner] whose flag is set take `v`.
extern "C" __global__ void fill_rows_f32(float* y, int outer, int out, int inner, const int* flags, float v) {
    int n = outer * out * inner;
    GRID_STRIDE(i, n) {
        if (flags[(i / inner) % out]) y[i] = v;
    }
}

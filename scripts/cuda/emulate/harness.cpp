// The generated fused_attention kernel (kernel.inc, from prep.py) run on the CPU with the
// CUDA stubs of emu.h, against a double-precision reference with the kernel's 16-bit
// roundings of q, k, v and p. Inputs: random q, k, v in the BERT layout ([b, s, h, d] read
// through [0, 2, 1, 3], output [b, s, h, dv]) or dense with k stored [b, h, d, skv]; a
// bool mask [b, 1, 1, skv] (or per row [b, 1, sq, skv], or per row broadcast over the keys
// [b, 1, sq, 1]) with the last batch fully masked.
// The FIdx block is filled as fused::leaf_index does. Exit status 0 when every output
// matches within the output type's rounding and every fully masked row is 0.
#include "emu.h"
#include "config.h"
#include "prelude.inc"
#include "kernel.inc"
#include <random>
#include <string>
#include <algorithm>

using std::vector;
typedef long long ll;

template <class T> T enc(float v);
template <> float enc<float>(float v) { return v; }
template <> unsigned short enc<unsigned short>(float v) { return to_16bit(v, KBF); }
inline float dec16(unsigned short b) { return KBF ? __uint_as_float((unsigned)b << 16) : emu_f16_to_f32(b); }
template <class T> float dec(T v);
template <> float dec<float>(float v) { return v; }
template <> float dec<unsigned short>(unsigned short v) { return dec16(v); }
// what the kernel computes on: 16-bit inputs decoded, f32 inputs rounded to 16 bits
template <class T> double as16(T v) { return dec16(to_16bit(dec<T>(v), KBF)); }

vector<ll> dense(const vector<ll>& sh) { vector<ll> s(sh.size()); ll a = 1; for (int i = (int)sh.size() - 1; i >= 0; --i) { s[i] = a; a *= sh[i]; } return s; }
vector<ll> bstrides(const vector<ll>& shape, const vector<ll>& out) {
    vector<ll> d = dense(shape); size_t off = out.size() - shape.size(); vector<ll> r(out.size());
    for (size_t i = 0; i < out.size(); ++i) r[i] = (i < off || shape[i - off] == 1) ? 0 : d[i - off];
    return r;
}
// plan::merge_dims
void merge_dims(const vector<ll>& dims, const vector<vector<ll>>& ops, vector<ll>& d, vector<vector<ll>>& s) {
    d.clear(); s.assign(ops.size(), {});
    for (size_t i = 0; i < dims.size(); ++i) {
        if (dims[i] == 1) continue;
        bool m = !d.empty();
        for (size_t k = 0; k < ops.size() && m; ++k) if (s[k][d.size() - 1] != ops[k][i] * dims[i]) m = false;
        if (m) { d.back() *= dims[i]; for (size_t k = 0; k < ops.size(); ++k) s[k].back() = ops[k][i]; }
        else { d.push_back(dims[i]); for (size_t k = 0; k < ops.size(); ++k) s[k].push_back(ops[k][i]); }
    }
}
// fused::leaf_index -> FIdx; returns access kinds (0 Full, 1 Scalar, 2 Strided)
vector<int> leaf_index(const vector<ll>& out, const vector<vector<ll>>& leaf_shapes, FIdx& fi) {
    vector<vector<ll>> all{dense(out)};
    for (auto& sh : leaf_shapes) all.push_back(bstrides(sh, out));
    vector<ll> d; vector<vector<ll>> st; merge_dims(out, all, d, st);
    if (d.size() > 8) { std::fprintf(stderr, "rank > 8\n"); std::exit(2); }
    std::memset(&fi, 0, sizeof fi);
    fi.rank = (int)d.size();
    vector<int> acc;
    for (size_t j = 0; j < leaf_shapes.size(); ++j) {
        bool allz = std::all_of(st[j + 1].begin(), st[j + 1].end(), [](ll v) { return v == 0; });
        acc.push_back(st[j + 1] == st[0] ? 0 : allz ? 1 : 2);
    }
    for (size_t i = 0; i < d.size(); ++i) { fi.dims[i] = (int)d[i]; for (size_t j = 0; j < leaf_shapes.size(); ++j) fi.st[j][i] = (int)st[j + 1][i]; }
    return acc;
}

int main(int argc, char** argv) {
    // args: b h sq layout(0 bert [b,s,h,d], 1 dense q/v + k stored [b,h,d,skv] + dense out) maskkind(0 [b,1,1,skv], 1 [b,1,sq,skv], 2 [b,1,sq,1]) seed
    int B = atoi(argv[1]), H = atoi(argv[2]), SQ = atoi(argv[3]), layout = atoi(argv[4]), mk = atoi(argv[5]), seed = atoi(argv[6]);
    const int D = KD, DV = KDV, N = KN;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> U(-1.f, 1.f);
    // logical [b,h,s,c] -> element strides, for each operand
    AStr st;
    auto set = [](long long* s, vector<ll> v) { for (int i = 0; i < 4; ++i) s[i] = v[i]; };
    ll qn = (ll)B * H * SQ * D, kn = (ll)B * H * N * D, vn = (ll)B * H * N * DV, on = (ll)B * H * SQ * DV;
    if (layout == 0) {
        set(st.q, {(ll)SQ * H * D, D, (ll)H * D, 1});
        set(st.k, {(ll)N * H * D, D, (ll)H * D, 1});
        set(st.v, {(ll)N * H * DV, DV, (ll)H * DV, 1});
        set(st.o, {(ll)SQ * H * DV, DV, (ll)H * DV, 1});
    } else {
        set(st.q, {(ll)H * SQ * D, (ll)SQ * D, D, 1});
        set(st.k, {(ll)H * D * N, (ll)D * N, 1, N});  // stored [b,h,d,skv]
        set(st.v, {(ll)H * N * DV, (ll)N * DV, DV, 1});
        set(st.o, {(ll)H * SQ * DV, (ll)SQ * DV, DV, 1});
    }
    vector<Q_T> q(qn); vector<K_T> k(kn); vector<V_T> v(vn);
    for (auto& x : q) x = enc<Q_T>(U(rng) * 2.f);
    for (auto& x : k) x = enc<K_T>(U(rng) * 2.f);
    for (auto& x : v) x = enc<V_T>(U(rng));
    // mask
    vector<ll> mshape = mk == 0 ? vector<ll>{B, 1, 1, N} : mk == 1 ? vector<ll>{B, 1, SQ, N} : vector<ll>{B, 1, SQ, 1};
    ll mn = 1; for (ll x : mshape) mn *= x;
    vector<unsigned char> mask(mn);
    std::uniform_real_distribution<float> U01(0.f, 1.f);
    for (ll i = 0; i < mn; ++i) { int bb = (int)(i / (mn / B)); mask[i] = (bb == 1) ? 0 : (U01(rng) < 0.25f ? 0 : 1); }
    // batch 0: make sure its first key is kept (and, for a per-row mask, one row fully masked)
    if (mk == 1 && SQ > 3) for (int j = 0; j < N; ++j) mask[(ll)3 * N + j] = 0;  // batch 0, query 3 fully masked
    if (mk == 2 && SQ > 3) mask[3] = 0;
    float zero = 0.f, ninf = -INFINITY, zero2 = 0.f;
    FIdx fi;
    vector<int> acc = leaf_index({B, H, SQ, N}, {mshape, {1}, {1}, {1}}, fi);
    std::printf("FIdx rank %d dims [", fi.rank);
    for (int i = 0; i < fi.rank; ++i) std::printf("%d%s", fi.dims[i], i + 1 < fi.rank ? ", " : "");
    std::printf("] mask strides [");
    for (int i = 0; i < fi.rank; ++i) std::printf("%d%s", fi.st[0][i], i + 1 < fi.rank ? ", " : "");
    std::printf("] access %d %d %d %d\n", acc[0], acc[1], acc[2], acc[3]);
    if (acc != vector<int>{2, 1, 1, 1}) { std::printf("access differs from the rendered kernel's (Strided, Scalar x3)\n"); return 3; }
    // the key stride compiled into the tensor-core variant: the mask's last merged stride
    if (KS0 >= 0 && fi.st[0][fi.rank - 1] != KS0) { std::printf("mask key stride %d, compiled in %d\n", fi.st[0][fi.rank - 1], KS0); return 3; }

    float alpha = 1.0f / std::sqrt((float)D);
    vector<OUT_T> y(on);
    // sentinel: NaN everywhere (written elements are never NaN in these tests)
    for (auto& x : y) { if constexpr (sizeof(OUT_T) == 2) x = 0x7e01; else x = std::nanf("7"); }

    int tiles = (SQ + KR - 1) / KR, grid = B * H * tiles;
    std::barrier<> bb(KT);
    std::barrier<> wb0(32), wb1(32), wb2(32), wb3(32);
    g_block_bar = &bb; g_warp_bar[0] = &wb0; g_warp_bar[1] = &wb1; g_warp_bar[2] = &wb2; g_warp_bar[3] = &wb3;
    auto refill = []() noexcept { std::lock_guard<std::mutex> g(g_reg_mu); for (auto& f : g_fillers) f(); };
    std::barrier<decltype(refill)> endb(KT, refill);
    gridDim.x = grid;
    vector<std::thread> th;
    for (int t = 0; t < KT; ++t)
        th.emplace_back([&, t] {
            threadIdx.x = t;
            for (int blk = 0; blk < grid; ++blk) {
                blockIdx.x = blk;
                fused_attention(y.data(), q.data(), k.data(), v.data(), mask.data(), &zero, &ninf, &zero2, B, H, SQ, alpha, st, fi);
                endb.arrive_and_wait();
            }
        });
    for (auto& x : th) x.join();

    // reference in double with the kernel's 16-bit roundings of q, k, v and p
    double maxd = 0, maxrel = 0; ll unwritten = 0, bad = 0, masked_nonzero = 0, nmasked_rows = 0;
    vector<double> sc(N), p(N);
    for (int b = 0; b < B; ++b) for (int h = 0; h < H; ++h) for (int i = 0; i < SQ; ++i) {
        bool all_masked = true;
        for (int j = 0; j < N; ++j) {
            double s = 0;
            for (int t = 0; t < D; ++t)
                s += as16(q[b * st.q[0] + h * st.q[1] + i * st.q[2] + t * st.q[3]]) * as16(k[b * st.k[0] + h * st.k[1] + j * st.k[2] + t * st.k[3]]);
            s *= alpha;
            ll mi = mk == 0 ? (ll)b * N + j : mk == 1 ? ((ll)b * SQ + i) * N + j : (ll)b * SQ + i;
            sc[j] = mask[mi] ? s : -INFINITY;
            if (mask[mi]) all_masked = false;
        }
        double m = -INFINITY; for (int j = 0; j < N; ++j) m = std::max(m, sc[j]);
        double sum = 0; for (int j = 0; j < N; ++j) { p[j] = std::exp(sc[j] - m); sum += p[j]; }
        for (int j = 0; j < N; ++j) { double pj = p[j] / sum; if (pj != pj) pj = 0; p[j] = dec16(to_16bit((float)pj, KBF)); }
        if (all_masked) nmasked_rows++;
        for (int c = 0; c < DV; ++c) {
            double o = 0;
            for (int j = 0; j < N; ++j) o += p[j] * as16(v[b * st.v[0] + h * st.v[1] + j * st.v[2] + c * st.v[3]]);
            OUT_T raw = y[b * st.o[0] + h * st.o[1] + i * st.o[2] + c * st.o[3]];
            float got = dec<OUT_T>(raw);
            if (got != got) { unwritten++; continue; }
            if (all_masked && got != 0.f) masked_nonzero++;
            double dd = std::fabs(got - o);
            maxd = std::max(maxd, dd);
            double tol = 2e-4 + (sizeof(OUT_T) == 2 ? (KBF ? 1.0 / 128 : 1.0 / 1024) * std::fabs(o) : 1e-5 * std::fabs(o));
            if (dd > tol) { if (bad < 5) std::printf("  mismatch b%d h%d i%d c%d got %.7g ref %.7g\n", b, h, i, c, got, o); bad++; }
        }
    }
    std::printf("RESULT B=%d H=%d SQ=%d SKV=%d D=%d DV=%d layout=%d mask=%d out16=%d bf=%d: max|diff| %.3g, mismatches %lld, unwritten %lld, fully-masked rows %lld (nonzero outputs in them %lld), syncs(block0 thread0 total) %ld, shuffles %ld\n",
                B, H, SQ, N, D, DV, layout, mk, (int)(sizeof(OUT_T) == 2), KBF, maxd, bad, unwritten, nmasked_rows, masked_nonzero, g_sync_calls.load(), g_shfl_calls.load());
    return (bad || unwritten || masked_nonzero) ? 1 : 0;
}

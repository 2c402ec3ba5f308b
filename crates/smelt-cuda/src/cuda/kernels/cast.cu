// Cast between every numeric dtype and bool, as the CPU's Cast (smelt-ops math/cast.rs):
// float -> integer truncates toward zero and saturates (NaN gives 0); integer -> integer
// wraps; integer -> float rounds to nearest even; anything -> bool is x != 0 (NaN true);
// f16/bf16 targets round to nearest even as the CPU's half crate does from an f64 (see
// cast_store).
// Dtype codes (plan::cast::code): 0 f32, 1 f64, 2 f16, 3 bf16, 4 i8, 5 u8, 6 i16, 7 u16,
// 8 i32, 9 u32, 10 i64, 11 u64, 12 bool, 13 f8e4m3fn, 14 f8e4m3fnuz, 15 f8e5m2,
// 16 f8e5m2fnuz, 17 f4e2m1, 18 i4, 19 u4 (the low-bit ones one per byte, as on the host).
// Low-bit floats decode exactly to f32 and encode from the f64 value rounding to nearest
// even with the CPU's overflow rules (smelt-ops math/lowbit.rs, `saturate`); int4/uint4
// sources are i8/u8 values, targets truncate then wrap into 4 bits.

// A low-bit float format (lowbit.rs Format): special 0 = Fn (S.1111.111 NaN), 1 = Fnuz
// (0x80 the only NaN, no -0), 2 = Ieee (inf and NaN), 3 = none (E2M1).
struct LowFmt { int mbits, bias; unsigned int max_mag; int sign_shift, special; };
__device__ __forceinline__ LowFmt low_fmt(int code) {
    switch (code) {
    case 13: return LowFmt{3, 7, 0x7E, 7, 0};
    case 14: return LowFmt{3, 8, 0x7F, 7, 1};
    case 15: return LowFmt{2, 15, 0x7B, 7, 2};
    case 16: return LowFmt{2, 16, 0x7F, 7, 1};
    default: return LowFmt{1, 1, 0x7, 3, 3};
    }
}
__device__ __forceinline__ unsigned int low_nan(LowFmt f, bool neg) {
    unsigned int s = neg ? (1u << f.sign_shift) : 0u;
    switch (f.special) {
    case 0: return 0x7Fu | s;
    case 1: return 0x80u;
    case 2: return 0x7Eu | s;
    default: return neg ? 0u : (1u << f.sign_shift);
    }
}
__device__ unsigned int low_encode(LowFmt f, double x, bool saturate) {
    bool neg = __double_as_longlong(x) < 0;
    if (x != x) return low_nan(f, neg);
    unsigned int s = neg ? (1u << f.sign_shift) : 0u;
    double a = fabs(x);
    int min_exp = 1 - f.bias;
    unsigned long long mag;
    if (a == 0.0) mag = 0;
    else if (a == (double)SM_INF) mag = ~0ull;
    else {
        int be = (int)((__double_as_longlong(a) >> 52) & 0x7ff);
        int e = be == 0 ? -1075 : be - 1023;
        if (e < min_exp) e = min_exp;
        if (e > 64) mag = ~0ull;
        else {
            double q = ldexp(a, f.mbits - e);   // exact: a power-of-two scaling
            unsigned long long n = (unsigned long long)rint(q);
            mag = ((unsigned long long)(e - min_exp) << f.mbits) + n;
        }
    }
    if (mag > f.max_mag) {
        if (saturate || f.special == 3) return f.max_mag | s;
        return f.special == 2 ? ((f.max_mag + 1) | s) : low_nan(f, neg);
    }
    if (mag == 0 && f.special == 1) return 0;
    return (unsigned int)mag | s;
}
__device__ float low_decode(LowFmt f, unsigned int bits) {
    int width = f.sign_shift + 1;
    if (width < 8) bits &= (1u << width) - 1;
    unsigned int sb = 1u << f.sign_shift;
    bool neg = (bits & sb) != 0;
    unsigned int mag = bits & ~sb;
    float nan = __int_as_float(0x7fc00000);
    if (f.special == 1 && bits == 0x80) return nan;
    if (f.special == 0 && mag == 0x7F) return neg ? -nan : nan;
    if (f.special == 2 && mag > f.max_mag) {
        float v = mag == f.max_mag + 1 ? SM_INF : nan;
        return neg ? -v : v;
    }
    int e = (int)(mag >> f.mbits);
    float m = (float)(mag & ((1u << f.mbits) - 1));
    float v = e == 0 ? ldexpf(m, 1 - f.bias - f.mbits)
                     : ldexpf(1.0f + m / (float)(1 << f.mbits), e - f.bias);
    return neg ? -v : v;
}
// The low 4 bits of trunc(d) as the CPU's `d.trunc() as i128` (saturating, NaN 0).
__device__ __forceinline__ unsigned int low4_of_float(double d) {
    if (d != d) return 0;
    if (d >= 1.7014118346046923e38) return 0xF;   // i128::MAX
    if (d <= -1.7014118346046923e38) return 0;    // i128::MIN
    if (fabs(d) >= 9.2233720368547758e18) return 0; // a multiple of 2^11
    return (unsigned int)((unsigned long long)(long long)d & 0xFull);
}

struct CastVal {
    bool fl;                 // a float source: d holds it exactly
    bool sgn;                // an integer source was signed (u holds it mod 2^64)
    double d;
    unsigned long long u;
};

__device__ __forceinline__ CastVal cast_load(int code, const void* p, int i) {
    CastVal v;
    v.fl = code <= 3 || (code >= 13 && code <= 17);
    v.sgn = false;
    v.d = 0.0;
    v.u = 0;
    switch (code) {
    case 0: v.d = ((const float*)p)[i]; break;
    case 1: v.d = ((const double*)p)[i]; break;
    case 2: v.d = small_to_float(((const unsigned short*)p)[i], 5, 10); break;
    case 3: v.d = __int_as_float(((int)((const unsigned short*)p)[i]) << 16); break;
    case 4: v.u = (unsigned long long)(long long)((const signed char*)p)[i]; v.sgn = true; break;
    case 5: v.u = ((const unsigned char*)p)[i]; break;
    case 6: v.u = (unsigned long long)(long long)((const short*)p)[i]; v.sgn = true; break;
    case 7: v.u = ((const unsigned short*)p)[i]; break;
    case 8: v.u = (unsigned long long)(long long)((const int*)p)[i]; v.sgn = true; break;
    case 9: v.u = ((const unsigned int*)p)[i]; break;
    case 10: v.u = (unsigned long long)((const long long*)p)[i]; v.sgn = true; break;
    case 11: v.u = ((const unsigned long long*)p)[i]; break;
    case 12: v.u = ((const unsigned char*)p)[i] ? 1 : 0; break;
    case 18: v.u = (unsigned long long)(long long)((const signed char*)p)[i]; v.sgn = true; break;
    case 19: v.u = ((const unsigned char*)p)[i]; break;
    default: v.d = low_decode(low_fmt(code), ((const unsigned char*)p)[i]); break;
    }
    return v;
}

// A float source as a signed integer of [lo, hi] (saturating, NaN 0).
__device__ __forceinline__ long long sat_signed(double d, double lo, double hi, long long ilo, long long ihi) {
    if (d != d) return 0;
    if (d <= lo) return ilo;
    if (d >= hi) return ihi;
    return (long long)d;
}
__device__ __forceinline__ unsigned long long sat_unsigned(double d, double hi, unsigned long long ihi) {
    if (d != d || d <= 0.0) return 0;
    if (d >= hi) return ihi;
    return (unsigned long long)d;
}

__device__ __forceinline__ void cast_store(int code, void* p, int i, CastVal v, bool saturate) {
    // the exact value as a double for float targets (integers round once to nearest)
    double dv = v.fl ? v.d : (v.sgn ? (double)(long long)v.u : (double)v.u);
    switch (code) {
    case 0: ((float*)p)[i] = v.fl ? (float)v.d : (v.sgn ? (float)(long long)v.u : (float)v.u); break;
    case 1: ((double*)p)[i] = dv; break;
    // f16 from a double goes through f32 (the CPU's half crate on x86 with F16C); bf16 from
    // a double drops the low 32 bits first, then rounds (half's f64_to_bf16)
    case 2: ((unsigned short*)p)[i] = (unsigned short)double_to_small((double)(float)dv, 5, 10); break;
    case 3: ((unsigned short*)p)[i] = (unsigned short)double_to_small(
                __longlong_as_double(__double_as_longlong(dv) & (long long)0xffffffff00000000ULL), 8, 7); break;
    case 4: ((signed char*)p)[i] = v.fl ? (signed char)sat_signed(v.d, -128.0, 127.0, -128, 127) : (signed char)v.u; break;
    case 5: ((unsigned char*)p)[i] = v.fl ? (unsigned char)sat_unsigned(v.d, 255.0, 255) : (unsigned char)v.u; break;
    case 6: ((short*)p)[i] = v.fl ? (short)sat_signed(v.d, -32768.0, 32767.0, -32768, 32767) : (short)v.u; break;
    case 7: ((unsigned short*)p)[i] = v.fl ? (unsigned short)sat_unsigned(v.d, 65535.0, 65535) : (unsigned short)v.u; break;
    case 8: ((int*)p)[i] = v.fl ? (int)sat_signed(v.d, -2147483648.0, 2147483647.0, -2147483647LL - 1, 2147483647LL) : (int)v.u; break;
    case 9: ((unsigned int*)p)[i] = v.fl ? (unsigned int)sat_unsigned(v.d, 4294967295.0, 4294967295ULL) : (unsigned int)v.u; break;
    case 10: ((long long*)p)[i] = v.fl ? sat_signed(v.d, -9223372036854775808.0, 9223372036854775808.0, (-0x7fffffffffffffffLL - 1), 0x7fffffffffffffffLL) : (long long)v.u; break;
    case 11: ((unsigned long long*)p)[i] = v.fl ? sat_unsigned(v.d, 18446744073709551616.0, 0xffffffffffffffffULL) : v.u; break;
    case 12: ((unsigned char*)p)[i] = (v.fl ? (v.d != 0.0) : (v.u != 0)) ? 1 : 0; break;
    case 18: {
        unsigned int low = v.fl ? low4_of_float(v.d) : (unsigned int)(v.u & 0xFull);
        ((signed char*)p)[i] = (signed char)(low >= 8 ? (int)low - 16 : (int)low);
        break;
    }
    case 19: ((unsigned char*)p)[i] = (unsigned char)(v.fl ? low4_of_float(v.d) : (unsigned int)(v.u & 0xFull)); break;
    default: ((unsigned char*)p)[i] = (unsigned char)low_encode(low_fmt(code), dv, saturate); break;
    }
}

extern "C" __global__ void cast_any(const void* x, void* y, int n, int from, int to, int saturate) {
    GRID_STRIDE(i, n) cast_store(to, y, i, cast_load(from, x, i), saturate != 0);
}

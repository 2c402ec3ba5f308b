// Cast between every numeric dtype and bool, as the CPU's Cast (smelt-ops math/cast.rs):
// float -> integer truncates toward zero and saturates (NaN gives 0); integer -> integer
// wraps; integer -> float rounds to nearest even; anything -> bool is x != 0 (NaN true);
// f16/bf16 targets round to nearest even as the CPU's half crate does from an f64 (see
// cast_store).
// Dtype codes (plan::cast::code): 0 f32, 1 f64, 2 f16, 3 bf16, 4 i8, 5 u8, 6 i16, 7 u16,
// 8 i32, 9 u32, 10 i64, 11 u64, 12 bool.

struct CastVal {
    bool fl;                 // a float source: d holds it exactly
    bool sgn;                // an integer source was signed (u holds it mod 2^64)
    double d;
    unsigned long long u;
};

__device__ __forceinline__ CastVal cast_load(int code, const void* p, int i) {
    CastVal v;
    v.fl = code <= 3;
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
    default: v.u = ((const unsigned char*)p)[i] ? 1 : 0; break;
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

__device__ __forceinline__ void cast_store(int code, void* p, int i, CastVal v) {
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
    default: ((unsigned char*)p)[i] = (v.fl ? (v.d != 0.0) : (v.u != 0)) ? 1 : 0; break;
    }
}

extern "C" __global__ void cast_any(const void* x, void* y, int n, int from, int to) {
    GRID_STRIDE(i, n) cast_store(to, y, i, cast_load(from, x, i));
}

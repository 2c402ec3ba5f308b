// Element-wise kernels. Op codes are plan::UnaryOp / plan::BinaryOp as i32; p and q are the
// op's float parameters (Clip bounds, LeakyRelu alpha, ...).

__device__ __forceinline__ float unary_f(int op, float x, float p, float q) {
    switch (op) {
    case 0: return x < 0.0f ? 0.0f : x;                       // Relu (NaN stays)
    case 1: return 1.0f / (1.0f + expf(-x));                  // Sigmoid
    case 2: return tanhf(x);                                  // Tanh
    case 3: return expf(x);                                   // Exp
    case 4: return logf(x);                                   // Log
    case 5: return sqrtf(x);                                  // Sqrt
    case 6: return -x;                                        // Neg
    case 7: return fabsf(x);                                  // Abs
    case 8: return erff(x);                                   // Erf
    case 9: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); // Gelu (exact)
    case 10: return fminf(fmaxf(x, p), q);                    // Clip [p, q]
    case 11: return x >= 0.0f ? x : p * x;                    // LeakyRelu(alpha p)
    case 12: return 1.0f / x;                                 // Reciprocal
    case 13: return floorf(x);                                // Floor
    case 14: return ceilf(x);                                 // Ceil
    case 15: return sinf(x);                                  // Sin
    case 16: return cosf(x);                                  // Cos
    case 17: return x > 20.0f ? x : log1pf(expf(x));          // Softplus
    case 18: return fmaxf(0.0f, fminf(1.0f, p * x + q));      // HardSigmoid(alpha p, beta q)
    case 19: return x >= 0.0f ? x : p * (expf(x) - 1.0f);     // Elu(alpha p)
    case 20: return x;                                        // Identity
    case 21: return x != x ? x : (float)((x > 0.0f) - (x < 0.0f)); // Sign (NaN stays)
    case 22: return rintf(x);                                 // Round (half to even)
    case 23: return x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f)); // HardSwish
    case 24: return x > 0.0f ? q * x : q * p * (expf(x) - 1.0f);   // Selu(alpha p, gamma q)
    case 25: return x / (1.0f + fabsf(x));                    // Softsign
    case 26: return x / (1.0f + expf(-x));                    // Silu / Swish
    default: return __int_as_float(0x7fc00000);
    }
}

__device__ __forceinline__ float binary_f(int op, float a, float b) {
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return powf(a, b);
    case 5: return (a != a || b != b) ? __int_as_float(0x7fc00000) : fmaxf(a, b); // Max
    case 6: return (a != a || b != b) ? __int_as_float(0x7fc00000) : fminf(a, b); // Min
    case 7: return a >= 0.0f ? a : a * b;                     // PRelu(x a, slope b)
    default: return __int_as_float(0x7fc00000);
    }
}

extern "C" __global__ void unary_f32(const float* x, float* y, int n, int op, float p, float q) {
    GRID_STRIDE(i, n) y[i] = unary_f(op, x[i], p, q);
}

// a and b have the output's shape (no broadcasting).
extern "C" __global__ void binary_same_f32(const float* a, const float* b, float* y, int n, int op) {
    GRID_STRIDE(i, n) y[i] = binary_f(op, a[i], b[i]);
}

// Broadcasting: s.a and s.b are the operands' strides over the output dims s.dims.
extern "C" __global__ void binary_f32(const float* a, const float* b, float* y, int n, int op, Strides s) {
    GRID_STRIDE(i, n) {
        int oa, ob, oc;
        offsets3(s, i, oa, ob, oc);
        y[i] = binary_f(op, a[oa], b[ob]);
    }
}

// Where(cond u8, x, y): s.a, s.b, s.c are the strides of cond, x and y.
extern "C" __global__ void where_f32(const unsigned char* c, const float* a, const float* b, float* y, int n, Strides s) {
    GRID_STRIDE(i, n) {
        int oc, oa, ob;
        offsets3(s, i, oc, oa, ob);
        y[i] = c[oc] ? a[oa] : b[ob];
    }
}

// Cast to f32 from i64, i32, u8 (bool); from f32 to i64 (truncation toward zero).
extern "C" __global__ void cast_i64_f32(const long long* x, float* y, int n) { GRID_STRIDE(i, n) y[i] = (float)x[i]; }
extern "C" __global__ void cast_i32_f32(const int* x, float* y, int n) { GRID_STRIDE(i, n) y[i] = (float)x[i]; }
extern "C" __global__ void cast_u8_f32(const unsigned char* x, float* y, int n) { GRID_STRIDE(i, n) y[i] = (float)x[i]; }
extern "C" __global__ void cast_f32_i64(const float* x, long long* y, int n) {
    GRID_STRIDE(i, n) {
        float v = x[i];
        y[i] = (v != v) ? 0 : (v >= 9.2233720e18f ? 0x7fffffffffffffffLL : (v <= -9.2233720e18f ? (-0x7fffffffffffffffLL - 1) : (long long)v));
    }
}

// Comparisons (plan::CompareOp) of broadcast f32 operands into bool (0/1 bytes).
extern "C" __global__ void compare_f32(const float* a, const float* b, unsigned char* y, int n, int op, Strides s) {
    GRID_STRIDE(i, n) {
        int oa, ob, oc;
        offsets3(s, i, oa, ob, oc);
        float x = a[oa], z = b[ob];
        bool r;
        switch (op) {
        case 0: r = x == z; break;
        case 1: r = x < z; break;
        case 2: r = x > z; break;
        case 3: r = x <= z; break;
        default: r = x >= z; break;
        }
        y[i] = r ? 1 : 0;
    }
}

// y[i] = y[i] + b[i % n] over `total` elements: a MatMul's folded bias Add (plan::fold)
// when cuBLASLt's epilogue does not run it.
extern "C" __global__ void row_bias_f32(float* y, const float* b, int n, int total) {
    GRID_STRIDE(i, total) y[i] = y[i] + b[i % n];
}

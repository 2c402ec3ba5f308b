#!/usr/bin/env python3
"""Turn a rendered CUDA kernel + prelude pieces into C++ the emulation harness includes."""
import re, sys, os
src_path, outdir = sys.argv[1], sys.argv[2]
main = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../crates/smelt-cuda/src/cuda/kernels/")
common = open(main + 'common.cuh').read()
elem = open(main + 'elementwise.cu').read()
k = open(src_path).read()
os.makedirs(outdir, exist_ok=True)

def extract_fn(text, name):
    i = text.index(name)
    i = text.rindex('\n', 0, i) + 1
    j = text.index('{', i); depth = 0
    while True:
        if text[j] == '{': depth += 1
        elif text[j] == '}':
            depth -= 1
            if depth == 0: return text[i:j + 1] + '\n'
        j += 1

prelude = []
prelude.append(re.search(r'#define SM_INF .*', common).group(0) + '\n')
prelude.append(extract_fn(common, 'float warp_sum('))
prelude.append(extract_fn(common, 'float warp_max('))
prelude.append(extract_fn(common, 'unsigned short f32_to_bf16_bits('))
prelude.append(extract_fn(common, 'unsigned short to_16bit('))
prelude.append(extract_fn(elem, 'float binary_f('))
prelude.append(extract_fn(elem, 'float unary_f('))
open(os.path.join(outdir, 'prelude.inc'), 'w').write(''.join(prelude))

# the kernel: asm in from16 -> emulated conversion; shared arrays -> checked static arrays
asm = 'asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));'
assert k.count(asm) == 1, 'asm line not found'
k = k.replace(asm, 'f = emu_f16_to_f32(h);')
# the tensor-core variant: mma.sync -> the warp-collective emulation, ld32 -> memcpy
mma = re.search(r'__device__ __forceinline__ void mma16816\(.*\n', k)
if mma:
    bfm = 1 if '.bf16.bf16.' in mma.group(0) else 0
    k = k.replace(mma.group(0), 'inline void mma16816(float* d, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1) { emu_mma16816(d, a0, a1, a2, a3, b0, b1, %d); }\n' % bfm)
    k = k.replace('{ return *reinterpret_cast<const unsigned*>(p); }', '{ unsigned u; std::memcpy(&u, p, 4); return u; }')
    ld = re.search(r'__device__ __forceinline__ void ldsm4t\(.*\n', k)
    k = k.replace(ld.group(0), 'inline void ldsm4t(unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3, const unsigned short* p) { emu_ldsm4t(r0, r1, r2, r3, p); }\n')
    # cvt.rn.{f16,bf16}x2.f32 -> to_16bit of each half; cp.async -> a synchronous copy
    # (its commit and wait: nothing; the barriers after them remain)
    emu = {
        'pack2': 'inline unsigned pack2(float lo, float hi) { return (unsigned)to_16bit(lo, %d) | ((unsigned)to_16bit(hi, %d) << 16); }\n' % (bfm, bfm),
        'mma16816z': 'inline void mma16816z(float* d, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1) { d[0] = d[1] = d[2] = d[3] = 0.0f; emu_mma16816(d, a0, a1, a2, a3, b0, b1, %d); }\n' % bfm,
        'ldsm4': 'inline void ldsm4(unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3, const unsigned short* p) { emu_ldsm4(r0, r1, r2, r3, p); }\n',
        'ex2': 'inline float ex2(float x) { return exp2f(x); }\n',
        'cp16': 'inline void cp16(unsigned short* dst, const unsigned short* src) { std::memcpy(dst, src, 16); }\n',
        'cp_commit': 'inline void cp_commit() {}\n',
        'cp_wait0': 'inline void cp_wait0() {}\n',
        'cp_wait1': 'inline void cp_wait1() {}\n',
    }
    for name, body in emu.items():
        m = re.search(r'__device__ __forceinline__ \w+ %s\(.*\n' % name, k)
        assert m, name
        k = k.replace(m.group(0), body)
assert 'asm' not in k
k, nsh = re.subn(r'__shared__\s+(?:__align__\(\d+\)\s+)?(\w+(?: \w+)?)\s+(\w+)\[([^\]]+)\]\[([^\]]+)\];', r'static Chk2<\1, (\3), (\4)> \2;', k)
assert nsh in (2, 3), nsh
assert '__shared__' not in k
open(os.path.join(outdir, 'kernel.inc'), 'w').write(k)

sig = re.search(r'fused_attention\(([^)]*)\)', k).group(1)
ps = [p.strip() for p in sig.split(',')]
def ty(p):
    return ' '.join(p.replace('const', '').replace('__restrict__', '').replace('*', '').split()[:-1])
consts = re.search(r'const int D = (\d+), DV = (\d+), n = (\d+)', k)
rows = int(re.search(r'R = (\d+)', k).group(1))
threads = int(re.search(r'__launch_bounds__\((\d+)\)', k).group(1))
bf = int(re.search(r'round16\(float v\) \{ return from16\(to_16bit\(v, (\d)\)', k).group(1))
nleaf = sum(1 for p in ps if re.match(r'const \w+( \w+)?\*( __restrict__)? x\d', p))
# the mask's (leaf 0's) compiled-in key stride, -1 where none is compiled in
ks = re.search(r'const int S0 = (-?\d+);', k)
cfg = f'''#define OUT_T {ty(ps[0])}
#define Q_T {ty(ps[1])}
#define K_T {ty(ps[2])}
#define V_T {ty(ps[3])}
#define KD {consts.group(1)}
#define KDV {consts.group(2)}
#define KN {consts.group(3)}
#define KBF {bf}
#define NLEAF {nleaf}
#define KR {rows}
#define KT {threads}
#define KS0 {ks.group(1) if ks else -1}
'''
open(os.path.join(outdir, 'config.h'), 'w').write(cfg)
print(cfg)

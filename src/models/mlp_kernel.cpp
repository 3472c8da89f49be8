// The activations and the layer product of an MLP, shared by MlpField and MlpDecoder (see mlp_kernel.hpp).
//
// Activations. s, s1, s2, s3 come from SIMD kernels on Eigen's packet primitives: std::tanh alone would cost more
// than a 64-wide layer product. Every kernel starts from one exponential (Exp below: a Taylor polynomial after a
// Cody-Waite reduction, no division) and shares one division between the value and its derivatives (softplus adds a
// log and a division for log1p). The formulas avoid cancellation in the derivatives (e.g. tanh' = 4 E / (1 + E)^2
// with E = exp(-2|x|) for large |x|, not 1 - tanh^2). Accuracy (max relative error against long double over
// [-800, 800], down to 1e-300 and out to 1e300, including the saturation regions): about 3.3e-16 for the values,
// 5.3e-16 for the first derivatives and 7e-16 for the second and third (test_field and test_mlp_decoder pin it). NaN
// propagates.
//
// Layer product. A register-blocked SIMD kernel that reads W in place (never copied). Eigen's GEMM spends longer
// packing W than multiplying when the stack has a handful of columns (the decoder), and this kernel also beats it by
// about a third on the field's blocks of points (64-wide layers, 1 to 1000 points).
#include "mlp_kernel.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace pushpull::mlp_kernel {
namespace {

namespace ei = Eigen::internal;

struct Derivatives {
  Packet s, s1, s2, s3;
};

EIGEN_STRONG_INLINE Packet Splat(double x) { return ei::pset1<Packet>(x); }

constexpr double InverseFactorial(int n) { return n <= 1 ? 1.0 : InverseFactorial(n - 1) / n; }

// exp(x) = 2^k e^r = 2^k (1 + r q(r)): x = k ln2 + r with k = round(x / ln2) and |r| <= ln2 / 2 (Cody-Waite
// reduction: ln2 is split into a 32-bit head, so that k * head is exact, and a tail), e^r by its Taylor polynomial
// of degree 13 (truncation error below 5e-18 relative for |r| <= 0.347). x is clamped to [-746, 710] first (beyond,
// exp underflows to 0 or overflows anyway); a NaN is dealt with by the caller (Apply).
struct ExpParts {
  Packet k, r, q;  // e^r = 1 + r q
};
EIGEN_STRONG_INLINE ExpParts ExpReduce(const Packet& x_in) {
  const Packet x = ei::pmin(ei::pmax(x_in, Splat(-746.0)), Splat(710.0));
  const Packet round = Splat(0x1.8p52);  // adding and subtracting 1.5 * 2^52 rounds to an integer
  ExpParts e;
  e.k = ei::psub(ei::padd(ei::pmul(x, Splat(0x1.71547652b82fep+0)), round), round);  // x / ln2
  e.r = ei::pmadd(e.k, Splat(-0x1.62e42fee00000p-1), x);  // exact
  e.r = ei::pmadd(e.k, Splat(-0x1.a39ef35793c76p-33), e.r);
  Packet q = Splat(InverseFactorial(13));
  q = ei::pmadd(q, e.r, Splat(InverseFactorial(12)));
  q = ei::pmadd(q, e.r, Splat(InverseFactorial(11)));
  q = ei::pmadd(q, e.r, Splat(InverseFactorial(10)));
  q = ei::pmadd(q, e.r, Splat(InverseFactorial(9)));
  q = ei::pmadd(q, e.r, Splat(InverseFactorial(8)));
  q = ei::pmadd(q, e.r, Splat(InverseFactorial(7)));
  q = ei::pmadd(q, e.r, Splat(InverseFactorial(6)));
  q = ei::pmadd(q, e.r, Splat(InverseFactorial(5)));
  q = ei::pmadd(q, e.r, Splat(InverseFactorial(4)));
  q = ei::pmadd(q, e.r, Splat(InverseFactorial(3)));
  q = ei::pmadd(q, e.r, Splat(InverseFactorial(2)));
  e.q = ei::pmadd(q, e.r, Splat(1.0));
  return e;
}

// p * 2^k, exact (including a gradual underflow to 0).
EIGEN_STRONG_INLINE Packet Scale(const Packet& p, const Packet& k) {
#if defined(EIGEN_VECTORIZE_AVX512)
  return _mm512_scalef_pd(p, k);  // one instruction
#else
  return ei::pldexp(p, k);
#endif
}

EIGEN_STRONG_INLINE Packet Exp(const Packet& x) {
  const ExpParts e = ExpReduce(x);
  return Scale(ei::pmadd(e.q, e.r, Splat(1.0)), e.k);
}

// tanh. With y = x^2, for |x| <= 0.625 the Pade approximant from Lambert's continued fraction
//   tanh x = x / (1 + y / (3 + y / (5 + ... + y / 15)))  =  x P(y) / Q(y),
//   P = 2027025 + 270270 y + 6930 y^2 + 36 y^3,   Q = 2027025 + 945945 y + 51975 y^2 + 630 y^3 + y^4,
// whose truncation error there is below 1e-17 (relative); 1 - tanh^2 = (Q - xP)(Q + xP) / Q^2 without cancellation
// (tanh^2 <= 0.31). Beyond, with E = exp(-2|x|) <= 0.29: tanh = sign(x) (1 - E) / (1 + E) and 1 - tanh^2 =
// 4 E / (1 + E)^2. Both share one division. Then s2 = -2 t s1 and s3 = d/dx (-2 t s1) = s1 (6 t^2 - 2).
EIGEN_STRONG_INLINE Derivatives Tanh(const Packet& x) {
  const Packet one = Splat(1.0);
  const Packet ax = ei::pabs(x);
  const Packet y = ei::pmul(x, x);
  Packet P = Splat(36.0);
  P = ei::pmadd(P, y, Splat(6930.0));
  P = ei::pmadd(P, y, Splat(270270.0));
  P = ei::pmadd(P, y, Splat(2027025.0));
  Packet Q = ei::padd(y, Splat(630.0));
  Q = ei::pmadd(Q, y, Splat(51975.0));
  Q = ei::pmadd(Q, y, Splat(945945.0));
  Q = ei::pmadd(Q, y, Splat(2027025.0));
  const Packet E = Exp(ei::pmul(Splat(-2.0), ax));
  const Packet small = ei::pcmp_le(ax, Splat(0.625));
  const Packet negative = ei::pcmp_lt(x, ei::pzero(x));
  const Packet one_minus_E = ei::psub(one, E);
  const Packet xP = ei::pmul(x, P);
  const Packet num = ei::pselect(small, xP, ei::pselect(negative, ei::pnegate(one_minus_E), one_minus_E));
  const Packet den = ei::pselect(small, Q, ei::padd(one, E));
  const Packet one_minus_t2_num =
      ei::pselect(small, ei::pmul(ei::psub(Q, xP), ei::padd(Q, xP)), ei::pmul(Splat(4.0), E));
  const Packet r = ei::pdiv(one, den);
  Derivatives d;
  d.s = ei::pmul(num, r);
  d.s1 = ei::pmul(one_minus_t2_num, ei::pmul(r, r));
  d.s2 = ei::pmul(Splat(-2.0), ei::pmul(d.s, d.s1));
  d.s3 = ei::pmul(d.s1, ei::pmadd(Splat(6.0), ei::pmul(d.s, d.s), Splat(-2.0)));
  return d;
}

// The logistic function p = sigmoid(x), its complement q = 1 - p and the derivatives of p, from E = exp(-|x|):
// r = 1 / (1 + E) is p for x >= 0 (q = E r) and q otherwise. p' = p q = E r^2; p'' = p' (1 - 2p) = p' (q - p);
// p''' = p' ((1 - 2p)^2 - 2 p') = p' (1 - 6 p') since (1 - 2p)^2 = 1 - 4 p q.
struct Logistic {
  Packet E, p, q, d1, d2, d3;
};
EIGEN_STRONG_INLINE Logistic LogisticParts(const Packet& x) {
  const Packet one = Splat(1.0);
  Logistic l;
  l.E = Exp(ei::pnegate(ei::pabs(x)));
  const Packet r = ei::pdiv(one, ei::padd(one, l.E));
  const Packet Er = ei::pmul(l.E, r);
  const Packet nonnegative = ei::pcmp_le(ei::pzero(x), x);
  l.p = ei::pselect(nonnegative, r, Er);
  l.q = ei::pselect(nonnegative, Er, r);
  l.d1 = ei::pmul(Er, r);
  l.d2 = ei::pmul(l.d1, ei::psub(l.q, l.p));
  l.d3 = ei::pmul(l.d1, ei::psub(one, ei::pmul(Splat(6.0), l.d1)));
  return l;
}

EIGEN_STRONG_INLINE Derivatives Sigmoid(const Packet& x) {
  const Logistic l = LogisticParts(x);
  return {l.p, l.d1, l.d2, l.d3};
}

// softplus(x) = log(1 + e^x) = log1p(E) + max(x, 0) with E = exp(-|x|); its derivatives are sigmoid's: p, p', p''.
// log1p(E) = log(w) E / (w - 1) with w = 1 + E rounded (exact for w == 1, where it is E): the quotient cancels the
// rounding error of w.
EIGEN_STRONG_INLINE Derivatives Softplus(const Packet& x) {
  const Packet one = Splat(1.0);
  const Logistic l = LogisticParts(x);
  const Packet w = ei::padd(one, l.E);
  const Packet log1p_E =
      ei::pselect(ei::pcmp_eq(w, one), l.E, ei::pmul(ei::plog(w), ei::pdiv(l.E, ei::psub(w, one))));
  return {ei::padd(log1p_E, ei::pmax(x, ei::pzero(x))), l.p, l.d1, l.d2};
}

// silu(x) = x p(x); its n-th derivative is n p^(n-1) + x p^(n).
EIGEN_STRONG_INLINE Derivatives Silu(const Packet& x) {
  const Logistic l = LogisticParts(x);
  Derivatives d;
  d.s = ei::pmul(x, l.p);
  d.s1 = ei::pmadd(x, l.d1, l.p);
  d.s2 = ei::pmadd(x, l.d2, ei::pmul(Splat(2.0), l.d1));
  d.s3 = ei::pmadd(x, l.d3, ei::pmul(Splat(3.0), l.d2));
  return d;
}

// elu(x) = x for x > 0 (derivatives 1, 0, 0), expm1(x) otherwise (derivatives e^x, e^x, e^x). With x- = min(x, 0)
// reduced as in Exp, x- = k ln2 + r: expm1(x-) = 2^k (e^r - 1) + (2^k - 1) = 2^k r q + (2^k - 1), without
// cancellation (for k = 0 it is r q; 2^k - 1 is exact; below about -746, 2^k = 0 and it is -1).
EIGEN_STRONG_INLINE Derivatives Elu(const Packet& x) {
  const Packet one = Splat(1.0);
  const Packet zero = ei::pzero(x);
  const ExpParts e = ExpReduce(ei::pmin(x, zero));
  const Packet pow2 = Scale(one, e.k);
  const Packet exp = Scale(ei::pmadd(e.q, e.r, one), e.k);
  const Packet expm1 = ei::pmadd(pow2, ei::pmul(e.r, e.q), ei::psub(pow2, one));
  const Packet positive = ei::pcmp_lt(zero, x);
  const Packet de = ei::pselect(positive, zero, exp);
  return {ei::pselect(positive, x, expm1), ei::pselect(positive, one, exp), de, de};
}

EIGEN_STRONG_INLINE Derivatives Identity(const Packet& x) {
  return {x, Splat(1.0), ei::pzero(x), ei::pzero(x)};
}

// out[0 .. kOrder][i] = s, s1, .. at x[i] for i < n (out[1] may be null for kOrder 1: then only s). A NaN argument
// gives NaN everywhere. The tail goes through the same packet code (padded with zeros), so a value does not depend
// on its position. In place (out[0] == x) is fine: each packet is loaded before it is stored.
template <Derivatives (*kKernel)(const Packet&), int kOrder>
void Apply(const double* x, Index n, double* const* out) {
  const bool derivative = kOrder > 0 && out[1] != nullptr;
  auto one_packet = [](const Packet& xi, Packet r[4]) {
    const Derivatives d = kKernel(xi);
    const Packet not_nan = ei::pcmp_eq(xi, xi);
    r[0] = ei::pselect(not_nan, d.s, xi);
    if (kOrder >= 1) r[1] = ei::pselect(not_nan, d.s1, xi);
    if (kOrder >= 2) r[2] = ei::pselect(not_nan, d.s2, xi);
    if (kOrder >= 3) r[3] = ei::pselect(not_nan, d.s3, xi);
  };
  const int outputs = derivative ? kOrder + 1 : 1;
  Packet r[4];
  Index i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    one_packet(ei::ploadu<Packet>(x + i), r);
    for (int k = 0; k < outputs; ++k) ei::pstoreu(out[k] + i, r[k]);
  }
  if (i < n) {
    double xt[kLanes] = {}, t[kLanes];
    std::copy(x + i, x + n, xt);
    one_packet(ei::ploadu<Packet>(xt), r);
    for (int k = 0; k < outputs; ++k) {
      ei::pstoreu(t, r[k]);
      std::copy(t, t + (n - i), out[k] + i);
    }
  }
}

template <int kOrder>
void Dispatch(Activation a, const double* x, Index n, double* const* out) {
  switch (a) {
    case Activation::kTanh: return Apply<Tanh, kOrder>(x, n, out);
    case Activation::kSigmoid: return Apply<Sigmoid, kOrder>(x, n, out);
    case Activation::kSoftplus: return Apply<Softplus, kOrder>(x, n, out);
    case Activation::kSilu: return Apply<Silu, kOrder>(x, n, out);
    case Activation::kElu: return Apply<Elu, kOrder>(x, n, out);
    case Activation::kIdentity: return Apply<Identity, kOrder>(x, n, out);
  }
}

// ---- The layer product A = W S ---------------------------------------------------------------------------------
// A register-blocked outer-product kernel that reads W in place. A tile of kP packets of rows times kC columns of A
// stays in registers while k runs over the inner dimension: A[rows, j] += W[rows, k] * S[k, j] (one load of W per
// packet row, one broadcast of S per column).
template <int kP, int kC>
EIGEN_STRONG_INLINE void ProductTile(const double* W, Index ldw, const double* S, Index lds, double* A, Index lda,
                                     Index n) {
  Packet acc[kP][kC];
  for (int p = 0; p < kP; ++p) {
    for (int j = 0; j < kC; ++j) acc[p][j] = ei::pzero(Packet());
  }
  for (Index k = 0; k < n; ++k) {
    Packet w[kP];
    for (int p = 0; p < kP; ++p) w[p] = ei::ploadu<Packet>(W + k * ldw + p * kLanes);
    for (int j = 0; j < kC; ++j) {
      const Packet b = ei::pset1<Packet>(S[k + j * lds]);
      for (int p = 0; p < kP; ++p) acc[p][j] = ei::pmadd(w[p], b, acc[p][j]);
    }
  }
  for (int p = 0; p < kP; ++p) {
    for (int j = 0; j < kC; ++j) ei::pstoreu(A + j * lda + p * kLanes, acc[p][j]);
  }
}

// kP packets of rows of A, all C columns (in tiles of at most 6 columns for kP = 4: 24 accumulators + 4 + 1
// registers of the 32 of AVX-512; at most 8 for kP <= 2: 16 + 2 + 1).
template <int kP>
void ProductRows(const double* W, Index ldw, const double* S, Index lds, double* A, Index lda, Index n, Index C) {
#if defined(EIGEN_VECTORIZE_AVX512)
  constexpr Index kMaxCols = kP <= 2 ? 8 : 6;
#else
  constexpr Index kMaxCols = 6;
#endif
  for (Index j = 0; j < C; j += kMaxCols) {
    const double* Sj = S + j * lds;
    double* Aj = A + j * lda;
    switch (std::min(kMaxCols, C - j)) {
      case 1: ProductTile<kP, 1>(W, ldw, Sj, lds, Aj, lda, n); break;
      case 2: ProductTile<kP, 2>(W, ldw, Sj, lds, Aj, lda, n); break;
      case 3: ProductTile<kP, 3>(W, ldw, Sj, lds, Aj, lda, n); break;
      case 4: ProductTile<kP, 4>(W, ldw, Sj, lds, Aj, lda, n); break;
      case 5: ProductTile<kP, 5>(W, ldw, Sj, lds, Aj, lda, n); break;
      case 6: ProductTile<kP, 6>(W, ldw, Sj, lds, Aj, lda, n); break;
      case 7: ProductTile<kP, 7>(W, ldw, Sj, lds, Aj, lda, n); break;
      default: ProductTile<kP, kMaxCols>(W, ldw, Sj, lds, Aj, lda, n); break;
    }
  }
}

// a b + c as Eigen's pmadd computes it in each lane: fused (one rounding) when the packets have FMA.
inline double Madd(double a, double b, double c) {
#if defined(EIGEN_VECTORIZE_FMA) || defined(EIGEN_VECTORIZE_AVX512)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// Products with at most this many columns take their last m mod kLanes rows by scalar multiply-adds; wider ones pad
// those rows to a packet (the padding then costs less than the scalar chains).
constexpr Index kScalarTailCols = 4;
static_assert(kLanes <= 8, "ScalarRows covers at most 7 tail rows");

// kR rows of A by scalar multiply-adds (the kR chains of a column interleaved), all C columns.
template <int kR>
void ScalarRows(const double* W, Index ldw, const double* S, Index lds, double* A, Index lda, Index n, Index C) {
  for (Index j = 0; j < C; ++j) {
    double acc[kR] = {};
    const double* Sj = S + j * lds;
    for (Index k = 0; k < n; ++k) {
      for (int t = 0; t < kR; ++t) acc[t] = Madd(W[t + k * ldw], Sj[k], acc[t]);
    }
    for (int t = 0; t < kR; ++t) A[t + j * lda] = acc[t];
  }
}

// Scratch of the last m mod kLanes rows: those rows of W padded to one packet with zero rows, and their product.
struct TailScratch {
  std::vector<double> w, a;
};

}  // namespace

void Activate(Activation a, double* x, double* s1, Index n) {
  double* const out[2] = {x, s1};
  Dispatch<1>(a, x, n, out);
}

void ActivationDerivatives(Activation a, const double* x, Index n, double* s, double* s1, double* s2, double* s3) {
  double* const out[4] = {s, s1, s2, s3};
  Dispatch<3>(a, x, n, out);
}

void LayerProduct(const double* W, Index m, Index n, const double* S, Index lds, Index C, double* A, Index lda,
                  const double* b, Index bias_cols) {
  constexpr Index L = kLanes;
  Index i = 0;
#if defined(EIGEN_VECTORIZE_AVX512)
  // Stacks of 7-8 columns (the geodesic jet of a 2-d latent space) in one tile of 2 packets of rows: W is read once
  // instead of twice (a 64 x 64 layer does not fit the L1 cache with the next one). Needs AVX-512's 32 registers.
  if (C == 7 || C == 8) {
    for (; i + 2 * L <= m; i += 2 * L) ProductRows<2>(W + i, m, S, lds, A + i, lda, n, C);
  }
#endif
  for (; i + 4 * L <= m; i += 4 * L) ProductRows<4>(W + i, m, S, lds, A + i, lda, n, C);
  for (; i + 2 * L <= m; i += 2 * L) ProductRows<2>(W + i, m, S, lds, A + i, lda, n, C);
  for (; i + L <= m; i += L) ProductRows<1>(W + i, m, S, lds, A + i, lda, n, C);
  if (i < m && C <= kScalarTailCols) {
    // The last rows of a thin product by scalar multiply-adds, the same operation as a packet lane's.
    switch (m - i) {
      case 1: ScalarRows<1>(W + i, m, S, lds, A + i, lda, n, C); break;
      case 2: ScalarRows<2>(W + i, m, S, lds, A + i, lda, n, C); break;
      case 3: ScalarRows<3>(W + i, m, S, lds, A + i, lda, n, C); break;
      case 4: ScalarRows<4>(W + i, m, S, lds, A + i, lda, n, C); break;
      case 5: ScalarRows<5>(W + i, m, S, lds, A + i, lda, n, C); break;
      case 6: ScalarRows<6>(W + i, m, S, lds, A + i, lda, n, C); break;
      default: ScalarRows<7>(W + i, m, S, lds, A + i, lda, n, C); break;  // kLanes is at most 8
    }
  } else if (i < m) {
    // The last rows through the packet kernel, with W padded by zero rows and the product written to scratch first.
    thread_local TailScratch scratch;
    const Index r = m - i;
    if (static_cast<Index>(scratch.w.size()) < L * n) scratch.w.resize(static_cast<std::size_t>(L * n));
    if (static_cast<Index>(scratch.a.size()) < L * C) scratch.a.resize(static_cast<std::size_t>(L * C));
    double* w = scratch.w.data();
    for (Index k = 0; k < n; ++k) {
      std::copy(W + i + k * m, W + m + k * m, w + k * L);
      std::fill(w + k * L + r, w + (k + 1) * L, 0.0);
    }
    ProductRows<1>(w, L, S, lds, scratch.a.data(), L, n, C);
    for (Index j = 0; j < C; ++j) std::copy(scratch.a.data() + j * L, scratch.a.data() + j * L + r, A + i + j * lda);
  }
  if (b) {
    for (Index j = 0; j < bias_cols; ++j) {
      double* a = A + j * lda;
      for (Index r = 0; r < m; ++r) a[r] += b[r];
    }
  }
}

}  // namespace pushpull::mlp_kernel

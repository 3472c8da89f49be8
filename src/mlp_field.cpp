// MlpField: a "pushpull-mlp" network as a velocity field, with forward-mode derivatives propagated analytically.
//
// Layout. A block of N points is an N x width row-major matrix, so a dense layer is one GEMM
//   Z = H W^T + 1 b^T
// (Eigen runs it as the column-major product W H^T). The K tangents of every point are stacked tangent-major into a
// (K N) x width row-major matrix, row k*N + i holding tangent k of point i, so that one GEMM pushes all N K tangents
// through a layer and the activation derivative (an N x width block) multiplies each of the K row blocks as one
// contiguous elementwise product.
//
// Time. concat: the time column of W0 enters the bias, b + t W0[:, d]. concatsquash: the gate g = sigmoid(gate_W t
// + gate_b) is folded into the layer, W_eff = diag(g) W and b_eff = g .* b + hyper_W t, so the tangent is scaled by the
// gate and the hyper term (constant in x) has no tangent.
//
// Derivatives. Identity directions (divergence, Jacobian) skip the first tangent GEMM: the first layer's tangent
// for e_k is column k of W0 on every row. The divergence needs only the diagonal of the last layer: tangent k of
// output k, one matrix-vector product per k instead of a full GEMM.
//
// Scratch memory is thread_local and grows to the largest block seen, so a steady ODE loop does not allocate (apart
// from Eigen's GEMM packing buffers when one product outgrows Eigen's 128 KB stack limit, e.g. the stacked tangents
// for K N of about 1000 and more; splitting the products to avoid that costs more than the allocation).
#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "pushpull/errors.hpp"
#include "pushpull/field.hpp"
#include "pushpull/mlp.hpp"

namespace pushpull {
namespace {

using Index = Eigen::Index;
using RowMap = Eigen::Map<RowMatrixXd>;
using ConstRowMap = Eigen::Map<const RowMatrixXd, 0, Eigen::OuterStride<>>;
using ColMap = Eigen::Map<Eigen::MatrixXd>;
using VecMap = Eigen::Map<Eigen::VectorXd>;

// Stable logistic function and its complement 1 - sigmoid(z) = sigmoid(-z), both without overflow (scalar; used
// for the concatsquash gates).
inline void SigmoidPair(double z, double& s, double& one_minus_s) {
  const double e = std::exp(-std::abs(z));  // in (0, 1]
  const double p = 1.0 / (1.0 + e);
  const double q = e * p;                   // e / (1 + e)
  if (z >= 0) {
    s = p;
    one_minus_s = q;
  } else {
    s = q;
    one_minus_s = p;
  }
}

// --- Elementwise activations, vectorized with Eigen's packet primitives ---------------------------------------------
// The activations dominate the cost of a narrow network (std::tanh takes longer than a 64-wide multiply-add row), so
// they run on SIMD packets. exp and expm1 come from one Cody-Waite reduction x = k ln2 + r, |r| <= ln2 / 2, Cephes'
// rational approximation e^r = 1 + 2 r P(r^2) / (Q(r^2) - r P(r^2)) and an exact scaling by 2^k, kept as fractions
// with a common denominator so that each activation and its derivative cost one division. Accurate to a few ulp
// (checked against long double over [-40, 40] and down to 1e-300); NaN propagates; nothing overflows.
namespace simd {

namespace ei = Eigen::internal;
using Packet = ei::packet_traits<double>::type;
constexpr int kSize = ei::packet_traits<double>::size;

// expm1(x) = N / D and exp(x) = E / D, with x clamped to [-746, 708] (NaN passes through): below -745.2, exp
// underflows to 0 (and expm1 to -1) as in IEEE arithmetic; at 708, N and E stay below 1e308 (only tanh uses x > 0,
// and tanh(354) = 1, tanh'(354) = 4 e^-708).
EIGEN_STRONG_INLINE void ExpFractions(Packet x, Packet& N, Packet& E, Packet& D) {
  x = ei::pmin<Eigen::PropagateNaN>(x, ei::pset1<Packet>(708.0));
  x = ei::pmax<Eigen::PropagateNaN>(x, ei::pset1<Packet>(-746.0));
  const Packet magic = ei::pset1<Packet>(6755399441055744.0);  // 1.5 * 2^52: adding it rounds to an integer
  const Packet k = ei::psub(ei::padd(ei::pmul(x, ei::pset1<Packet>(1.4426950408889634074)), magic), magic);
  // ln2 = C1 + C2 with C1 short enough that k * C1 is exact.
  const Packet r = ei::psub(ei::psub(x, ei::pmul(k, ei::pset1<Packet>(6.93145751953125E-1))),
                            ei::pmul(k, ei::pset1<Packet>(1.42860682030941723212E-6)));
  const Packet r2 = ei::pmul(r, r);
  Packet P = ei::pset1<Packet>(1.26177193074810590878E-4);
  P = ei::padd(ei::pmul(P, r2), ei::pset1<Packet>(3.02994407707441961300E-2));
  P = ei::padd(ei::pmul(P, r2), ei::pset1<Packet>(9.99999999999999999910E-1));
  Packet Q = ei::pset1<Packet>(3.00198505138664455042E-6);
  Q = ei::padd(ei::pmul(Q, r2), ei::pset1<Packet>(2.52448340349684104192E-3));
  Q = ei::padd(ei::pmul(Q, r2), ei::pset1<Packet>(2.27265548208155028766E-1));
  Q = ei::padd(ei::pmul(Q, r2), ei::pset1<Packet>(2.00000000000000000009E0));
  const Packet rP = ei::pmul(r, P);
  const Packet two_rP = ei::padd(rP, rP);
  const Packet pow2 = ei::pldexp(ei::pset1<Packet>(1.0), k);
  D = ei::psub(Q, rP);  // e^r - 1 = 2 rP / D
  // expm1(x) = 2^k (e^r - 1) + (2^k - 1): no cancellation for k = 0, where it is exactly 2 rP / D.
  N = ei::padd(ei::pmul(pow2, two_rP), ei::pmul(ei::psub(pow2, ei::pset1<Packet>(1.0)), D));
  E = ei::pmul(pow2, ei::padd(D, two_rP));
}

EIGEN_STRONG_INLINE Packet CopySign(const Packet& magnitude, const Packet& sign) {
  return ei::por(magnitude, ei::pand(sign, ei::pset1<Packet>(-0.0)));
}

// With m = expm1(2|z|) = N / D: tanh(z) = sign(z) m / (m + 2) = sign(z) N / (N + 2D) and
// tanh'(z) = 4 (m + 1) / (m + 2)^2 = 4 (N + D) D / (N + 2D)^2.
EIGEN_STRONG_INLINE void Tanh(const Packet& z, Packet& h, Packet& dh) {
  const Packet a = ei::pabs(z);
  Packet N, E, D;
  ExpFractions(ei::padd(a, a), N, E, D);
  const Packet q = ei::pdiv(ei::pset1<Packet>(1.0), ei::padd(N, ei::padd(D, D)));
  h = CopySign(ei::pmul(N, q), z);
  dh = ei::pmul(ei::pmul(ei::pset1<Packet>(4.0), ei::pmul(ei::padd(N, D), q)), ei::pmul(D, q));
}

// With e = exp(-|z|) = E / D: p = 1 / (1 + e) = D / (D + E) and e p = E / (D + E). sigmoid(z) = p or e p and
// 1 - sigmoid(z) = e p or p (z >= 0 or not); sigmoid(z) (1 - sigmoid(z)) = e p * p.
EIGEN_STRONG_INLINE void SigmoidParts(const Packet& z, Packet& s, Packet& c, Packet& sc) {
  Packet N, E, D;
  ExpFractions(ei::pnegate(ei::pabs(z)), N, E, D);
  const Packet q = ei::pdiv(ei::pset1<Packet>(1.0), ei::padd(D, E));
  const Packet p = ei::pmul(D, q);
  const Packet ep = ei::pmul(E, q);
  const Packet nonnegative = ei::pcmp_le(ei::pzero(z), z);
  s = ei::pselect(nonnegative, p, ep);
  c = ei::pselect(nonnegative, ep, p);
  sc = ei::pmul(ep, p);
}

EIGEN_STRONG_INLINE void Sigmoid(const Packet& z, Packet& h, Packet& dh) {
  Packet c;
  SigmoidParts(z, h, c, dh);
}

// silu(z) = z s, silu'(z) = s (1 + z (1 - s)).
EIGEN_STRONG_INLINE void Silu(const Packet& z, Packet& h, Packet& dh) {
  Packet s, c, sc;
  SigmoidParts(z, s, c, sc);
  h = ei::pmul(z, s);
  dh = ei::pmul(s, ei::padd(ei::pset1<Packet>(1.0), ei::pmul(z, c)));
}

// elu(z) = z for z > 0, expm1(z) otherwise; elu'(z) = 1 or exp(z).
EIGEN_STRONG_INLINE void Elu(const Packet& z, Packet& h, Packet& dh) {
  Packet N, E, D;
  ExpFractions(ei::pmin<Eigen::PropagateNaN>(z, ei::pzero(z)), N, E, D);
  const Packet q = ei::pdiv(ei::pset1<Packet>(1.0), D);
  const Packet positive = ei::pcmp_lt(ei::pzero(z), z);
  h = ei::pselect(positive, z, ei::pmul(N, q));
  dh = ei::pselect(positive, ei::pset1<Packet>(1.0), ei::pmul(E, q));
}

// A kernel as a type, so that it is inlined into Apply.
template <void (*kFunction)(const Packet&, Packet&, Packet&)>
struct Kernel {
  EIGEN_STRONG_INLINE void operator()(const Packet& z, Packet& h, Packet& dh) const { kFunction(z, h, dh); }
};

// z[i] <- f(z[i]) and, when dz is not null, dz[i] <- f'(z[i]). The tail goes through the same packet code (padded),
// so a value does not depend on its position in the block.
template <class Kernel>
void Apply(Kernel kernel, double* z, double* dz, Index n) {
  Index i = 0;
  Packet h, dh;
  for (; i + kSize <= n; i += kSize) {
    kernel(ei::ploadu<Packet>(z + i), h, dh);
    ei::pstoreu(z + i, h);
    if (dz) ei::pstoreu(dz + i, dh);
  }
  if (i < n) {
    double zt[kSize] = {}, ht[kSize], dt[kSize];
    std::copy(z + i, z + n, zt);
    kernel(ei::ploadu<Packet>(zt), h, dh);
    ei::pstoreu(ht, h);
    ei::pstoreu(dt, dh);
    std::copy(ht, ht + (n - i), z + i);
    if (dz) std::copy(dt, dt + (n - i), dz + i);
  }
}

}  // namespace simd

// z[i] <- act(z[i]) for i < n, and dz[i] <- act'(z[i]) when dz is not null.
void Activate(Activation a, double* z, double* dz, Index n) {
  switch (a) {
    case Activation::kTanh: simd::Apply(simd::Kernel<simd::Tanh>{}, z, dz, n); return;
    case Activation::kSigmoid: simd::Apply(simd::Kernel<simd::Sigmoid>{}, z, dz, n); return;
    case Activation::kSilu: simd::Apply(simd::Kernel<simd::Silu>{}, z, dz, n); return;
    case Activation::kElu: simd::Apply(simd::Kernel<simd::Elu>{}, z, dz, n); return;
    case Activation::kSoftplus:
      // softplus(z) = log1p(exp(-|z|)) + max(z, 0); softplus'(z) = sigmoid(z), from the same exponential.
      for (Index i = 0; i < n; ++i) {
        const double zi = z[i];
        const double e = std::exp(-std::abs(zi));
        z[i] = std::log1p(e) + std::max(zi, 0.0);
        if (dz) {
          const double p = 1.0 / (1.0 + e);
          dz[i] = zi >= 0 ? p : e * p;
        }
      }
      return;
    case Activation::kIdentity:
      if (dz) std::fill(dz, dz + n, 1.0);
      return;
  }
}

// Per-thread scratch: buffers that only grow.
struct Workspace {
  std::vector<double> h[2], t[2], d, tmp, w, b, g, x;

  static double* Get(std::vector<double>& buffer, Index n) {
    if (static_cast<Index>(buffer.size()) < n) buffer.resize(static_cast<std::size_t>(n));
    return buffer.data();
  }
};

Workspace& ThreadWorkspace() {
  thread_local Workspace workspace;
  return workspace;
}

enum class Mode {
  kValue,       // v only
  kJvp,         // v and K given tangents
  kJacobian,    // v and the d unit tangents, arranged as the Jacobian
  kDivergence,  // v and the trace of the Jacobian
};

class MlpField final : public VectorField {
 public:
  explicit MlpField(const Mlp& mlp) : mlp_(mlp), d_(mlp.input_dim) {
    if (mlp.time_input == TimeInput::kConcat) {
      const MlpLayer& first = mlp_.layers.front();
      w0_x_ = first.W.leftCols(d_);
      w0_t_ = first.W.col(d_);
    }
    std::ostringstream s;
    s << "MLP velocity field " << (mlp.source.empty() ? std::string("(in memory)") : mlp.source) << " ("
      << mlp.layers.front().W.cols();
    for (const auto& L : mlp.layers) {
      s << "->" << L.W.rows();
      max_width_ = std::max<Index>(max_width_, L.W.rows());
    }
    max_width_ = std::max<Index>(max_width_, d_);
    s << ", " << ToString(mlp.activation) << ", time_input " << ToString(mlp.time_input);
    if (mlp.output_activation != Activation::kIdentity) s << ", output " << ToString(mlp.output_activation);
    s << ")";
    description_ = s.str();
  }

  int dim() const override { return d_; }
  std::string description() const override { return description_; }

  void Evaluate(double t, const BlockRef& x, RowMatrixXd& v) const override {
    Run(Mode::kValue, t, x, nullptr, v, nullptr, nullptr);
  }
  void EvaluateJvp(double t, const BlockRef& x, const BlockRef& dx, RowMatrixXd& v,
                   RowMatrixXd& jv) const override {
    Run(Mode::kJvp, t, x, &dx, v, &jv, nullptr);
  }
  void EvaluateDivergence(double t, const BlockRef& x, RowMatrixXd& v, Eigen::VectorXd& div) const override {
    Run(Mode::kDivergence, t, x, nullptr, v, nullptr, &div);
  }
  void EvaluateJacobian(double t, const BlockRef& x, RowMatrixXd& v, RowMatrixXd& jac) const override {
    Run(Mode::kJacobian, t, x, nullptr, v, &jac, nullptr);
  }

 private:
  void Run(Mode mode, double t, const BlockRef& x, const BlockRef* dx, RowMatrixXd& v, RowMatrixXd* jv,
           Eigen::VectorXd* div) const;

  Mlp mlp_;
  int d_;
  Eigen::MatrixXd w0_x_;  // concat: the x columns of W0
  Eigen::VectorXd w0_t_;  // concat: the time column of W0
  Index max_width_ = 0;
  std::string description_;
};

void MlpField::Run(Mode mode, double t, const BlockRef& x, const BlockRef* dx, RowMatrixXd& v, RowMatrixXd* jv,
                   Eigen::VectorXd* div) const {
  const Index n = x.rows();
  const Index d = d_;
  if (x.cols() != d) {
    throw std::invalid_argument(description_ + ": the block has " + std::to_string(x.cols()) +
                                " columns, the field dimension is " + std::to_string(d));
  }
  Index num_tangents = 0;
  if (mode == Mode::kJvp) {
    if (dx->rows() != n || dx->cols() % d != 0) {
      throw std::invalid_argument(description_ + ": the tangent block is " + std::to_string(dx->rows()) + " x " +
                                  std::to_string(dx->cols()) + ", expected N x (K d) with N = " +
                                  std::to_string(n) + ", d = " + std::to_string(d));
    }
    num_tangents = dx->cols() / d;
  } else if (mode == Mode::kJacobian || mode == Mode::kDivergence) {
    num_tangents = d;
  }
  const Index K = num_tangents;
  const bool tangents = mode != Mode::kValue;
  Workspace& ws = ThreadWorkspace();

  // Inputs that live in an output (`Evaluate(t, v, v)`) are copied first: the outputs are resized and written below.
  const double* in = x.data();
  Index in_stride = x.outerStride();
  auto overlaps = [](const BlockRef& a, const RowMatrixXd& b) {
    return a.size() > 0 && b.size() > 0 && a.data() < b.data() + b.size() &&
           b.data() < a.data() + (a.rows() - 1) * a.outerStride() + a.cols();
  };
  if (overlaps(x, v) || (jv && overlaps(x, *jv))) {
    RowMap copy(Workspace::Get(ws.x, n * d), n, d);
    copy = x;
    in = copy.data();
    in_stride = d;
  }
  RowMatrixXd dx_copy;
  std::optional<BlockRef> dx_copy_ref;
  if (mode == Mode::kJvp && (overlaps(*dx, v) || overlaps(*dx, *jv))) {
    dx_copy = *dx;
    dx = &dx_copy_ref.emplace(dx_copy);
  }

  v.resize(n, d);
  if (mode == Mode::kJvp) jv->resize(n, K * d);
  if (mode == Mode::kJacobian) jv->resize(n, d * d);
  if (mode == Mode::kDivergence) div->setZero(n);
  if (n == 0) return;

  const Index width = max_width_;
  double* hbuf[2] = {Workspace::Get(ws.h[0], n * width), Workspace::Get(ws.h[1], n * width)};
  double* tbuf[2] = {nullptr, nullptr};
  double* dbuf = nullptr;
  if (tangents) {
    tbuf[0] = Workspace::Get(ws.t[0], K * n * width);
    tbuf[1] = Workspace::Get(ws.t[1], K * n * width);
    dbuf = Workspace::Get(ws.d, n * width);
  }
  double* wbuf = Workspace::Get(ws.w, width * width);
  double* bbuf = Workspace::Get(ws.b, width);
  double* gbuf = Workspace::Get(ws.g, width);

  // The current layer input: x (or its copy), then a scratch buffer.
  Index in_width = d;
  int hcur = 0, tcur = 0;

  const int num_layers = mlp_.num_layers();
  for (int l = 0; l < num_layers; ++l) {
    const MlpLayer& layer = mlp_.layers[static_cast<std::size_t>(l)];
    const bool last = l == num_layers - 1;
    const Index out = layer.W.rows();
    const Activation act = last ? mlp_.output_activation : mlp_.activation;

    // Effective weights and bias of this layer at time t.
    const double* w = layer.W.data();
    const double* b = layer.b.data();
    if (mlp_.time_input == TimeInput::kConcat && l == 0) {
      VecMap beff(bbuf, out);
      beff = layer.b + t * w0_t_;
      w = w0_x_.data();
      b = bbuf;
    } else if (mlp_.time_input == TimeInput::kConcatSquash) {
      VecMap g(gbuf, out), beff(bbuf, out);
      for (Index j = 0; j < out; ++j) {
        double s, c;
        SigmoidPair(layer.gate_W[j] * t + layer.gate_b[j], s, c);
        g[j] = s;
      }
      beff = g.cwiseProduct(layer.b) + t * layer.hyper_W;
      ColMap weff(wbuf, out, in_width);
      weff.noalias() = g.asDiagonal() * layer.W;
      w = wbuf;
      b = bbuf;
    }
    const Eigen::Map<const Eigen::MatrixXd> W(w, out, in_width);
    const Eigen::Map<const Eigen::RowVectorXd> B(b, out);

    // Values: Z = H W^T + b, then the activation in place.
    const ConstRowMap H(in, n, in_width, Eigen::OuterStride<>(in_stride));
    double* zdata = last ? v.data() : hbuf[hcur];
    RowMap Z(zdata, n, out);
    Z.rowwise() = B;
    Z.noalias() += H * W.transpose();
    const bool scale = tangents && act != Activation::kIdentity;
    if (act != Activation::kIdentity) Activate(act, zdata, scale ? dbuf : nullptr, n * out);
    const RowMap D(dbuf, n, scale ? out : 0);

    if (tangents) {
      const ConstRowMap Tin(tbuf[tcur], K * n, in_width, Eigen::OuterStride<>(in_width));
      if (last && mode == Mode::kDivergence) {
        // Only the diagonal: the tangent of output k along e_k.
        VecMap tmp(Workspace::Get(ws.tmp, n), n);
        for (Index k = 0; k < d; ++k) {
          if (l == 0) {
            tmp.setConstant(W(k, k));
          } else {
            tmp.noalias() = Tin.middleRows(k * n, n) * W.row(k).transpose();
          }
          if (scale) {
            div->array() += tmp.array() * D.col(k).array();
          } else {
            *div += tmp;
          }
        }
      } else {
        RowMap Tout(tbuf[1 - tcur], K * n, out);
        if (l > 0) {
          Tout.noalias() = Tin * W.transpose();
          if (scale) {
            for (Index k = 0; k < K; ++k) Tout.middleRows(k * n, n).array() *= D.array();
          }
        } else if (mode == Mode::kJvp) {
          for (Index k = 0; k < K; ++k) {
            Tout.middleRows(k * n, n).noalias() = dx->middleCols(k * d, d) * W.transpose();
            if (scale) Tout.middleRows(k * n, n).array() *= D.array();
          }
        } else {
          // Unit directions: the tangent of Z along e_k is column k of W on every row.
          for (Index k = 0; k < K; ++k) {
            if (scale) {
              Tout.middleRows(k * n, n).array() = D.array().rowwise() * W.col(k).transpose().array();
            } else {
              Tout.middleRows(k * n, n).rowwise() = W.col(k).transpose();
            }
          }
        }
        if (last) {
          if (mode == Mode::kJvp) {
            for (Index k = 0; k < K; ++k) jv->middleCols(k * d, d) = Tout.middleRows(k * n, n);
          } else {
            // Tout(k*n + i, r) = dv_r/dx_k at point i  ->  jac(i, r*d + k).
            for (Index k = 0; k < d; ++k) {
              for (Index r = 0; r < d; ++r) jv->col(r * d + k) = Tout.col(r).segment(k * n, n);
            }
          }
        }
        tcur = 1 - tcur;
      }
    }

    in = zdata;
    in_stride = out;
    in_width = out;
    hcur = 1 - hcur;
  }
}

}  // namespace

std::unique_ptr<VectorField> MakeMlpField(const Mlp& mlp) {
  const std::string where = mlp.source.empty() ? std::string("network (in memory)") : "network '" + mlp.source + "'";
  if (mlp.input_dim != mlp.output_dim) {
    throw InputError(where + " cannot be a velocity field: input_dim is " + std::to_string(mlp.input_dim) +
                     " but output_dim is " + std::to_string(mlp.output_dim) + " (they must be equal)");
  }
  if (mlp.input_dim < 1) throw InputError(where + ": input_dim must be >= 1");
  if (mlp.layers.empty()) throw InputError(where + ": the network has no layers");
  Index fan_in = mlp.input_dim + (mlp.time_input == TimeInput::kConcat ? 1 : 0);
  for (int k = 0; k < mlp.num_layers(); ++k) {
    const MlpLayer& L = mlp.layers[static_cast<std::size_t>(k)];
    const std::string ks = std::to_string(k);
    const Index fan_out = L.W.rows();
    if (L.W.cols() != fan_in || fan_out < 1) {
      throw InputError(where + ": W" + ks + " is " + std::to_string(L.W.rows()) + " x " +
                       std::to_string(L.W.cols()) + ", expected " + std::to_string(fan_in) + " columns");
    }
    if (L.b.size() != fan_out) {
      throw InputError(where + ": b" + ks + " has " + std::to_string(L.b.size()) + " entries, expected " +
                       std::to_string(fan_out));
    }
    if (mlp.time_input == TimeInput::kConcatSquash &&
        (L.gate_W.size() != fan_out || L.gate_b.size() != fan_out || L.hyper_W.size() != fan_out)) {
      throw InputError(where + ": layer " + ks + " needs gate_W, gate_b and hyper_W of " +
                       std::to_string(fan_out) + " entries for time_input concatsquash");
    }
    fan_in = fan_out;
  }
  if (fan_in != mlp.output_dim) {
    throw InputError(where + ": the last layer has " + std::to_string(fan_in) + " outputs, output_dim is " +
                     std::to_string(mlp.output_dim));
  }
  return std::make_unique<MlpField>(mlp);
}

}  // namespace pushpull

// MlpDecoder: the derivatives of an MLP decoder f: R^d -> R^D by analytic forward-mode passes in plain doubles.
//
// Stack. A pass carries through each layer (width m) one column-major m x C matrix, the stack
//   [ h | H1 | h2 ],   H1 = [dh/dz_1 .. dh/dz_d] (the Jacobian columns)  and  h2 = d^2/ds^2 h(z + s u) (= f''[u, u]
// at the output), or only the columns a call needs: [h] for Value, [h | H1] for Jacobian, [h | v | h2] for
// SecondDirectional, where v = dh along u (with the Jacobian columns present, v = H1 u is not carried: its
// pre-activation is A1 u). A dense layer is linear in every column, so ONE matrix product
//   A = W [h | H1 | h2]   (+ b on the first column)
// gives the pre-activation a = W h + b, its first derivatives A1 = W H1 and its second derivative a2 = W h2; the
// activation s (elementwise, derivatives s1, s2, s3 at a) then gives the next stack:
//   h = s(a),   H1 = s1 .* A1 (each column),   h2 = s2 .* av^2 + s1 .* a2,   av = A1 u (the pre-activation of v).
// The first layer's input stack [z | I | (u) | 0] is never formed: its product is [W z + b | W | (W u) | 0].
//
// Tangent pass (Tangents). A second block of the same columns holds the derivatives d/ds at s = 0 along
// (z + s dz, u + s du) of h, H1 and h2 (written with a dot; first layer input [dz | 0 | (du) | 0]). They are linear
// in the layer too, so the same single product pushes both blocks (C = 2 (d + 2) columns), and the activation step
// adds (av. = A1. u + A1 du)
//   h. = s1 .* a.,   H1. = s2 .* a. .* A1 + s1 .* A1.,
//   h2. = s3 .* a. .* av^2 + 2 s2 .* av .* av. + s2 .* a. .* a2 + s1 .* a2.
// which needs the third derivative s3 of the activation.
//
// Jet pass (GeodesicJet). For the Jacobian of the geodesic flow in every direction at once, the stack carries
// [h | H1 | the d(d+1)/2 distinct h''[e_i, e_j] | h'''[u, u, e_k] for each k] (ActivateJet has the chain rule): every
// tangent quantity of Tangents is a contraction of these columns, so one pass (1 + 2.5 d + d^2 / 2 columns) replaces
// one tangent pass per direction.
//
// Kernels. The layer product and the activations (s, s1, s2, s3) are the shared ones of src/models/mlp_kernel.hpp, also
// driven by MlpField, so that a network evaluates to the same bits as a decoder and as a field. The activation steps
// of the geodesic passes (jet and JacobianAndSecond) for latent dimension 2 and 3 go over the rows once, with a row
// block's columns in registers (ActivateJetFixed, ActivateSecondFixed): column by column, the jet's took about a
// quarter of its pass.
//
// Memory. The stacks live in thread_local scratch buffers that grow to the largest size seen, so a steady ODE loop
// does not allocate apart from the returned Eigen objects (reused when the caller passes them back with the right
// size). The decoder itself is immutable and can be shared between threads.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "pushpull/errors.hpp"
#include "pushpull/decoder.hpp"
#include "mlp_kernel.hpp"

namespace pushpull {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

using mlp_kernel::ActivationDerivatives;
using mlp_kernel::ForEachRowBlock;
using mlp_kernel::Packet;

// ---- The stacked forward pass ----------------------------------------------------------------------------------

// Column layout of a stack (see the top of the file). Block: [h | nj Jacobian columns | v (only without the
// Jacobian) | h2 (when second)]; with `tangent`, a second block of the same layout holds the derivatives along
// (dz, du). With the Jacobian columns present, v = J u is not carried: its pre-activation is A1 u (and its tangent
// A1. u + A1 du), an m x d product instead of a column of the m x n layer product.
//
// Jet layout (GeodesicJet, `jet`): [h | H1 (nj = d columns) | H2 | T] with H2 the P = d(d+1)/2 distinct second
// derivatives h''[e_i, e_j], i <= j (column Pair(i, j)), and T the third derivatives h'''[u, u, e_k]; see ActivateJet.
struct Layout {
  Index nj = 0;
  bool second = false;
  bool tangent = false;
  bool jet = false;

  bool v_column() const { return second && nj == 0; }
  Index first_order() const { return nj + (v_column() ? 1 : 0); }  // columns 1 .. first_order(): H1
  Index v() const { return 1 + nj; }                               // when v_column()
  Index h2() const { return 1 + first_order(); }                   // when second, or the first H2 column of a jet
  Index block() const { return 1 + first_order() + (second ? 1 : 0); }
  Index pairs() const { return nj * (nj + 1) / 2; }                // jet: columns of H2
  Index t3() const { return 1 + nj + pairs(); }                    // jet: the first T column
  Index cols() const {
    if (jet) return 1 + 2 * nj + pairs();
    return tangent ? 2 * block() : block();
  }
  // jet: the H2 column of the pair (i, j), i <= j; pairs are ordered (0, 0), (0, 1), .., (0, d-1), (1, 1), ..
  Index Pair(Index i, Index j) const {
    if (i > j) std::swap(i, j);
    return h2() + i * nj - i * (i - 1) / 2 + (j - i);
  }
};

struct Scratch {
  std::vector<double> stack[2];  // ping-pong stacks, width x cols, column-major
  std::vector<double> act;       // per layer: s, s1, s2, s3, s2 .* a., av, av.
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

double* Grow(std::vector<double>* v, std::size_t n) {
  if (v->size() < n) v->resize(n);
  return v->data();
}

using MapMat = Eigen::Map<MatrixXd>;
using VecMap = Eigen::Map<VectorXd>;
using ConstVecMap = Eigen::Map<const VectorXd>;

// The first layer's stack before its activation: [W z + b | W | (W u) | 0] and, with the tangent block,
// [W dz | 0 | (W du) | 0]. A product with the identity columns is never formed.
void FirstLayer(const MlpLayer& layer, const Layout& L, const VectorXd& z, const VectorXd* u, const VectorXd* dz,
                const VectorXd* du, MapMat A) {
  const MatrixXd& W = layer.W;
  const Index m = W.rows(), n = W.cols();
  // W x (+ b) for one input column x, through the shared layer product (the same bits as MlpField's).
  auto product = [&](const VectorXd& x, Index col, const double* b) {
    mlp_kernel::LayerProduct(W.data(), m, n, x.data(), n, 1, A.col(col).data(), m, b, 1);
  };
  product(z, 0, layer.b.data());
  if (L.nj > 0) A.middleCols(1, L.nj) = W;
  if (L.jet) {
    A.rightCols(L.cols() - 1 - L.nj).setZero();
    return;
  }
  if (L.v_column()) product(*u, L.v(), nullptr);
  if (L.second) A.col(L.h2()).setZero();
  if (L.tangent) {
    const Index T = L.block();
    product(*dz, T, nullptr);
    if (L.nj > 0) A.middleCols(T + 1, L.nj).setZero();
    if (L.v_column()) product(*du, T + L.v(), nullptr);
    if (L.second) A.col(T + L.h2()).setZero();
  }
}

// The activation step of the layout [h | H1 | h2] (JacobianAndSecond, the geodesic right-hand side) for d = kD in
// one pass over the rows, each row block's columns in registers: h2 = s2 av^2 + s1 h2, H1 = s1 A1, h = s.
template <int kD>
void ActivateSecondFixed(const Layout& L, const VectorXd& u, MapMat A, const double* s, const double* s1,
                         const double* s2) {
  namespace ei = Eigen::internal;
  const Index m = A.rows();
  double* const base = A.data();
  double* const h2c = base + L.h2() * m;
  Packet uk[kD];
  for (int k = 0; k < kD; ++k) uk[k] = ei::pset1<Packet>(u[k]);
  auto rows = [&](Index i, auto load, auto store) {
    const Packet vs1 = load(s1 + i);
    Packet a1[kD];
    for (int k = 0; k < kD; ++k) a1[k] = load(base + (1 + k) * m + i);
    Packet av = ei::pmul(uk[0], a1[0]);
    for (int k = 1; k < kD; ++k) av = ei::pmadd(uk[k], a1[k], av);
    store(h2c + i, ei::pmadd(vs1, load(h2c + i), ei::pmul(load(s2 + i), ei::pmul(av, av))));
    for (int k = 0; k < kD; ++k) store(base + (1 + k) * m + i, ei::pmul(vs1, a1[k]));
    store(base + i, load(s + i));
  };
  ForEachRowBlock(m, rows);
}

// The activation step on a stack of pre-activations A (rows = layer width), in place (formulas at the top of the
// file). The dotted block is updated first: it needs the undotted pre-activation columns.
void ActivateStack(Activation act, const Layout& L, const VectorXd* u, const VectorXd* du, MapMat A,
                   Scratch* scratch) {
  if (act == Activation::kIdentity) return;  // s = a, s1 = 1, s2 = s3 = 0: every column stays as it is
  const Index m = A.rows();
  double* buf = Grow(&scratch->act, static_cast<std::size_t>(7 * m));
  ActivationDerivatives(act, A.col(0).data(), m, buf, buf + m, buf + 2 * m, buf + 3 * m);
  if (L.second && !L.tangent && L.nj == 2) return ActivateSecondFixed<2>(L, *u, A, buf, buf + m, buf + 2 * m);
  if (L.second && !L.tangent && L.nj == 3) return ActivateSecondFixed<3>(L, *u, A, buf, buf + m, buf + 2 * m);
  const auto s = ConstVecMap(buf, m).array();
  const auto s1 = ConstVecMap(buf + m, m).array();
  const auto s2 = ConstVecMap(buf + 2 * m, m).array();
  const auto s3 = ConstVecMap(buf + 3 * m, m).array();
  const Index n1 = L.first_order();
  const Index T = L.block();
  // av: the pre-activation's derivative along u; av_dot: its derivative along (dz, du).
  VecMap av(buf + 5 * m, m), av_dot(buf + 6 * m, m);
  if (L.second) {
    if (L.v_column()) {
      av = A.col(L.v());
      if (L.tangent) av_dot = A.col(T + L.v());
    } else {
      av.noalias() = A.middleCols(1, L.nj) * *u;
      if (L.tangent) {
        av_dot.noalias() = A.middleCols(T + 1, L.nj) * *u;
        av_dot.noalias() += A.middleCols(1, L.nj) * *du;
      }
    }
  }
  if (L.tangent) {
    auto g = VecMap(buf + 4 * m, m).array();  // s2 .* a.
    const auto a_dot = A.col(T).array();
    g = s2 * a_dot;
    if (L.second) {
      A.col(T + L.h2()).array() = g * A.col(L.h2()).array() + s3 * a_dot * av.array().square() +
                                  2.0 * s2 * av.array() * av_dot.array() + s1 * A.col(T + L.h2()).array();
    }
    if (n1 > 0) {
      A.middleCols(T + 1, n1).array() = A.middleCols(1, n1).array().colwise() * g +
                                        A.middleCols(T + 1, n1).array().colwise() * s1;
    }
    A.col(T).array() *= s1;
  }
  if (L.second) A.col(L.h2()).array() = s2 * av.array().square() + s1 * A.col(L.h2()).array();
  if (n1 > 0) A.middleCols(1, n1).array().colwise() *= s1;
  A.col(0).array() = s;
}

// The activation step of the jet layout. With the pre-activation's derivatives A1_i = p'[e_i], A2_ij = p''[e_i, e_j],
// A3_k = p'''[u, u, e_k] and their contractions with u, av = p'[u] = A1 u, A2u_k = p''[u, e_k] = sum_i u_i A2_ik,
// a2uu = p''[u, u] = A2u u, the chain rule (Faa di Bruno) gives
//   h = s,  H1_i = s1 A1_i,  H2_ij = s2 A1_i A1_j + s1 A2_ij,
//   T_k = s3 av^2 A1_k + s2 (2 av A2u_k + a2uu A1_k) + s1 A3_k.
// T is updated first (it needs the old A1 and A2), then H2, then H1.
//
// For d = 2 and 3 (kD) one pass over the rows does it all with every column of a row block in registers
// (ActivateJetFixed); other d take the column-by-column loops below.
template <int kD>
void ActivateJetFixed(const Layout& L, const VectorXd& u, MapMat A, const double* s, const double* s1,
                      const double* s2, const double* s3) {
  namespace ei = Eigen::internal;
  constexpr int kP = kD * (kD + 1) / 2;
  const Index m = A.rows();
  double* const base = A.data();
  double* a1c[kD];
  double* tc[kD];
  double* h2c[kP];
  int pair[kD][kD];
  for (int k = 0; k < kD; ++k) {
    a1c[k] = base + (1 + k) * m;
    tc[k] = base + (L.t3() + k) * m;
    for (int j = 0; j < kD; ++j) pair[k][j] = static_cast<int>(L.Pair(k, j) - L.h2());
  }
  for (int p = 0; p < kP; ++p) h2c[p] = base + (L.h2() + p) * m;
  Packet uk[kD];
  for (int k = 0; k < kD; ++k) uk[k] = ei::pset1<Packet>(u[k]);
  // One row block: the same formulas as the loops below, in registers.
  auto rows = [&](Index i, auto load, auto store) {
    const Packet vs1 = load(s1 + i), vs2 = load(s2 + i), vs3 = load(s3 + i);
    Packet a1[kD], a2[kP], a2u[kD];
    for (int k = 0; k < kD; ++k) a1[k] = load(a1c[k] + i);
    for (int p = 0; p < kP; ++p) a2[p] = load(h2c[p] + i);
    Packet av = ei::pmul(uk[0], a1[0]);
    for (int k = 1; k < kD; ++k) av = ei::pmadd(uk[k], a1[k], av);
    Packet a2uu = ei::pzero(av);
    for (int k = 0; k < kD; ++k) {
      a2u[k] = ei::pmul(uk[0], a2[pair[0][k]]);
      for (int j = 1; j < kD; ++j) a2u[k] = ei::pmadd(uk[j], a2[pair[j][k]], a2u[k]);
      a2uu = ei::pmadd(uk[k], a2u[k], a2uu);
    }
    const Packet s3avav = ei::pmul(vs3, ei::pmul(av, av));
    const Packet two_av = ei::padd(av, av);
    for (int k = 0; k < kD; ++k) {  // T first: it needs the old A1 and A2
      const Packet inner = ei::pmadd(two_av, a2u[k], ei::pmul(a2uu, a1[k]));
      const Packet t = ei::pmadd(vs1, load(tc[k] + i), ei::pmadd(vs2, inner, ei::pmul(s3avav, a1[k])));
      store(tc[k] + i, t);
    }
    for (int a = 0; a < kD; ++a) {
      for (int b = a; b < kD; ++b) {
        const int p = pair[a][b];
        store(h2c[p] + i, ei::pmadd(vs1, a2[p], ei::pmul(vs2, ei::pmul(a1[a], a1[b]))));
      }
    }
    for (int k = 0; k < kD; ++k) store(a1c[k] + i, ei::pmul(vs1, a1[k]));
    store(base + i, load(s + i));
  };
  ForEachRowBlock(m, rows);
}

void ActivateJet(Activation act, const Layout& L, const VectorXd& u, MapMat A, Scratch* scratch) {
  if (act == Activation::kIdentity) return;
  const Index m = A.rows();
  const Index d = L.nj;
  double* buf = Grow(&scratch->act, static_cast<std::size_t>((6 + d) * m));
  double* const s = buf;
  double* const s1 = buf + m;
  double* const s2 = buf + 2 * m;
  double* const s3 = buf + 3 * m;
  double* const av = buf + 4 * m;
  double* const a2uu = buf + 5 * m;
  double* const A2u = buf + 6 * m;  // m x d, column k: p''[u, e_k]
  ActivationDerivatives(act, A.col(0).data(), m, s, s1, s2, s3);
  if (d == 2) return ActivateJetFixed<2>(L, u, A, s, s1, s2, s3);
  if (d == 3) return ActivateJetFixed<3>(L, u, A, s, s1, s2, s3);
  auto col = [&](Index c) { return A.data() + c * m; };
  // Plain loops over the rows (contiguous columns, vectorised by the compiler).
  std::fill(av, av + m, 0.0);
  std::fill(a2uu, a2uu + m, 0.0);
  for (Index k = 0; k < d; ++k) {
    const double* a1 = col(1 + k);
    const double uk = u[k];
    for (Index i = 0; i < m; ++i) av[i] += uk * a1[i];
  }
  for (Index k = 0; k < d; ++k) {
    double* out = A2u + k * m;
    std::fill(out, out + m, 0.0);
    for (Index j = 0; j < d; ++j) {
      const double* a2 = col(L.Pair(j, k));
      const double uj = u[j];
      for (Index i = 0; i < m; ++i) out[i] += uj * a2[i];
    }
    const double uk = u[k];
    for (Index i = 0; i < m; ++i) a2uu[i] += uk * out[i];
  }
  for (Index k = 0; k < d; ++k) {  // T first: it needs the old A1 and A2
    const double* a1 = col(1 + k);
    const double* a2u = A2u + k * m;
    double* t = col(L.t3() + k);
    for (Index i = 0; i < m; ++i) {
      t[i] = s3[i] * av[i] * av[i] * a1[i] + s2[i] * (2.0 * av[i] * a2u[i] + a2uu[i] * a1[i]) + s1[i] * t[i];
    }
  }
  for (Index a = 0; a < d; ++a) {
    for (Index b = a; b < d; ++b) {
      const double* a1 = col(1 + a);
      const double* b1 = col(1 + b);
      double* h2 = col(L.Pair(a, b));
      for (Index i = 0; i < m; ++i) h2[i] = s2[i] * a1[i] * b1[i] + s1[i] * h2[i];
    }
  }
  for (Index k = 0; k < d; ++k) {
    double* a1 = col(1 + k);
    for (Index i = 0; i < m; ++i) a1[i] *= s1[i];
  }
  std::copy(s, s + m, col(0));
}

// Runs the pass through every layer. The result (output_dim x L.cols()) stays valid until the next pass on this
// thread.
Eigen::Map<const MatrixXd> Forward(const Mlp& mlp, const Layout& L, const VectorXd& z, const VectorXd* u,
                                   const VectorXd* dz, const VectorXd* du) {
  Scratch& scratch = ThreadScratch();
  const Index C = L.cols();
  const int num_layers = mlp.num_layers();
  int cur = 0;
  for (int k = 0; k < num_layers; ++k) {
    const MlpLayer& layer = mlp.layers[static_cast<std::size_t>(k)];
    const Index m = layer.W.rows();
    const int next = k == 0 ? 0 : 1 - cur;
    MapMat A(Grow(&scratch.stack[next], static_cast<std::size_t>(m * C)), m, C);
    if (k == 0) {
      FirstLayer(layer, L, z, u, dz, du, A);
    } else {
      // Every column of the stack through the layer at once (the bias only on the value column).
      const Index n = layer.W.cols();
      mlp_kernel::LayerProduct(layer.W.data(), m, n, scratch.stack[cur].data(), n, C, A.data(), m, layer.b.data(), 1);
    }
    const Activation act = k + 1 == num_layers ? mlp.output_activation : mlp.activation;
    if (L.jet) {
      ActivateJet(act, L, *u, A, &scratch);
    } else {
      ActivateStack(act, L, u, du, A, &scratch);
    }
    cur = next;
  }
  return Eigen::Map<const MatrixXd>(scratch.stack[cur].data(), mlp.layers.back().W.rows(), C);
}

void CheckDim(const VectorXd& x, int d, const char* what, const char* name) {
  if (x.size() != d) {
    throw InputError(std::string(what) + ": " + name + " of dimension " + std::to_string(x.size()) + ", expected " +
                     std::to_string(d));
  }
}

}  // namespace

// ---- MlpDecoder ----------------------------------------------------------------------------------------------

MlpDecoder::MlpDecoder(Mlp mlp) : mlp_(std::move(mlp)) {
  if (mlp_.time_input != TimeInput::kNone) {
    throw InputError(mlp_.source + ": a decoder needs time_input none, got " + ToString(mlp_.time_input));
  }
  if (mlp_.num_layers() < 1) throw InputError(mlp_.source + ": a decoder needs at least one layer");
  // The passes index the weights directly: the shapes must chain.
  Index width = mlp_.input_dim;
  for (std::size_t k = 0; k < mlp_.layers.size(); ++k) {
    const MlpLayer& layer = mlp_.layers[k];
    if (layer.W.cols() != width || layer.b.size() != layer.W.rows() || layer.W.rows() < 1) {
      throw InputError(mlp_.source + ": layer " + std::to_string(k) + " has W " + std::to_string(layer.W.rows()) +
                       " x " + std::to_string(layer.W.cols()) + " and b of size " + std::to_string(layer.b.size()) +
                       " after a layer of width " + std::to_string(width));
    }
    width = layer.W.rows();
  }
  if (width != mlp_.output_dim) {
    throw InputError(mlp_.source + ": the last layer has width " + std::to_string(width) + " but output_dim is " +
                     std::to_string(mlp_.output_dim));
  }
}

VectorXd MlpDecoder::Value(const VectorXd& z) const {
  CheckDim(z, input_dim(), "MlpDecoder::Value", "point");
  return Forward(mlp_, Layout{}, z, nullptr, nullptr, nullptr).col(0);
}

MatrixXd MlpDecoder::Jacobian(const VectorXd& z) const {
  CheckDim(z, input_dim(), "MlpDecoder::Jacobian", "point");
  const Layout L{z.size(), false, false};
  return Forward(mlp_, L, z, nullptr, nullptr, nullptr).middleCols(1, L.nj);
}

void MlpDecoder::ValueAndJacobian(const VectorXd& z, VectorXd* value, MatrixXd* J) const {
  CheckDim(z, input_dim(), "MlpDecoder::ValueAndJacobian", "point");
  const Layout L{z.size(), false, false};
  const auto S = Forward(mlp_, L, z, nullptr, nullptr, nullptr);
  if (value) *value = S.col(0);
  if (J) *J = S.middleCols(1, L.nj);
}

VectorXd MlpDecoder::SecondDirectional(const VectorXd& z, const VectorXd& u) const {
  CheckDim(z, input_dim(), "MlpDecoder::SecondDirectional", "point");
  CheckDim(u, input_dim(), "MlpDecoder::SecondDirectional", "direction");
  const Layout L{0, true, false};
  return Forward(mlp_, L, z, &u, nullptr, nullptr).col(L.h2());
}

void MlpDecoder::JacobianAndSecond(const VectorXd& z, const VectorXd& u, MatrixXd* J, VectorXd* f2) const {
  CheckDim(z, input_dim(), "MlpDecoder::JacobianAndSecond", "point");
  CheckDim(u, input_dim(), "MlpDecoder::JacobianAndSecond", "direction");
  const Layout L{z.size(), true, false};
  const auto S = Forward(mlp_, L, z, &u, nullptr, nullptr);
  if (J) *J = S.middleCols(1, L.nj);
  if (f2) *f2 = S.col(L.h2());
}

void MlpDecoder::Tangents(const VectorXd& z, const VectorXd& u, const VectorXd& dz, const VectorXd& du,
                          MatrixXd* J, MatrixXd* dJ, VectorXd* f2, VectorXd* df2) const {
  const char* what = "MlpDecoder::Tangents";
  CheckDim(z, input_dim(), what, "point");
  CheckDim(u, input_dim(), what, "direction u");
  CheckDim(dz, input_dim(), what, "direction dz");
  CheckDim(du, input_dim(), what, "direction du");
  const Layout L{z.size(), true, true};
  const auto S = Forward(mlp_, L, z, &u, &dz, &du);
  const Index T = L.block();
  if (J) *J = S.middleCols(1, L.nj);
  if (dJ) *dJ = S.middleCols(T + 1, L.nj);
  if (f2) *f2 = S.col(L.h2());
  if (df2) *df2 = S.col(T + L.h2());
}

void MlpDecoder::GeodesicJet(const VectorXd& z, const VectorXd& u, MatrixXd* J, MatrixXd* H, MatrixXd* T) const {
  CheckDim(z, input_dim(), "MlpDecoder::GeodesicJet", "point");
  CheckDim(u, input_dim(), "MlpDecoder::GeodesicJet", "direction");
  Layout L;
  L.nj = z.size();
  L.jet = true;
  const auto S = Forward(mlp_, L, z, &u, nullptr, nullptr);
  const Index d = L.nj;
  *J = S.middleCols(1, d);
  H->resize(S.rows(), d * d);
  for (Index j = 0; j < d; ++j) {
    for (Index i = 0; i < d; ++i) H->col(i + d * j) = S.col(L.Pair(i, j));
  }
  *T = S.middleCols(L.t3(), d);
}

MatrixXd MlpDecoder::ActivationDerivatives(Activation a, const VectorXd& x) {
  MatrixXd out(x.size(), 4);
  mlp_kernel::ActivationDerivatives(a, x.data(), x.size(), out.col(0).data(), out.col(1).data(), out.col(2).data(),
                     out.col(3).data());
  return out;
}

}  // namespace pushpull

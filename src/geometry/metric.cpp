// Pullback and tensor metrics, stacked decoders. (MlpDecoder's passes are in src/models/mlp_decoder.cpp.)
#include "pushpull/metric.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Dense>
#include <cmath>
#include <sstream>
#include <utility>

#include "pushpull/decoder.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/options.hpp"

namespace pushpull {

using Eigen::MatrixXd;
using Eigen::VectorXd;

std::string FormatPoint(const VectorXd& z) {
  std::string s = "(";
  for (Eigen::Index i = 0; i < z.size(); ++i) {
    if (i > 0) s += ", ";
    s += FormatReal(z[i]);
  }
  return s + ")";
}

bool Decoder::InDomain(const VectorXd& z, std::string* why) const {
  if (!z.allFinite()) {
    if (why) *why = "non-finite point z = " + FormatPoint(z);
    return false;
  }
  return true;
}

void Decoder::ValueAndJacobian(const VectorXd& z, VectorXd* value, MatrixXd* J) const {
  if (value) *value = Value(z);
  if (J) *J = Jacobian(z);
}

void Decoder::JacobianAndSecond(const VectorXd& z, const VectorXd& u, MatrixXd* J, VectorXd* f2) const {
  if (J) *J = Jacobian(z);
  if (f2) *f2 = SecondDirectional(z, u);
}

void Decoder::GeodesicJet(const VectorXd& z, const VectorXd& u, MatrixXd* J, MatrixXd* H, MatrixXd* T) const {
  const Eigen::Index d = z.size();
  const Eigen::Index D = output_dim();
  J->resize(D, d);
  H->resize(D, d * d);
  T->resize(D, d);
  const VectorXd zero = VectorXd::Zero(d);
  MatrixXd Jk, dJ;
  VectorXd f2, df2;
  for (Eigen::Index k = 0; k < d; ++k) {
    // Along z + s e_k: d/ds J = [f''[e_i, e_k]]_i and d/ds f''[u, u] = f'''[u, u, e_k].
    Tangents(z, u, VectorXd::Unit(d, k), zero, &Jk, &dJ, &f2, &df2);
    if (k == 0) *J = Jk;
    H->middleCols(k * d, d) = dJ;
    T->col(k) = df2;
  }
}

bool Metric::AccelerationJacobian(const VectorXd& z, const VectorXd& u, VectorXd* acc, MatrixXd* jacobian,
                                  std::string* why) const {
  const Eigen::Index d = z.size();
  jacobian->resize(d, 2 * d);
  const VectorXd zero = VectorXd::Zero(d);
  VectorXd da;
  for (Eigen::Index k = 0; k < 2 * d; ++k) {
    const bool along_z = k < d;
    const VectorXd e = VectorXd::Unit(d, along_z ? k : k - d);
    if (!AccelerationTangent(z, u, along_z ? e : zero, along_z ? zero : e, acc, &da, why)) return false;
    jacobian->col(k) = da;
  }
  return true;
}

bool Metric::AccelerationAndSpeed(const VectorXd& z, const VectorXd& u, VectorXd* acc, double* speed2,
                                  std::string* why) const {
  if (!Acceleration(z, u, acc, why)) return false;
  if (speed2) *speed2 = u.dot(Evaluate(z) * u);
  return true;
}

bool Metric::InDomain(const VectorXd& z, std::string* why) const {
  if (!z.allFinite()) {
    if (why) *why = "non-finite point z = " + FormatPoint(z);
    return false;
  }
  return true;
}

bool MetricTensorField::InDomain(const VectorXd& z, std::string* why) const {
  if (!z.allFinite()) {
    if (why) *why = "non-finite point z = " + FormatPoint(z);
    return false;
  }
  return true;
}

void MetricTensorField::SecondDerivatives(const VectorXd&, const VectorXd&, MatrixXd*, std::vector<MatrixXd>*) const {
  throw std::logic_error("MetricTensorField::SecondDerivatives: this field has no second derivatives");
}

namespace {

// Cholesky factorisation of M with a check for a non-finite, indefinite or numerically singular metric.
template <class Mat>
bool Factor(const Mat& M, const VectorXd& z, double min_rcond, Eigen::LLT<Mat>* llt, std::string* why) {
  if (!M.allFinite()) {
    if (why) *why = "non-finite metric at z = " + FormatPoint(z);
    return false;
  }
  llt->compute(M);
  double rcond = 0.0;
  if (llt->info() == Eigen::Success) {
    if constexpr (Mat::RowsAtCompileTime != Eigen::Dynamic) {
      // Small fixed sizes: the exact L1 reciprocal condition number (what LLT::rcond estimates) is cheaper, with
      // the inverse from cofactors (Eigen's closed form up to 4 x 4; a triangular solve would call its GEMM).
      const Mat inverse = M.inverse();
      if (inverse.allFinite()) {  // else M is singular to rounding (a zero determinant): rcond stays 0
        rcond = 1.0 / (M.cwiseAbs().colwise().sum().maxCoeff() * inverse.cwiseAbs().colwise().sum().maxCoeff());
      }
    } else {
      rcond = llt->rcond();
    }
  }
  if (!(rcond > min_rcond)) {
    if (why) {
      *why = "singular or indefinite metric at z = " + FormatPoint(z) + " (reciprocal condition number " +
             FormatReal(rcond) + ", at most -metric_min_rcond " + FormatReal(min_rcond) +
             "): the decoder's Jacobian is (nearly) rank deficient there";
    }
    return false;
  }
  return true;
}

}  // namespace

void Metric::set_min_rcond(double rcond) {
  if (!(rcond >= 0.0 && rcond < 1.0)) {
    throw InputError("metric_min_rcond: " + FormatReal(rcond) + " must be in [0, 1)");
  }
  min_rcond_ = rcond;
}

// ---- StackedDecoder ------------------------------------------------------------------------------------------

int MlpDecoder::smoothness() const {
  // elu (x > 0 ? x : e^x - 1) has a continuous first derivative and a second that jumps from 1 to 0 at x = 0; the
  // other activations are analytic. A network with more than one layer applies the hidden activation.
  const auto of = [](Activation a) { return a == Activation::kElu ? 1 : kSmooth; };
  int s = of(mlp_.output_activation);
  if (mlp_.num_layers() > 1) s = std::min(s, of(mlp_.activation));
  return s;
}

StackedDecoder::StackedDecoder(std::shared_ptr<const Decoder> mean, std::shared_ptr<const Decoder> std_dev)
    : mean_(std::move(mean)), std_(std::move(std_dev)) {
  if (!mean_ || !std_) throw InputError("StackedDecoder: null decoder");
  if (mean_->input_dim() != std_->input_dim()) {
    throw InputError("StackedDecoder: mean decoder has input_dim " + std::to_string(mean_->input_dim()) +
                     " but std decoder has " + std::to_string(std_->input_dim()));
  }
}

namespace {
MatrixXd VStack(const MatrixXd& a, const MatrixXd& b) {
  MatrixXd r(a.rows() + b.rows(), a.cols());
  r << a, b;
  return r;
}
}  // namespace

VectorXd StackedDecoder::Value(const VectorXd& z) const { return VStack(mean_->Value(z), std_->Value(z)); }
MatrixXd StackedDecoder::Jacobian(const VectorXd& z) const { return VStack(mean_->Jacobian(z), std_->Jacobian(z)); }
VectorXd StackedDecoder::SecondDirectional(const VectorXd& z, const VectorXd& u) const {
  return VStack(mean_->SecondDirectional(z, u), std_->SecondDirectional(z, u));
}
void StackedDecoder::ValueAndJacobian(const VectorXd& z, VectorXd* value, MatrixXd* J) const {
  VectorXd v1, v2;
  MatrixXd J1, J2;
  mean_->ValueAndJacobian(z, value ? &v1 : nullptr, J ? &J1 : nullptr);
  std_->ValueAndJacobian(z, value ? &v2 : nullptr, J ? &J2 : nullptr);
  if (value) *value = VStack(v1, v2);
  if (J) *J = VStack(J1, J2);
}
void StackedDecoder::JacobianAndSecond(const VectorXd& z, const VectorXd& u, MatrixXd* J, VectorXd* f2) const {
  MatrixXd J1, J2;
  VectorXd a1, a2;
  mean_->JacobianAndSecond(z, u, J ? &J1 : nullptr, f2 ? &a1 : nullptr);
  std_->JacobianAndSecond(z, u, J ? &J2 : nullptr, f2 ? &a2 : nullptr);
  if (J) *J = VStack(J1, J2);
  if (f2) *f2 = VStack(a1, a2);
}
void StackedDecoder::Tangents(const VectorXd& z, const VectorXd& u, const VectorXd& dz, const VectorXd& du,
                              MatrixXd* J, MatrixXd* dJ, VectorXd* f2, VectorXd* df2) const {
  MatrixXd J1, dJ1, J2, dJ2;
  VectorXd a1, da1, a2, da2;
  mean_->Tangents(z, u, dz, du, &J1, &dJ1, &a1, &da1);
  std_->Tangents(z, u, dz, du, &J2, &dJ2, &a2, &da2);
  if (J) *J = VStack(J1, J2);
  if (dJ) *dJ = VStack(dJ1, dJ2);
  if (f2) *f2 = VStack(a1, a2);
  if (df2) *df2 = VStack(da1, da2);
}
void StackedDecoder::GeodesicJet(const VectorXd& z, const VectorXd& u, MatrixXd* J, MatrixXd* H,
                                 MatrixXd* T) const {
  MatrixXd J1, H1, T1, J2, H2, T2;
  mean_->GeodesicJet(z, u, &J1, &H1, &T1);
  std_->GeodesicJet(z, u, &J2, &H2, &T2);
  *J = VStack(J1, J2);
  *H = VStack(H1, H2);
  *T = VStack(T1, T2);
}
bool StackedDecoder::InDomain(const VectorXd& z, std::string* why) const {
  return mean_->InDomain(z, why) && std_->InDomain(z, why);
}

std::shared_ptr<const Decoder> ReadDecoder(const std::string& file, bool stochastic) {
  auto mean = std::make_shared<MlpDecoder>(ReadMlp(file, "/decoder/mean"));
  if (!stochastic) return mean;
  auto sd = std::make_shared<MlpDecoder>(ReadMlp(file, "/decoder/std"));
  if (sd->input_dim() != mean->input_dim() || sd->output_dim() != mean->output_dim()) {
    throw InputError(file + ":/decoder/std: dimensions " + std::to_string(sd->input_dim()) + " -> " +
                     std::to_string(sd->output_dim()) + " differ from /decoder/mean's " +
                     std::to_string(mean->input_dim()) + " -> " + std::to_string(mean->output_dim()));
  }
  return std::make_shared<StackedDecoder>(mean, sd);
}

// ---- PullbackMetric ------------------------------------------------------------------------------------------

PullbackMetric::PullbackMetric(std::shared_ptr<const Decoder> decoder) : decoder_(std::move(decoder)) {
  if (!decoder_) throw InputError("PullbackMetric: null decoder");
}

namespace {

// Metric-sized (d x d) matrices and vectors: on the stack up to d = kSmallDim (no heap allocation in the geodesic
// right-hand side), heap-allocated beyond.
constexpr int kSmallDim = 16;

// Decoder outputs reused between calls on one thread (same sizes every call: no allocation after the first).
// Only the PullbackMetric methods below use it, and none of them is re-entered while it holds it.
struct PullbackScratch {
  MatrixXd J, dJ, H, T;
  VectorXd f2, df2, Ju;
};
PullbackScratch& ThreadPullbackScratch() {
  thread_local PullbackScratch scratch;
  return scratch;
}

// Latent-dimension types. The geodesic right-hand side works on D x d decoder columns and d x d metric matrices:
// for d = 2, 3 (the common small latent spaces) every size but D is fixed at compile time, so the small products
// and the Cholesky factorisation are unrolled; beyond, d x d matrices live on the stack up to kSmallDim.
template <int kD, int kMax>
struct Dim {
  using Mat = Eigen::Matrix<double, kD, kD, 0, kMax, kMax>;
  using Vec = Eigen::Matrix<double, kD, 1, 0, kMax, 1>;
  using Cols = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, kD>>;  // D x d view
  using MutableCols = Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, kD>>;
};

// Calls fn(Dim<...>{}) for latent dimension d.
template <class Fn>
bool WithDim(Eigen::Index d, Fn&& fn) {
  switch (d) {
    case 2: return fn(Dim<2, 2>{});
    case 3: return fn(Dim<3, 3>{});
    default:
      if (d <= kSmallDim) return fn(Dim<Eigen::Dynamic, kSmallDim>{});
      return fn(Dim<Eigen::Dynamic, Eigen::Dynamic>{});
  }
}

// G = A^T B (A, B: D x d, d << D) by column dot products: Eigen's GEMM would spend longer packing A and B than
// multiplying.
template <class A, class B, class Mat>
void CrossGram(const A& a, const B& b, Mat* G) {
  G->resize(a.cols(), b.cols());
  for (Eigen::Index j = 0; j < b.cols(); ++j) {
    for (Eigen::Index i = 0; i < a.cols(); ++i) (*G)(i, j) = a.col(i).dot(b.col(j));
  }
}

// M = J^T J (symmetric: the lower triangle is computed and mirrored).
template <class A, class Mat>
void Gram(const A& J, Mat* M) {
  M->resize(J.cols(), J.cols());
  for (Eigen::Index j = 0; j < J.cols(); ++j) {
    for (Eigen::Index i = j; i < J.cols(); ++i) (*M)(i, j) = (*M)(j, i) = J.col(i).dot(J.col(j));
  }
}

bool NonFiniteAcceleration(const VectorXd& z, std::string* why) {
  if (why) *why = "non-finite geodesic acceleration at z = " + FormatPoint(z);
  return false;
}

// a = -M^{-1} J^T f2 with M = J^T J.
template <class S>
bool PullbackAccelerationImpl(const MatrixXd& Jm, const VectorXd& f2, const VectorXd& z, double min_rcond,
                              VectorXd* acc, std::string* why) {
  const typename S::Cols J(Jm.data(), Jm.rows(), Jm.cols());
  typename S::Mat M;
  Gram(J, &M);
  Eigen::LLT<typename S::Mat> llt;
  if (!Factor(M, z, min_rcond, &llt, why)) return false;
  typename S::Vec a(J.cols());
  a.noalias() = J.transpose() * f2;
  llt.solveInPlace(a);
  if (!a.allFinite()) return NonFiniteAcceleration(z, why);
  *acc = -a;
  return true;
}

// M a = -J^T f2 differentiated along (dz, du): dM a + M da = -(dJ^T f2 + J^T df2), dM = dJ^T J + J^T dJ.
template <class S>
bool PullbackAccelerationTangentImpl(const PullbackScratch& t, const VectorXd& z, double min_rcond, VectorXd* acc,
                                     VectorXd* dacc, std::string* why) {
  const Eigen::Index d = t.J.cols();
  const typename S::Cols J(t.J.data(), t.J.rows(), d), dJ(t.dJ.data(), t.dJ.rows(), d);
  typename S::Mat M, G;
  Gram(J, &M);
  Eigen::LLT<typename S::Mat> llt;
  if (!Factor(M, z, min_rcond, &llt, why)) return false;
  CrossGram(J, dJ, &G);  // dM = G + G^T
  typename S::Vec a(d), r(d);
  a.noalias() = -(J.transpose() * t.f2);
  llt.solveInPlace(a);
  r.noalias() = dJ.transpose() * t.f2;
  r.noalias() += J.transpose() * t.df2;
  r.noalias() += G * a;
  r.noalias() += G.transpose() * a;
  llt.solveInPlace(r);
  if (!a.allFinite() || !r.allFinite()) return NonFiniteAcceleration(z, why);
  *acc = a;
  *dacc = -r;
  return true;
}

// From the jet (J, H, T) at (z, u): f2 = f''[u, u] = sum_ij u_i u_j H_ij, a = -M^{-1} J^T f2 and
//   M da/dz_k = -(dM_k a + dJ_k^T f2 + J^T T_k),  dJ_k = [H_ik]_i,  dM_k = dJ_k^T J + J^T dJ_k,
//   M da/du_k = -2 J^T f''[u, e_k],  f''[u, e_k] = sum_i u_i H_ik.
// With w = J a + f2 (the part of f2 normal to the tangent space: J^T w = 0) the first right-hand side is
// dJ_k^T w + J^T (dJ_k a + T_k): O(D d) per direction, no d x d products of D-long columns.
template <class S>
bool PullbackAccelerationJacobianImpl(PullbackScratch& t, const VectorXd& z, const VectorXd& u, double min_rcond,
                                      VectorXd* acc, MatrixXd* jacobian, std::string* why) {
  const Eigen::Index d = t.J.cols(), D = t.J.rows();
  const typename S::Cols J(t.J.data(), D, d);
  auto H = [&](Eigen::Index k) { return typename S::Cols(t.H.data() + k * d * D, D, d); };  // dJ_k
  typename S::Mat M;
  Gram(J, &M);
  Eigen::LLT<typename S::Mat> llt;
  if (!Factor(M, z, min_rcond, &llt, why)) return false;
  const typename S::Vec uu = u;
  t.dJ.resize(D, d);
  typename S::MutableCols Hu(t.dJ.data(), D, d);  // column k: f''[u, e_k]
  for (Eigen::Index k = 0; k < d; ++k) Hu.col(k).noalias() = H(k) * uu;
  t.f2.noalias() = Hu * uu;
  typename S::Vec a(d);
  a.noalias() = -(J.transpose() * t.f2);
  llt.solveInPlace(a);
  t.Ju = t.f2;  // w
  t.Ju.noalias() += J * a;
  typename S::Mat Bz(d, d), Bu(d, d);
  for (Eigen::Index k = 0; k < d; ++k) {
    const auto dJk = H(k);
    t.df2 = t.T.col(k);  // dJ_k a + T_k
    t.df2.noalias() += dJk * a;
    Bz.col(k).noalias() = dJk.transpose() * t.Ju;
    Bz.col(k).noalias() += J.transpose() * t.df2;
    Bu.col(k).noalias() = 2.0 * (J.transpose() * Hu.col(k));
  }
  llt.solveInPlace(Bz);
  llt.solveInPlace(Bu);
  jacobian->resize(d, 2 * d);
  jacobian->leftCols(d) = -Bz;
  jacobian->rightCols(d) = -Bu;
  if (!a.allFinite() || !jacobian->allFinite()) return NonFiniteAcceleration(z, why);
  *acc = a;
  return true;
}

bool PullbackAcceleration(const MatrixXd& J, const VectorXd& f2, const VectorXd& z, double min_rcond, VectorXd* acc,
                          std::string* why) {
  return WithDim(J.cols(),
                 [&](auto s) { return PullbackAccelerationImpl<decltype(s)>(J, f2, z, min_rcond, acc, why); });
}

}  // namespace

MatrixXd PullbackMetric::Evaluate(const VectorXd& z) const {
  MatrixXd M;
  Gram(decoder_->Jacobian(z), &M);
  return M;
}

bool PullbackMetric::Acceleration(const VectorXd& z, const VectorXd& u, VectorXd* acc, std::string* why) const {
  if (!decoder_->InDomain(z, why)) return false;
  PullbackScratch& t = ThreadPullbackScratch();
  decoder_->JacobianAndSecond(z, u, &t.J, &t.f2);
  return PullbackAcceleration(t.J, t.f2, z, min_rcond(), acc, why);
}

bool PullbackMetric::AccelerationAndSpeed(const VectorXd& z, const VectorXd& u, VectorXd* acc, double* speed2,
                                          std::string* why) const {
  if (!decoder_->InDomain(z, why)) return false;
  PullbackScratch& t = ThreadPullbackScratch();
  decoder_->JacobianAndSecond(z, u, &t.J, &t.f2);
  if (!PullbackAcceleration(t.J, t.f2, z, min_rcond(), acc, why)) return false;
  if (speed2) {
    t.Ju.noalias() = t.J * u;
    *speed2 = t.Ju.squaredNorm();
  }
  return true;
}

bool PullbackMetric::AccelerationTangent(const VectorXd& z, const VectorXd& u, const VectorXd& dz,
                                         const VectorXd& du, VectorXd* acc, VectorXd* dacc, std::string* why) const {
  if (!decoder_->InDomain(z, why)) return false;
  PullbackScratch& t = ThreadPullbackScratch();
  decoder_->Tangents(z, u, dz, du, &t.J, &t.dJ, &t.f2, &t.df2);
  return WithDim(t.J.cols(),
                 [&](auto s) {
                   return PullbackAccelerationTangentImpl<decltype(s)>(t, z, min_rcond(), acc, dacc, why);
                 });
}

bool PullbackMetric::AccelerationJacobian(const VectorXd& z, const VectorXd& u, VectorXd* acc, MatrixXd* jacobian,
                                          std::string* why) const {
  if (!decoder_->InDomain(z, why)) return false;
  PullbackScratch& t = ThreadPullbackScratch();
  decoder_->GeodesicJet(z, u, &t.J, &t.H, &t.T);
  return WithDim(t.J.cols(),
                 [&](auto s) {
                   return PullbackAccelerationJacobianImpl<decltype(s)>(t, z, u, min_rcond(), acc, jacobian, why);
                 });
}

// ---- TensorMetric --------------------------------------------------------------------------------------------

TensorMetric::TensorMetric(std::shared_ptr<const MetricTensorField> field) : field_(std::move(field)) {
  if (!field_) throw InputError("TensorMetric: null field");
}

bool TensorMetric::Acceleration(const VectorXd& z, const VectorXd& u, VectorXd* acc, std::string* why) const {
  if (!field_->InDomain(z, why)) return false;
  const Eigen::Index d = z.size();
  Eigen::LLT<MatrixXd> llt;
  if (!Factor(field_->Value(z), z, min_rcond(), &llt, why)) return false;
  std::vector<MatrixXd> dM;
  field_->Derivatives(z, &dM);
  // r = 2 (sum_k u_k dM_k) u - (u^T dM_i u)_i;  a = -1/2 M^{-1} r.
  MatrixXd B = MatrixXd::Zero(d, d);
  VectorXd w(d);
  for (Eigen::Index k = 0; k < d; ++k) {
    B += u[k] * dM[static_cast<std::size_t>(k)];
    w[k] = u.dot(dM[static_cast<std::size_t>(k)] * u);
  }
  *acc = -0.5 * llt.solve(2.0 * B * u - w);
  if (!acc->allFinite()) {
    if (why) *why = "non-finite geodesic acceleration at z = " + FormatPoint(z);
    return false;
  }
  return true;
}

bool TensorMetric::AccelerationTangent(const VectorXd& z, const VectorXd& u, const VectorXd& dz, const VectorXd& du,
                                       VectorXd* acc, VectorXd* dacc, std::string* why) const {
  if (!field_->HasSecondDerivatives()) {
    if (why) *why = "this metric tensor field supplies no second derivatives: the geodesic Jacobian is unavailable";
    return false;
  }
  if (!field_->InDomain(z, why)) return false;
  const Eigen::Index d = z.size();
  Eigen::LLT<MatrixXd> llt;
  if (!Factor(field_->Value(z), z, min_rcond(), &llt, why)) return false;
  std::vector<MatrixXd> dM, dMdot;
  MatrixXd Mdot;
  field_->Derivatives(z, &dM);
  field_->SecondDerivatives(z, dz, &Mdot, &dMdot);
  MatrixXd B = MatrixXd::Zero(d, d), dB = MatrixXd::Zero(d, d);
  VectorXd w(d), dw(d);
  for (Eigen::Index k = 0; k < d; ++k) {
    const MatrixXd& Dk = dM[static_cast<std::size_t>(k)];
    const MatrixXd& Dk_dot = dMdot[static_cast<std::size_t>(k)];
    B += u[k] * Dk;
    dB += du[k] * Dk + u[k] * Dk_dot;
    w[k] = u.dot(Dk * u);
    dw[k] = 2.0 * du.dot(Dk * u) + u.dot(Dk_dot * u);
  }
  const VectorXd r = 2.0 * B * u - w;
  const VectorXd dr = 2.0 * dB * u + 2.0 * B * du - dw;
  const VectorXd a = -0.5 * llt.solve(r);
  // M a = -r/2  =>  Mdot a + M da = -dr/2.
  const VectorXd da = -llt.solve(Mdot * a + 0.5 * dr);
  if (!a.allFinite() || !da.allFinite()) {
    if (why) *why = "non-finite geodesic acceleration at z = " + FormatPoint(z);
    return false;
  }
  *acc = a;
  *dacc = da;
  return true;
}

namespace {

class PullbackField : public MetricTensorField {
 public:
  explicit PullbackField(std::shared_ptr<const Decoder> decoder) : decoder_(std::move(decoder)) {}
  int dim() const override { return decoder_->input_dim(); }
  MatrixXd Value(const VectorXd& z) const override {
    const MatrixXd J = decoder_->Jacobian(z);
    return J.transpose() * J;
  }
  void Derivatives(const VectorXd& z, std::vector<MatrixXd>* dM) const override {
    const Eigen::Index d = z.size();
    dM->assign(static_cast<std::size_t>(d), MatrixXd());
    const VectorXd zero = VectorXd::Zero(d);
    for (Eigen::Index k = 0; k < d; ++k) {
      MatrixXd J, dJ;
      decoder_->Tangents(z, zero, VectorXd::Unit(d, k), zero, &J, &dJ, nullptr, nullptr);
      (*dM)[static_cast<std::size_t>(k)] = dJ.transpose() * J + J.transpose() * dJ;
    }
  }
  bool InDomain(const VectorXd& z, std::string* why) const override { return decoder_->InDomain(z, why); }

 private:
  std::shared_ptr<const Decoder> decoder_;
};

}  // namespace

std::shared_ptr<const MetricTensorField> PullbackTensorField(std::shared_ptr<const Decoder> decoder) {
  if (!decoder) throw InputError("PullbackTensorField: null decoder");
  return std::make_shared<PullbackField>(std::move(decoder));
}

void Metric::DeclareMinRcond(OptionsDatabase& db, double* min_rcond) {
  db.Real("", "metric_min_rcond", *min_rcond,
          "A metric M(z) counts as singular (the geodesic fails there with status singular_metric and the reason) "
          "when the reciprocal of its L1 condition number is at most this; 0 = only an exactly singular or "
          "indefinite M",
          "Metric::set_min_rcond", RealBounds{0.0, 1.0, false, true});
}

}  // namespace pushpull

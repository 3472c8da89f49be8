// Pullback and tensor metrics, the MLP decoder with analytic forward-over-forward derivatives, stacked decoders.
#include "pushpull/metric.hpp"

#include <ceres/jet.h>

#include <Eigen/Cholesky>
#include <Eigen/Dense>
#include <cmath>
#include <sstream>
#include <utility>

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
bool Factor(const MatrixXd& M, const VectorXd& z, Eigen::LLT<MatrixXd>* llt, std::string* why) {
  if (!M.allFinite()) {
    if (why) *why = "non-finite metric at z = " + FormatPoint(z);
    return false;
  }
  llt->compute(M);
  if (llt->info() != Eigen::Success || !(llt->rcond() > 1e-13)) {
    if (why) {
      *why = "singular or indefinite metric at z = " + FormatPoint(z) +
             " (reciprocal condition number " + FormatReal(llt->info() == Eigen::Success ? llt->rcond() : 0.0) +
             "): the decoder's Jacobian is rank deficient there";
    }
    return false;
  }
  return true;
}

// ---- MLP forward-over-forward ------------------------------------------------------------------------------
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

// s(x), s'(x), s''(x).
template <class T>
void Activate(Activation a, const T& x, T* s, T* s1, T* s2) {
  using std::exp;
  using std::log1p;
  using std::tanh;
  switch (a) {
    case Activation::kTanh: {
      const T t = tanh(x);
      *s = t;
      *s1 = T(1.0) - t * t;
      *s2 = T(-2.0) * t * (*s1);
      return;
    }
    case Activation::kSigmoid:
    case Activation::kSilu:
    case Activation::kSoftplus: {
      // sigmoid from exp(-|x|) for stability
      const bool nonneg = x >= T(0.0);
      const T e = exp(nonneg ? -x : x);
      const T p = nonneg ? T(1.0) / (T(1.0) + e) : e / (T(1.0) + e);  // sigmoid(x)
      const T q = T(1.0) - p;
      const T pq = p * q;
      if (a == Activation::kSigmoid) {
        *s = p;
        *s1 = pq;
        *s2 = pq * (T(1.0) - T(2.0) * p);
      } else if (a == Activation::kSilu) {
        *s = x * p;
        *s1 = p * (T(1.0) + x * q);
        *s2 = pq * (T(2.0) + x * (T(1.0) - T(2.0) * p));
      } else {
        *s = log1p(e) + (nonneg ? x : T(0.0));
        *s1 = p;
        *s2 = pq;
      }
      return;
    }
    case Activation::kElu: {
      if (x > T(0.0)) {
        *s = x;
        *s1 = T(1.0);
        *s2 = T(0.0);
      } else {
        const T e = exp(x);
        *s = e - T(1.0);
        *s1 = e;
        *s2 = e;
      }
      return;
    }
    case Activation::kIdentity:
      *s = x;
      *s1 = T(1.0);
      *s2 = T(0.0);
      return;
  }
}

// Value h, first directional derivatives H1 along the columns of [I_d, u] and the second directional derivative
// h2 = f''[u, u].
template <class T>
void Propagate(const Mlp& mlp, const Vec<T>& z, const Vec<T>& u, Vec<T>* h_out, Mat<T>* J_out, Vec<T>* f2_out) {
  const Eigen::Index d = z.size();
  Vec<T> h = z;
  Mat<T> H1(d, d + 1);
  H1.leftCols(d).setIdentity();
  H1.col(d) = u;
  Vec<T> h2 = Vec<T>::Zero(d);
  const int L = mlp.num_layers();
  for (int k = 0; k < L; ++k) {
    const MlpLayer& layer = mlp.layers[static_cast<std::size_t>(k)];
    const Mat<T> W = layer.W.cast<T>();
    const Vec<T> a = W * h + layer.b.cast<T>();
    const Mat<T> A1 = W * H1;
    const Vec<T> a2 = W * h2;
    const Activation act = k + 1 == L ? mlp.output_activation : mlp.activation;
    h.resize(a.size());
    H1.resize(A1.rows(), A1.cols());
    h2.resize(a.size());
    for (Eigen::Index i = 0; i < a.size(); ++i) {
      T s(0.0), s1(0.0), s2(0.0);
      Activate(act, a[i], &s, &s1, &s2);
      h[i] = s;
      H1.row(i) = s1 * A1.row(i);
      const T ai = A1(i, d);
      h2[i] = s2 * ai * ai + s1 * a2[i];
    }
  }
  if (h_out) *h_out = h;
  if (J_out) *J_out = H1.leftCols(d);
  if (f2_out) *f2_out = h2;
}

using Jet1 = ceres::Jet<double, 1>;

Vec<Jet1> MakeJets(const VectorXd& a, const VectorXd& da) {
  Vec<Jet1> x(a.size());
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    x[i].a = a[i];
    x[i].v[0] = da[i];
  }
  return x;
}

void CheckPoint(const VectorXd& z, int d, const char* what) {
  if (z.size() != d) {
    throw InputError(std::string(what) + ": point of dimension " + std::to_string(z.size()) + ", expected " +
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
}

VectorXd MlpDecoder::Value(const VectorXd& z) const {
  CheckPoint(z, input_dim(), "MlpDecoder::Value");
  VectorXd h;
  Propagate<double>(mlp_, z, VectorXd::Zero(z.size()), &h, nullptr, nullptr);
  return h;
}

MatrixXd MlpDecoder::Jacobian(const VectorXd& z) const {
  CheckPoint(z, input_dim(), "MlpDecoder::Jacobian");
  MatrixXd J;
  Propagate<double>(mlp_, z, VectorXd::Zero(z.size()), nullptr, &J, nullptr);
  return J;
}

VectorXd MlpDecoder::SecondDirectional(const VectorXd& z, const VectorXd& u) const {
  CheckPoint(z, input_dim(), "MlpDecoder::SecondDirectional");
  VectorXd f2;
  Propagate<double>(mlp_, z, u, nullptr, nullptr, &f2);
  return f2;
}

void MlpDecoder::Tangents(const VectorXd& z, const VectorXd& u, const VectorXd& dz, const VectorXd& du,
                          MatrixXd* J, MatrixXd* dJ, VectorXd* f2, VectorXd* df2) const {
  CheckPoint(z, input_dim(), "MlpDecoder::Tangents");
  // One further forward-mode pass: the same propagation on dual numbers carrying d/ds along (z + s dz, u + s du).
  Mat<Jet1> Jj;
  Vec<Jet1> f2j;
  Propagate<Jet1>(mlp_, MakeJets(z, dz), MakeJets(u, du), nullptr, &Jj, &f2j);
  if (J) *J = Jj.unaryExpr([](const Jet1& x) { return x.a; });
  if (dJ) *dJ = Jj.unaryExpr([](const Jet1& x) { return x.v[0]; });
  if (f2) *f2 = f2j.unaryExpr([](const Jet1& x) { return x.a; });
  if (df2) *df2 = f2j.unaryExpr([](const Jet1& x) { return x.v[0]; });
}

// ---- StackedDecoder ------------------------------------------------------------------------------------------

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

MatrixXd PullbackMetric::Evaluate(const VectorXd& z) const {
  const MatrixXd J = decoder_->Jacobian(z);
  return J.transpose() * J;
}

bool PullbackMetric::Acceleration(const VectorXd& z, const VectorXd& u, VectorXd* acc, std::string* why) const {
  if (!decoder_->InDomain(z, why)) return false;
  const MatrixXd J = decoder_->Jacobian(z);
  const VectorXd f2 = decoder_->SecondDirectional(z, u);
  Eigen::LLT<MatrixXd> llt;
  if (!Factor(J.transpose() * J, z, &llt, why)) return false;
  *acc = -llt.solve(J.transpose() * f2);
  if (!acc->allFinite()) {
    if (why) *why = "non-finite geodesic acceleration at z = " + FormatPoint(z);
    return false;
  }
  return true;
}

bool PullbackMetric::AccelerationTangent(const VectorXd& z, const VectorXd& u, const VectorXd& dz,
                                         const VectorXd& du, VectorXd* acc, VectorXd* dacc, std::string* why) const {
  if (!decoder_->InDomain(z, why)) return false;
  MatrixXd J, dJ;
  VectorXd f2, df2;
  decoder_->Tangents(z, u, dz, du, &J, &dJ, &f2, &df2);
  Eigen::LLT<MatrixXd> llt;
  if (!Factor(J.transpose() * J, z, &llt, why)) return false;
  // M a = -J^T f2  =>  dM a + M da = -(dJ^T f2 + J^T df2).
  const MatrixXd dM = dJ.transpose() * J + J.transpose() * dJ;
  const VectorXd a = -llt.solve(J.transpose() * f2);
  const VectorXd da = -llt.solve(dJ.transpose() * f2 + J.transpose() * df2 + dM * a);
  if (!a.allFinite() || !da.allFinite()) {
    if (why) *why = "non-finite geodesic acceleration at z = " + FormatPoint(z);
    return false;
  }
  *acc = a;
  *dacc = da;
  return true;
}

// ---- TensorMetric --------------------------------------------------------------------------------------------

TensorMetric::TensorMetric(std::shared_ptr<const MetricTensorField> field) : field_(std::move(field)) {
  if (!field_) throw InputError("TensorMetric: null field");
}

bool TensorMetric::Acceleration(const VectorXd& z, const VectorXd& u, VectorXd* acc, std::string* why) const {
  if (!field_->InDomain(z, why)) return false;
  const Eigen::Index d = z.size();
  Eigen::LLT<MatrixXd> llt;
  if (!Factor(field_->Value(z), z, &llt, why)) return false;
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
  if (!Factor(field_->Value(z), z, &llt, why)) return false;
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

}  // namespace pushpull

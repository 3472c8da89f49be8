// Closed-form geometries for validation (docs/math.md section 4).
//
// Decoders are written once as templated functors (FunctorDecoder, functor_decoder.hpp): their first, second and
// third derivatives come from nested forward-mode dual numbers (dual.hpp; ceres::Jet 2.1 does not nest).
#include <Eigen/Dense>
#include <algorithm>
#include <type_traits>
#include <vector>
#include <cmath>
#include <utility>

#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/dual.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/functor_decoder.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/options.hpp"

namespace pushpull {

using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

using ad::Const;
using ad::Dual;
template <class T>
using Vec = std::vector<T>;
using functor_detail::ToEigen;
using functor_detail::ToStd;

// ---- Functors --------------------------------------------------------------------------------------------------

struct LinearMap {
  MatrixXd W;
  VectorXd c;
  int input_dim() const { return static_cast<int>(W.cols()); }
  int output_dim() const { return static_cast<int>(W.rows()); }
  template <class T>
  Vec<T> operator()(const Vec<T>& z) const {
    Vec<T> y(static_cast<std::size_t>(W.rows()));
    for (Eigen::Index i = 0; i < W.rows(); ++i) {
      T s = Const<T>(c[i]);
      for (Eigen::Index j = 0; j < W.cols(); ++j) s += Const<T>(W(i, j)) * z[static_cast<std::size_t>(j)];
      y[static_cast<std::size_t>(i)] = s;
    }
    return y;
  }
};

struct StereographicSphere {
  int d = 2;
  int input_dim() const { return d; }
  int output_dim() const { return d + 1; }
  template <class T>
  Vec<T> operator()(const Vec<T>& z) const {
    T n2 = Const<T>(0.0);
    for (const T& zi : z) n2 += zi * zi;
    const T denom = n2 + Const<T>(1.0);
    Vec<T> y(static_cast<std::size_t>(d + 1));
    for (std::size_t i = 0; i < z.size(); ++i) y[i] = Const<T>(2.0) * z[i] / denom;
    y[static_cast<std::size_t>(d)] = (n2 - Const<T>(1.0)) / denom;
    return y;
  }
};

struct Torus {
  double R = 2;
  double r = 1;
  int input_dim() const { return 2; }
  int output_dim() const { return 3; }
  template <class T>
  Vec<T> operator()(const Vec<T>& z) const {
    using std::cos;
    using std::sin;
    const T rho = Const<T>(R) + Const<T>(r) * cos(z[0]);
    return {rho * cos(z[1]), rho * sin(z[1]), Const<T>(r) * sin(z[0])};
  }
};

struct GaussianBump {
  double A = 1;
  int input_dim() const { return 2; }
  int output_dim() const { return 3; }
  template <class T>
  Vec<T> operator()(const Vec<T>& z) const {
    using std::exp;
    return {z[0], z[1], Const<T>(A) * exp(Const<T>(-0.5) * (z[0] * z[0] + z[1] * z[1]))};
  }
};

// M = diag(c0, c1) / y^2 on the upper half plane y = z_1 > 0 (Fisher-Rao of normals: (1, 2); Poincare: (1, 1)).
class DiagonalHalfPlaneField : public MetricTensorField {
 public:
  DiagonalHalfPlaneField(double c0, double c1, std::string name, std::string coordinate)
      : c_(c0, c1), name_(std::move(name)), coordinate_(std::move(coordinate)) {}
  int dim() const override { return 2; }
  MatrixXd Value(const VectorXd& z) const override {
    return Eigen::Vector2d(c_ / (z[1] * z[1])).asDiagonal();
  }
  void Derivatives(const VectorXd& z, std::vector<MatrixXd>* dM) const override {
    const double y = z[1];
    dM->assign(2, MatrixXd::Zero(2, 2));
    (*dM)[1] = Eigen::Vector2d(-2.0 * c_ / (y * y * y)).asDiagonal();
  }
  bool HasSecondDerivatives() const override { return true; }
  void SecondDerivatives(const VectorXd& z, const VectorXd& dz, MatrixXd* Mdot,
                         std::vector<MatrixXd>* dMdot) const override {
    const double y = z[1];
    *Mdot = Eigen::Vector2d(-2.0 * dz[1] * c_ / (y * y * y)).asDiagonal();
    dMdot->assign(2, MatrixXd::Zero(2, 2));
    (*dMdot)[1] = Eigen::Vector2d(6.0 * dz[1] * c_ / (y * y * y * y)).asDiagonal();
  }
  bool InDomain(const VectorXd& z, std::string* why) const override {
    if (z.size() != 2 || !z.allFinite() || !(z[1] > 0)) {
      if (why) {
        *why = name_ + " is defined only for " + coordinate_ + " > 0; the point z = " + FormatPoint(z) +
               (z.size() == 2 ? " has " + coordinate_ + " = " + FormatReal(z[1]) : " has the wrong dimension") +
               " (outside the domain)";
      }
      return false;
    }
    return true;
  }

 private:
  Eigen::Vector2d c_;
  std::string name_;
  std::string coordinate_;
};

}  // namespace

std::shared_ptr<const Decoder> MakeLinearDecoder(const MatrixXd& W, const VectorXd& c) {
  if (c.size() != W.rows()) throw InputError("MakeLinearDecoder: c has " + std::to_string(c.size()) +
                                             " entries, W has " + std::to_string(W.rows()) + " rows");
  return std::make_shared<FunctorDecoder<LinearMap>>(LinearMap{W, c});
}

double LinearDistance(const MatrixXd& W, const VectorXd& z0, const VectorXd& z1) { return (W * (z1 - z0)).norm(); }

std::shared_ptr<const Decoder> MakeStereographicSphereDecoder(int d) {
  if (d < 1) throw InputError("MakeStereographicSphereDecoder: d = " + std::to_string(d) + " must be >= 1");
  return std::make_shared<FunctorDecoder<StereographicSphere>>(StereographicSphere{d});
}

double SphereDistance(const VectorXd& z0, const VectorXd& z1) {
  const StereographicSphere f{static_cast<int>(z0.size())};
  const double c = ToEigen(f(ToStd(z0))).dot(ToEigen(f(ToStd(z1))));
  return std::acos(std::clamp(c, -1.0, 1.0));
}

std::shared_ptr<const Decoder> MakeTorusDecoder(double R, double r) {
  if (!(r > 0) || !(R > r)) {
    throw InputError("MakeTorusDecoder: need R > r > 0, got R = " + FormatReal(R) + ", r = " + FormatReal(r));
  }
  return std::make_shared<FunctorDecoder<Torus>>(Torus{R, r});
}

double TorusMeridianDistance(double r, const VectorXd& z0, const VectorXd& z1) { return r * std::abs(z1[0] - z0[0]); }

std::shared_ptr<const Decoder> MakeGaussianBumpDecoder(double A) {
  return std::make_shared<FunctorDecoder<GaussianBump>>(GaussianBump{A});
}

VectorXd GaussianBumpAcceleration(double A, const VectorXd& z, const VectorXd& u) {
  const double h = A * std::exp(-0.5 * z.squaredNorm());
  const Eigen::Vector2d grad = -h * Eigen::Vector2d(z[0], z[1]);
  const Eigen::Matrix2d hess = h * (Eigen::Vector2d(z[0], z[1]) * Eigen::RowVector2d(z[0], z[1]) -
                                    Eigen::Matrix2d::Identity());
  const Eigen::Vector2d v(u[0], u[1]);
  return -grad * (v.dot(hess * v)) / (1.0 + grad.squaredNorm());
}

std::shared_ptr<const MetricTensorField> MakeFisherRaoNormalField() {
  return std::make_shared<DiagonalHalfPlaneField>(1.0, 2.0, "the Fisher-Rao metric of N(mu, sigma)", "sigma");
}

double FisherRaoNormalDistance(const VectorXd& z0, const VectorXd& z1) {
  const double dmu = z1[0] - z0[0], ds = z1[1] - z0[1];
  return std::sqrt(2.0) * std::acosh(1.0 + (0.5 * dmu * dmu + ds * ds) / (2.0 * z0[1] * z1[1]));
}

std::shared_ptr<const MetricTensorField> MakePoincareHalfPlaneField() {
  return std::make_shared<DiagonalHalfPlaneField>(1.0, 1.0, "the Poincare half-plane metric", "y");
}

double PoincareDistance(const VectorXd& z0, const VectorXd& z1) {
  return std::acosh(1.0 + (z1 - z0).squaredNorm() / (2.0 * z0[1] * z1[1]));
}

// ---- The geometries by name ---------------------------------------------------------------------------------------

void ClosedFormParameters::SetFromOptions(OptionsDatabase& db) {
  db.RealList("", "linear_weights", linear_weights,
              "Closed-form geometry linear: the matrix W (row-major, D x d entries); empty = identity",
              "ClosedFormParameters::linear_weights");
  db.Real("", "torus_R", torus_R, "Closed-form geometry torus: distance from the centre to the tube centre",
          "ClosedFormParameters::torus_R", RealBounds::Positive());
  db.Real("", "torus_r", torus_r, "Closed-form geometry torus: tube radius (< torus_R)", "ClosedFormParameters::torus_r",
          RealBounds::Positive());
  db.Real("", "height_amplitude", height_amplitude,
          "Closed-form geometry height_field: amplitude A of the Gaussian bump", "ClosedFormParameters::height_amplitude");
}

namespace {

void RequireDim(const char* name, int d, int expected) {
  if (d != expected) {
    throw InputError(std::string("the closed-form geometry ") + name + " is " + std::to_string(expected) +
                     "-dimensional, but the points have " + std::to_string(d) + " coordinates");
  }
}

std::unique_ptr<ClosedFormGeometry> Pullback(std::shared_ptr<const Decoder> decoder) {
  auto g = std::make_unique<ClosedFormGeometry>();
  g->metric = std::make_shared<PullbackMetric>(decoder);
  g->decoder = std::move(decoder);
  return g;
}

std::unique_ptr<ClosedFormGeometry> FromField(std::shared_ptr<const MetricTensorField> field) {
  auto g = std::make_unique<ClosedFormGeometry>();
  g->metric = std::make_shared<TensorMetric>(std::move(field));
  return g;
}

}  // namespace

const ClosedFormGeometryRegistry& ClosedFormGeometries() {
  static const ClosedFormGeometryRegistry* registry = [] {
    auto* r = new ClosedFormGeometryRegistry("metric_type");
    r->Register("linear", "f(z) = W z (W from linear_weights, default the identity): straight lines",
                [](const ClosedFormParameters& p, int d) {
                  if (d < 1) throw InputError("the points have no coordinates");
                  Eigen::MatrixXd W = Eigen::MatrixXd::Identity(d, d);
                  if (!p.linear_weights.empty()) {
                    const auto n = static_cast<int>(p.linear_weights.size());
                    if (n % d != 0) {
                      throw InputError("linear_weights has " + std::to_string(n) +
                                       " entries, not a multiple of the latent dimension " + std::to_string(d));
                    }
                    W = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                        p.linear_weights.data(), n / d, d);
                  }
                  return Pullback(MakeLinearDecoder(W, Eigen::VectorXd::Zero(W.rows())));
                });
    r->Register("sphere", "inverse stereographic projection onto the unit sphere S^d",
                [](const ClosedFormParameters&, int d) {
                  if (d < 1) throw InputError("the points have no coordinates");
                  return Pullback(MakeStereographicSphereDecoder(d));
                });
    r->Register("torus", "torus in R^3 with radii torus_R > torus_r > 0, coordinates (theta, phi)",
                [](const ClosedFormParameters& p, int d) {
                  RequireDim("torus", d, 2);
                  if (!(p.torus_R > p.torus_r)) {
                    throw InputError("torus_R " + FormatReal(p.torus_R) + " must exceed torus_r " +
                                     FormatReal(p.torus_r));
                  }
                  return Pullback(MakeTorusDecoder(p.torus_R, p.torus_r));
                });
    r->Register("height_field", "graph (x, y, A exp(-(x^2 + y^2) / 2)) with A = height_amplitude",
                [](const ClosedFormParameters& p, int d) {
                  RequireDim("height_field", d, 2);
                  return Pullback(MakeGaussianBumpDecoder(p.height_amplitude));
                });
    r->Register("fisher_rao", "Fisher-Rao metric of univariate normals, coordinates (mu, sigma), sigma > 0",
                [](const ClosedFormParameters&, int d) {
                  RequireDim("fisher_rao", d, 2);
                  return FromField(MakeFisherRaoNormalField());
                });
    r->Register("poincare", "Poincare half-plane M = I / y^2, y > 0", [](const ClosedFormParameters&, int d) {
      RequireDim("poincare", d, 2);
      return FromField(MakePoincareHalfPlaneField());
    });
    return r;
  }();
  return *registry;
}

}  // namespace pushpull

// Riemannian metrics on a latent space R^d for geodesic computations (MATH.md sections 3 and 4).
//
// A Metric gives M(z) (symmetric positive definite, d x d) and the geodesic acceleration g'' = -Gamma(g)[g', g'],
// together with its exact directional derivative (needed by the variational equations of the shooting method).
// Numerical trouble (singular or non-finite M, a point outside the domain) is reported through a false return
// value and a message, never thrown and never divided by.
//
// Two kinds:
// - PullbackMetric of a Decoder f: R^d -> R^D, M = J^T J, with the cheap acceleration g'' = -M^{-1} J^T f''[g', g'].
// - TensorMetric of a MetricTensorField that gives M(z) and its derivatives directly (general Christoffel formula).
// Closed-form geometries (validation) are built by the factories at the end of this header.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "pushpull/mlp.hpp"

namespace pushpull {

// "(z_0, z_1, ...)" for messages.
std::string FormatPoint(const Eigen::VectorXd& z);

// A smooth map f: R^d -> R^D with first and second derivatives.
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual int input_dim() const = 0;
  virtual int output_dim() const = 0;
  virtual Eigen::VectorXd Value(const Eigen::VectorXd& z) const = 0;
  // J = df/dz (D x d).
  virtual Eigen::MatrixXd Jacobian(const Eigen::VectorXd& z) const = 0;
  // f(z) and J(z) at once. The default calls Value and Jacobian; decoders that get both from one pass override it.
  virtual void ValueAndJacobian(const Eigen::VectorXd& z, Eigen::VectorXd* value, Eigen::MatrixXd* J) const;
  // f''[u, u] = d^2/ds^2 f(z + s u) at s = 0 (D).
  virtual Eigen::VectorXd SecondDirectional(const Eigen::VectorXd& z, const Eigen::VectorXd& u) const = 0;
  // J(z) and f''(z)[u, u] at once (what the geodesic acceleration needs). The default calls Jacobian and
  // SecondDirectional; decoders that get both from one pass override it.
  virtual void JacobianAndSecond(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::MatrixXd* J,
                                 Eigen::VectorXd* f2) const;
  // J(z) and f''(z)[u, u] together with their exact derivatives d/ds at s = 0 along z + s dz, u + s du
  // (dJ: D x d, df2: D). Used for the Jacobian of the geodesic system.
  virtual void Tangents(const Eigen::VectorXd& z, const Eigen::VectorXd& u, const Eigen::VectorXd& dz,
                        const Eigen::VectorXd& du, Eigen::MatrixXd* J, Eigen::MatrixXd* dJ, Eigen::VectorXd* f2,
                        Eigen::VectorXd* df2) const = 0;
  // What the Jacobian of the geodesic flow needs, for all directions at once: J (D x d), the second derivatives
  // H (D x d^2, column i + d j = f''[e_i, e_j]) and T (D x d, column k = f'''[u, u, e_k]). The default calls
  // Tangents once per coordinate direction; decoders that get everything from one pass override it.
  virtual void GeodesicJet(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::MatrixXd* J,
                           Eigen::MatrixXd* H, Eigen::MatrixXd* T) const;
  // Whether z lies in the domain of f; when not, *why (if not null) names the point and the reason.
  virtual bool InDomain(const Eigen::VectorXd& z, std::string* why) const;
  // How many derivatives of f are continuous (kSmooth: all). The geodesic equation needs f'' (its Christoffel
  // symbols), so below 2 its right-hand side jumps where a derivative does (-bvp_type auto then prefers discrete
  // geodesics, which need only f and J). The default: kSmooth.
  static constexpr int kSmooth = 1 << 20;
  virtual int smoothness() const { return kSmooth; }
};

// A decoder read from a model file ("pushpull-mlp", time_input none). Derivatives are analytic forward-over-forward
// passes through the layers (a' = W h', a'' = W h''; h' = s'(a) a', h'' = s''(a) a'^2 + s'(a) a''), including the
// output activation, in plain doubles (src/mlp_decoder.cpp): one matrix product per layer pushes the value and all
// derivative columns at once; Tangents differentiates that pass once more along (dz, du) with the activations' third
// derivatives. Thread safe (scratch memory is thread_local). Throws InputError for a network with a time input or
// with layer shapes that do not chain, and for arguments of the wrong dimension.
class MlpDecoder : public Decoder {
 public:
  explicit MlpDecoder(Mlp mlp);
  int input_dim() const override { return mlp_.input_dim; }
  int output_dim() const override { return mlp_.output_dim; }
  int smoothness() const override;  // the least smooth activation's (elu: 1, its second derivative jumps at 0)
  Eigen::VectorXd Value(const Eigen::VectorXd& z) const override;
  Eigen::MatrixXd Jacobian(const Eigen::VectorXd& z) const override;
  void ValueAndJacobian(const Eigen::VectorXd& z, Eigen::VectorXd* value, Eigen::MatrixXd* J) const override;
  Eigen::VectorXd SecondDirectional(const Eigen::VectorXd& z, const Eigen::VectorXd& u) const override;
  void JacobianAndSecond(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::MatrixXd* J,
                         Eigen::VectorXd* f2) const override;
  void Tangents(const Eigen::VectorXd& z, const Eigen::VectorXd& u, const Eigen::VectorXd& dz,
                const Eigen::VectorXd& du, Eigen::MatrixXd* J, Eigen::MatrixXd* dJ, Eigen::VectorXd* f2,
                Eigen::VectorXd* df2) const override;
  // One pass carrying [h | J | the d(d+1)/2 distinct f''[e_i, e_j] | f'''[u, u, e_k]] through every layer.
  void GeodesicJet(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::MatrixXd* J, Eigen::MatrixXd* H,
                   Eigen::MatrixXd* T) const override;
  const Mlp& mlp() const { return mlp_; }
  // Columns s, s', s'', s''' of activation `a` at each x[i], from the same SIMD kernels as the passes (for tests).
  static Eigen::MatrixXd ActivationDerivatives(Activation a, const Eigen::VectorXd& x);

 private:
  Mlp mlp_;
};

// The stacked map F = (mean, std): R^d -> R^{D_mean + D_std}. Its pullback is the expected metric of the stochastic
// decoder x = mu(z) + sigma(z) eps (MATH.md section 3). Both decoders are shared, not copied.
class StackedDecoder : public Decoder {
 public:
  StackedDecoder(std::shared_ptr<const Decoder> mean, std::shared_ptr<const Decoder> std_dev);
  int input_dim() const override { return mean_->input_dim(); }
  int output_dim() const override { return mean_->output_dim() + std_->output_dim(); }
  Eigen::VectorXd Value(const Eigen::VectorXd& z) const override;
  Eigen::MatrixXd Jacobian(const Eigen::VectorXd& z) const override;
  void ValueAndJacobian(const Eigen::VectorXd& z, Eigen::VectorXd* value, Eigen::MatrixXd* J) const override;
  Eigen::VectorXd SecondDirectional(const Eigen::VectorXd& z, const Eigen::VectorXd& u) const override;
  void JacobianAndSecond(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::MatrixXd* J,
                         Eigen::VectorXd* f2) const override;
  void Tangents(const Eigen::VectorXd& z, const Eigen::VectorXd& u, const Eigen::VectorXd& dz,
                const Eigen::VectorXd& du, Eigen::MatrixXd* J, Eigen::MatrixXd* dJ, Eigen::VectorXd* f2,
                Eigen::VectorXd* df2) const override;
  void GeodesicJet(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::MatrixXd* J, Eigen::MatrixXd* H,
                   Eigen::MatrixXd* T) const override;
  bool InDomain(const Eigen::VectorXd& z, std::string* why) const override;
  int smoothness() const override { return std::min(mean_->smoothness(), std_->smoothness()); }

 private:
  std::shared_ptr<const Decoder> mean_;
  std::shared_ptr<const Decoder> std_;
};

// Reads the decoder of a model file (MODEL-FORMAT.md): /decoder/mean as an MlpDecoder or, when `stochastic`,
// the StackedDecoder of /decoder/mean and /decoder/std (same dimensions), whose pullback is the expected metric.
// Throws InputError naming the file, the group and the problem.
std::shared_ptr<const Decoder> ReadDecoder(const std::string& file, bool stochastic);

class Metric {
 public:
  virtual ~Metric() = default;
  virtual int dim() const = 0;
  // M(z), d x d. Outside the domain the values are meaningless (check InDomain first).
  virtual Eigen::MatrixXd Evaluate(const Eigen::VectorXd& z) const = 0;
  // g'' = -Gamma(z)[u, u]. False (reason in *why when not null) for a point outside the domain or a singular or
  // non-finite metric.
  virtual bool Acceleration(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::VectorXd* acc,
                            std::string* why) const = 0;
  // The acceleration together with the squared speed *speed2 = u^T M(z) u (conserved along a geodesic; speed2 may
  // be null), false exactly when Acceleration fails. The default calls Acceleration and Evaluate; metrics that get
  // both from one evaluation override it.
  virtual bool AccelerationAndSpeed(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::VectorXd* acc,
                                    double* speed2, std::string* why) const;
  // The acceleration and its exact derivative d/ds at s = 0 along (z + s dz, u + s du). False when it fails or when
  // the metric cannot differentiate its acceleration (HasAccelerationTangent()).
  virtual bool AccelerationTangent(const Eigen::VectorXd& z, const Eigen::VectorXd& u, const Eigen::VectorXd& dz,
                                   const Eigen::VectorXd& du, Eigen::VectorXd* acc, Eigen::VectorXd* dacc,
                                   std::string* why) const = 0;
  virtual bool HasAccelerationTangent() const { return true; }
  // The acceleration and its whole Jacobian with respect to the state: *jacobian = [da/dz | da/du] (d x 2d), what
  // the variational equations of the geodesic flow need for every direction at once. The default calls
  // AccelerationTangent once per coordinate direction; metrics that get it from one evaluation override it.
  virtual bool AccelerationJacobian(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::VectorXd* acc,
                                    Eigen::MatrixXd* jacobian, std::string* why) const;
  virtual bool InDomain(const Eigen::VectorXd& z, std::string* why) const;

  // The singularity test of the accelerations: M(z) counts as singular (the acceleration fails with a reason)
  // when the reciprocal of its L1 condition number is at most this (-metric_min_rcond). The built-in metrics
  // apply it; a Metric of research code may ignore it.
  static constexpr double kDefaultMinRcond = 1e-13;
  double min_rcond() const { return min_rcond_; }
  void set_min_rcond(double rcond);  // InputError unless 0 <= rcond < 1

 private:
  double min_rcond_ = kDefaultMinRcond;
};

// M = J^T J of a decoder; g'' = -M^{-1} J^T f''[g', g'] (never the d^3 Christoffel tensor).
class PullbackMetric : public Metric {
 public:
  explicit PullbackMetric(std::shared_ptr<const Decoder> decoder);
  int dim() const override { return decoder_->input_dim(); }
  Eigen::MatrixXd Evaluate(const Eigen::VectorXd& z) const override;
  bool Acceleration(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::VectorXd* acc,
                    std::string* why) const override;
  // One JacobianAndSecond call; speed2 = |J u|^2.
  bool AccelerationAndSpeed(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::VectorXd* acc,
                            double* speed2, std::string* why) const override;
  bool AccelerationTangent(const Eigen::VectorXd& z, const Eigen::VectorXd& u, const Eigen::VectorXd& dz,
                           const Eigen::VectorXd& du, Eigen::VectorXd* acc, Eigen::VectorXd* dacc,
                           std::string* why) const override;
  // One GeodesicJet call: M da/dz_k = -(dM_k a + dJ_k^T f2 + J^T f'''[u, u, e_k]), M da/du_k = -2 J^T f''[u, e_k].
  bool AccelerationJacobian(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::VectorXd* acc,
                            Eigen::MatrixXd* jacobian, std::string* why) const override;
  bool InDomain(const Eigen::VectorXd& z, std::string* why) const override { return decoder_->InDomain(z, why); }
  const Decoder& decoder() const { return *decoder_; }

 private:
  std::shared_ptr<const Decoder> decoder_;
};

// A metric tensor field given directly: M(z), its partial derivatives dM/dz_k and, optionally, the derivatives of
// those along a direction (for the Jacobian of the geodesic system).
class MetricTensorField {
 public:
  virtual ~MetricTensorField() = default;
  virtual int dim() const = 0;
  virtual Eigen::MatrixXd Value(const Eigen::VectorXd& z) const = 0;
  // dM[k] = dM/dz_k, k = 0 .. d-1.
  virtual void Derivatives(const Eigen::VectorXd& z, std::vector<Eigen::MatrixXd>* dM) const = 0;
  // Along z + s dz at s = 0: Mdot = d/ds M, dMdot[k] = d/ds dM/dz_k. Only when HasSecondDerivatives().
  virtual bool HasSecondDerivatives() const { return false; }
  virtual void SecondDerivatives(const Eigen::VectorXd& z, const Eigen::VectorXd& dz, Eigen::MatrixXd* Mdot,
                                 std::vector<Eigen::MatrixXd>* dMdot) const;
  virtual bool InDomain(const Eigen::VectorXd& z, std::string* why) const;
};

// The general geodesic equation g''^i = -Gamma^i_jk g'^j g'^k,
// Gamma^i_jk = 1/2 M^il (d_j M_lk + d_k M_lj - d_l M_jk).
class TensorMetric : public Metric {
 public:
  explicit TensorMetric(std::shared_ptr<const MetricTensorField> field);
  int dim() const override { return field_->dim(); }
  Eigen::MatrixXd Evaluate(const Eigen::VectorXd& z) const override { return field_->Value(z); }
  bool Acceleration(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::VectorXd* acc,
                    std::string* why) const override;
  bool AccelerationTangent(const Eigen::VectorXd& z, const Eigen::VectorXd& u, const Eigen::VectorXd& dz,
                           const Eigen::VectorXd& du, Eigen::VectorXd* acc, Eigen::VectorXd* dacc,
                           std::string* why) const override;
  bool HasAccelerationTangent() const override { return field_->HasSecondDerivatives(); }
  bool InDomain(const Eigen::VectorXd& z, std::string* why) const override { return field_->InDomain(z, why); }

 private:
  std::shared_ptr<const MetricTensorField> field_;
};

// M = J^T J of a decoder given as a tensor field (dM/dz_k = dJ_k^T J + J^T dJ_k from the decoder's tangents):
// the general Christoffel formula applied to a pullback metric, an independent check of PullbackMetric.
// No second derivatives.
std::shared_ptr<const MetricTensorField> PullbackTensorField(std::shared_ptr<const Decoder> decoder);

// ---- Closed-form geometries (src/closed_form_metrics.cpp), each with its closed-form distance ------------------
// Derivatives of the decoders are nested forward-mode automatic differentiation (inside the .cpp).

// f(z) = W z + c; distance ||W (z1 - z0)||.
std::shared_ptr<const Decoder> MakeLinearDecoder(const Eigen::MatrixXd& W, const Eigen::VectorXd& c);
double LinearDistance(const Eigen::MatrixXd& W, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1);

// Inverse stereographic projection onto the unit sphere S^d in R^{d+1}; distance arccos <f(z0), f(z1)>.
std::shared_ptr<const Decoder> MakeStereographicSphereDecoder(int d);
double SphereDistance(const Eigen::VectorXd& z0, const Eigen::VectorXd& z1);

// Torus f(th, ph) = ((R + r cos th) cos ph, (R + r cos th) sin ph, r sin th), R > r > 0.
std::shared_ptr<const Decoder> MakeTorusDecoder(double R, double r);
// Distance along one meridian (ph0 == ph1, |th1 - th0| <= pi): r |th1 - th0|.
double TorusMeridianDistance(double r, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1);

// Height field f(x, y) = (x, y, h(x, y)) with the bump h = A exp(-(x^2 + y^2) / 2).
std::shared_ptr<const Decoder> MakeGaussianBumpDecoder(double A);
// The exact height-field geodesic equation g'' = -grad h (g'^T Hess h g') / (1 + |grad h|^2) (independent check).
Eigen::VectorXd GaussianBumpAcceleration(double A, const Eigen::VectorXd& z, const Eigen::VectorXd& u);

// Fisher-Rao metric of univariate normals, coordinates (mu, sigma): M = diag(1, 2) / sigma^2, sigma > 0.
std::shared_ptr<const MetricTensorField> MakeFisherRaoNormalField();
// sqrt(2) arccosh(1 + ((mu1 - mu0)^2 / 2 + (sigma1 - sigma0)^2) / (2 sigma0 sigma1)).
double FisherRaoNormalDistance(const Eigen::VectorXd& z0, const Eigen::VectorXd& z1);

// Poincare half-plane M = I / y^2, y > 0; distance arccosh(1 + |z1 - z0|^2 / (2 y0 y1)).
std::shared_ptr<const MetricTensorField> MakePoincareHalfPlaneField();
double PoincareDistance(const Eigen::VectorXd& z0, const Eigen::VectorXd& z1);

// The plain forward pass of an MLP differentiated by nested forward-mode dual numbers (no hand-written tangents):
// a reference for MlpDecoder's analytic derivatives in tests.
std::shared_ptr<const Decoder> MakeAutodiffReferenceDecoder(const Mlp& mlp);

}  // namespace pushpull

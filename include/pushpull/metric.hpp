// Riemannian metrics on a latent space R^d for geodesic computations (docs/math.md section 3).
//
// A Metric gives M(z) (symmetric positive definite, d x d) and the geodesic acceleration g'' = -Gamma(g)[g', g'],
// together with its exact directional derivative (needed by the variational equations of the shooting method).
// Numerical trouble (singular or non-finite M, a point outside the domain) is reported through a false return
// value and a message, never thrown and never divided by.
//
// Two kinds:
// - PullbackMetric of a Decoder f: R^d -> R^D, M = J^T J, with the cheap acceleration g'' = -M^{-1} J^T f''[g', g'].
// - TensorMetric of a MetricTensorField that gives M(z) and its derivatives directly (general Christoffel formula).
// Decoders are in decoder.hpp; closed-form geometries (validation) in closed_form_geometries.hpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "pushpull/decoder.hpp"

namespace pushpull {

class OptionsDatabase;

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
  // Declares -metric_min_rcond (no prefix) and stores its value (default kDefaultMinRcond) in *min_rcond.
  static void DeclareMinRcond(OptionsDatabase& db, double* min_rcond);

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

}  // namespace pushpull

// Velocity fields v(x, t): R^d x R -> R^d, evaluated on a block of points at once.
//
// A block is N points stored as the rows of an N x d row-major matrix, all at the same time t, so that dense layers
// run as matrix-matrix products. Every field gives exact derivatives (no finite differences): Jacobian-vector
// products, the divergence tr(dv/dx) and the full Jacobian, each row of the block independently.
//
// Thread safety: the const evaluation methods may be called concurrently from several threads on one object;
// implementations keep no mutable state outside the call (scratch memory is per call or thread_local).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <Eigen/Core>

#include "pushpull/row_matrix.hpp"

namespace pushpull {

using BlockRef = Eigen::Ref<const RowMatrixXd>;

class VectorField {
 public:
  virtual ~VectorField() = default;

  virtual int dim() const = 0;
  virtual std::string description() const = 0;

  // v.row(i) = v(x.row(i), t). `v` is resized to x's shape.
  virtual void Evaluate(double t, const BlockRef& x, RowMatrixXd& v) const = 0;

  // v as above and, for each of the K = dx.cols() / d tangent blocks k, row i:
  //   jv(i, k*d:(k+1)*d) = dv/dx(x_i, t) * dx(i, k*d:(k+1)*d).
  // `dx` is N x (K d); `jv` is resized to match. (K probes per point for Hutchinson; K = d for the exact
  // divergence and the Jacobian.)
  virtual void EvaluateJvp(double t, const BlockRef& x, const BlockRef& dx, RowMatrixXd& v,
                           RowMatrixXd& jv) const = 0;

  // v and the exact divergence div(i) = tr(dv/dx(x_i, t)).
  virtual void EvaluateDivergence(double t, const BlockRef& x, RowMatrixXd& v, Eigen::VectorXd& div) const;

  // v and the Jacobian of each row: jac(i, r*d + c) = dv_r/dx_c (x_i, t); jac is N x (d*d).
  virtual void EvaluateJacobian(double t, const BlockRef& x, RowMatrixXd& v, RowMatrixXd& jac) const;
};

// v = A(t) x + b(t), A and b given by callables (the closed-form Gaussian flows use these).
class AffineField : public VectorField {
 public:
  using MatrixFn = std::function<Eigen::MatrixXd(double)>;
  using VectorFn = std::function<Eigen::VectorXd(double)>;
  AffineField(int dim, MatrixFn A, VectorFn b, std::string description = "affine field");
  int dim() const override { return dim_; }
  std::string description() const override { return description_; }
  void Evaluate(double t, const BlockRef& x, RowMatrixXd& v) const override;
  void EvaluateJvp(double t, const BlockRef& x, const BlockRef& dx, RowMatrixXd& v,
                   RowMatrixXd& jv) const override;
  void EvaluateDivergence(double t, const BlockRef& x, RowMatrixXd& v, Eigen::VectorXd& div) const override;
  void EvaluateJacobian(double t, const BlockRef& x, RowMatrixXd& v, RowMatrixXd& jac) const override;

 private:
  int dim_;
  MatrixFn A_;
  VectorFn b_;
  std::string description_;
};

struct Mlp;

// A network of the "pushpull-mlp" schema used as a velocity field (time_input concat or concatsquash; "none"
// gives an autonomous field). Derivatives are propagated forward through the layers analytically.
std::unique_ptr<VectorField> MakeMlpField(const Mlp& mlp);

}  // namespace pushpull

// Default derivative methods of VectorField (through EvaluateJvp with the unit directions) and AffineField.
#include "pushpull/field.hpp"

#include <stdexcept>
#include <utility>

namespace pushpull {

namespace {

// The N x (d*d) tangent block whose k-th d-wide block is the unit direction e_k on every row.
RowMatrixXd UnitDirections(Eigen::Index n, int d) {
  RowMatrixXd dx = RowMatrixXd::Zero(n, static_cast<Eigen::Index>(d) * d);
  for (int k = 0; k < d; ++k) dx.col(static_cast<Eigen::Index>(k) * d + k).setOnes();
  return dx;
}

void CheckBlock(const VectorField& field, const BlockRef& x, const char* method) {
  if (x.cols() != field.dim()) {
    throw std::invalid_argument(std::string(method) + " on '" + field.description() + "': the block has " +
                                std::to_string(x.cols()) + " columns, the field dimension is " +
                                std::to_string(field.dim()));
  }
}

}  // namespace

void VectorField::EvaluateDivergence(double t, const BlockRef& x, RowMatrixXd& v, Eigen::VectorXd& div) const {
  CheckBlock(*this, x, "EvaluateDivergence");
  const int d = dim();
  RowMatrixXd jv;
  EvaluateJvp(t, x, UnitDirections(x.rows(), d), v, jv);
  // jv(i, k*d + r) = dv_r/dx_k: the diagonal entries sit at k*d + k.
  div.setZero(x.rows());
  for (int k = 0; k < d; ++k) div += jv.col(static_cast<Eigen::Index>(k) * d + k);
}

void VectorField::EvaluateJacobian(double t, const BlockRef& x, RowMatrixXd& v, RowMatrixXd& jac) const {
  CheckBlock(*this, x, "EvaluateJacobian");
  const Eigen::Index d = dim();
  RowMatrixXd jv;
  EvaluateJvp(t, x, UnitDirections(x.rows(), dim()), v, jv);
  // jv(i, c*d + r) = dv_r/dx_c  ->  jac(i, r*d + c).
  jac.resize(x.rows(), d * d);
  for (Eigen::Index r = 0; r < d; ++r) {
    for (Eigen::Index c = 0; c < d; ++c) jac.col(r * d + c) = jv.col(c * d + r);
  }
}

// ---------------------------------------------------------------------------------------------------------------

AffineField::AffineField(int dim, MatrixFn A, VectorFn b, std::string description)
    : dim_(dim), A_(std::move(A)), b_(std::move(b)), description_(std::move(description)) {
  if (dim_ < 1) throw std::invalid_argument("AffineField: dimension must be >= 1, got " + std::to_string(dim_));
  if (!A_ || !b_) throw std::invalid_argument("AffineField '" + description_ + "': A and b must be callable");
}

namespace {

std::pair<Eigen::MatrixXd, Eigen::VectorXd> AffineAt(const AffineField::MatrixFn& A, const AffineField::VectorFn& b,
                                                     double t, int d, const std::string& description) {
  Eigen::MatrixXd a = A(t);
  Eigen::VectorXd c = b(t);
  if (a.rows() != d || a.cols() != d || c.size() != d) {
    throw std::invalid_argument("AffineField '" + description + "': A(t) is " + std::to_string(a.rows()) + " x " +
                                std::to_string(a.cols()) + " and b(t) has " + std::to_string(c.size()) +
                                " entries, expected dimension " + std::to_string(d));
  }
  return {std::move(a), std::move(c)};
}

}  // namespace

void AffineField::Evaluate(double t, const BlockRef& x, RowMatrixXd& v) const {
  CheckBlock(*this, x, "Evaluate");
  const auto [a, c] = AffineAt(A_, b_, t, dim_, description_);
  v.resize(x.rows(), dim_);
  v.rowwise() = c.transpose();
  v.noalias() += x * a.transpose();
}

void AffineField::EvaluateJvp(double t, const BlockRef& x, const BlockRef& dx, RowMatrixXd& v,
                              RowMatrixXd& jv) const {
  CheckBlock(*this, x, "EvaluateJvp");
  if (dx.rows() != x.rows() || dx.cols() % dim_ != 0) {
    throw std::invalid_argument("EvaluateJvp on '" + description_ + "': the tangent block is " +
                                std::to_string(dx.rows()) + " x " + std::to_string(dx.cols()) +
                                ", expected N x (K d) with N = " + std::to_string(x.rows()) +
                                ", d = " + std::to_string(dim_));
  }
  const auto [a, c] = AffineAt(A_, b_, t, dim_, description_);
  v.resize(x.rows(), dim_);
  v.rowwise() = c.transpose();
  v.noalias() += x * a.transpose();
  jv.resize(dx.rows(), dx.cols());
  for (Eigen::Index k = 0; k < dx.cols() / dim_; ++k) {
    jv.middleCols(k * dim_, dim_).noalias() = dx.middleCols(k * dim_, dim_) * a.transpose();
  }
}

void AffineField::EvaluateDivergence(double t, const BlockRef& x, RowMatrixXd& v, Eigen::VectorXd& div) const {
  CheckBlock(*this, x, "EvaluateDivergence");
  const auto [a, c] = AffineAt(A_, b_, t, dim_, description_);
  v.resize(x.rows(), dim_);
  v.rowwise() = c.transpose();
  v.noalias() += x * a.transpose();
  div.setConstant(x.rows(), a.trace());
}

void AffineField::EvaluateJacobian(double t, const BlockRef& x, RowMatrixXd& v, RowMatrixXd& jac) const {
  CheckBlock(*this, x, "EvaluateJacobian");
  const auto [a, c] = AffineAt(A_, b_, t, dim_, description_);
  v.resize(x.rows(), dim_);
  v.rowwise() = c.transpose();
  v.noalias() += x * a.transpose();
  // Row i holds A flattened row-major: jac(i, r*d + c) = A(r, c).
  const RowMatrixXd a_row = a;
  jac.resize(x.rows(), static_cast<Eigen::Index>(dim_) * dim_);
  jac.rowwise() = Eigen::Map<const Eigen::RowVectorXd>(a_row.data(), a_row.size());
}

}  // namespace pushpull

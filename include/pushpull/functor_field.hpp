// FunctorField: a velocity field written by hand as a templated functor, differentiated in forward mode with
// ceres::Jet.
//
//   struct MyField {
//     template <class T>
//     void operator()(const T* x, const T& t, T* v) const { v[0] = -x[1] * t; v[1] = sin(x[0]); }
//   };
//   auto field = pushpull::MakeFunctorField<2>(MyField{}, "rotation");
//
// Evaluate calls the functor with T = double, row by row. The derivative methods call it once per point with
// T = ceres::Jet<double, kDim> seeded with the unit directions, which gives the whole Jacobian of that point; JVPs,
// the divergence and the Jacobian are formed from it. Use the math functions found by argument-dependent lookup
// (sin, exp, ... unqualified, or `using std::sin;`) so that both instantiations compile.
//
// This is the only pushpull header that includes Ceres.
#pragma once

#include <array>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <ceres/jet.h>

#include "pushpull/field.hpp"

namespace pushpull {

template <class Functor, int kDim>
class FunctorField : public VectorField {
  static_assert(kDim >= 1, "FunctorField: the dimension must be at least 1");

 public:
  using Jet = ceres::Jet<double, kDim>;

  explicit FunctorField(Functor functor, std::string description = "functor field")
      : functor_(std::move(functor)), description_(std::move(description)) {}

  int dim() const override { return kDim; }
  std::string description() const override { return description_; }
  const Functor& functor() const { return functor_; }

  void Evaluate(double t, const BlockRef& x, RowMatrixXd& v) const override {
    CheckBlock(x, "Evaluate");
    v.resize(x.rows(), kDim);
    std::array<double, kDim> xi;
    std::array<double, kDim> vi;
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      for (int c = 0; c < kDim; ++c) xi[c] = x(i, c);
      functor_(xi.data(), t, vi.data());
      for (int r = 0; r < kDim; ++r) v(i, r) = vi[r];
    }
  }

  void EvaluateJvp(double t, const BlockRef& x, const BlockRef& dx, RowMatrixXd& v,
                   RowMatrixXd& jv) const override {
    CheckBlock(x, "EvaluateJvp");
    if (dx.rows() != x.rows() || dx.cols() % kDim != 0) {
      throw std::invalid_argument("EvaluateJvp on '" + description_ + "': the tangent block is " +
                                  std::to_string(dx.rows()) + " x " + std::to_string(dx.cols()) +
                                  ", expected N x (K d) with N = " + std::to_string(x.rows()) +
                                  ", d = " + std::to_string(kDim));
    }
    const Eigen::Index num_tangents = dx.cols() / kDim;
    v.resize(x.rows(), kDim);
    jv.resize(dx.rows(), dx.cols());
    Eigen::Matrix<double, kDim, kDim> J;
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      PointJacobian(t, x, i, v, J);
      for (Eigen::Index k = 0; k < num_tangents; ++k) {
        jv.row(i).segment(k * kDim, kDim).noalias() =
            (J * dx.row(i).segment(k * kDim, kDim).transpose()).transpose();
      }
    }
  }

  void EvaluateDivergence(double t, const BlockRef& x, RowMatrixXd& v, Eigen::VectorXd& div) const override {
    CheckBlock(x, "EvaluateDivergence");
    v.resize(x.rows(), kDim);
    div.resize(x.rows());
    Eigen::Matrix<double, kDim, kDim> J;
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      PointJacobian(t, x, i, v, J);
      div(i) = J.trace();
    }
  }

  void EvaluateJacobian(double t, const BlockRef& x, RowMatrixXd& v, RowMatrixXd& jac) const override {
    CheckBlock(x, "EvaluateJacobian");
    v.resize(x.rows(), kDim);
    jac.resize(x.rows(), kDim * kDim);
    Eigen::Matrix<double, kDim, kDim> J;
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      PointJacobian(t, x, i, v, J);
      for (int r = 0; r < kDim; ++r) {
        for (int c = 0; c < kDim; ++c) jac(i, r * kDim + c) = J(r, c);
      }
    }
  }

 private:
  void CheckBlock(const BlockRef& x, const char* method) const {
    if (x.cols() != kDim) {
      throw std::invalid_argument(std::string(method) + " on '" + description_ + "': the block has " +
                                  std::to_string(x.cols()) + " columns, the field dimension is " +
                                  std::to_string(kDim));
    }
  }

  // One Jet pass at point i: v.row(i) and J(r, c) = dv_r/dx_c.
  void PointJacobian(double t, const BlockRef& x, Eigen::Index i, RowMatrixXd& v,
                     Eigen::Matrix<double, kDim, kDim>& J) const {
    std::array<Jet, kDim> xj;
    std::array<Jet, kDim> vj;
    for (int c = 0; c < kDim; ++c) xj[c] = Jet(x(i, c), c);
    const Jet tj(t);
    functor_(xj.data(), tj, vj.data());
    for (int r = 0; r < kDim; ++r) {
      v(i, r) = vj[r].a;
      J.row(r) = vj[r].v.transpose();
    }
  }

  Functor functor_;
  std::string description_;
};

// MakeFunctorField<2>(MyField{}, "description").
template <int kDim, class Functor>
std::unique_ptr<FunctorField<Functor, kDim>> MakeFunctorField(Functor functor, std::string description) {
  return std::make_unique<FunctorField<Functor, kDim>>(std::move(functor), std::move(description));
}

}  // namespace pushpull

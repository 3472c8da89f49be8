// A metric tensor field M(z) written by the user as a templated functor, differentiated by nested forward-mode dual
// numbers (dual.hpp): dM/dz_k and the second derivatives the geodesic flow's Jacobian needs, with no hand-written
// derivative. Wrap it in a TensorMetric (general Christoffel form) for geodesics and the shooting solvers.
//
//   struct HalfPlane {                       // Poincare half-plane, M = I / y^2 on y > 0
//     int dim() const { return 2; }
//     template <class T>
//     std::vector<T> operator()(const std::vector<T>& z) const {   // d x d entries, row-major
//       const T w = ad::Const<T>(1.0) / (z[1] * z[1]);
//       return {w, ad::Const<T>(0.0), ad::Const<T>(0.0), w};
//     }
//     // optional: the domain, with the reason when z is outside it
//     bool InDomain(const Eigen::VectorXd& z, std::string* why) const;
//   };
//   const TensorMetric metric(MakeFunctorMetricField(HalfPlane{}));
#pragma once

#include <concepts>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "pushpull/dual.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/metric.hpp"

namespace pushpull {

// A MetricTensorField from a templated functor F: std::vector<T> (d) -> std::vector<T> (d x d, row-major). F may
// define `bool InDomain(const Eigen::VectorXd&, std::string* why) const`; otherwise every finite point is in the
// domain. Throws InputError for a point of the wrong dimension or a functor returning other than d x d entries.
template <class F>
class FunctorMetricField : public MetricTensorField {
 public:
  explicit FunctorMetricField(F f) : f_(std::move(f)) {}
  int dim() const override { return f_.dim(); }

  Eigen::MatrixXd Value(const Eigen::VectorXd& z) const override {
    Check(z);
    const std::vector<double> m = f_(std::vector<double>(z.data(), z.data() + z.size()));
    Eigen::MatrixXd M(dim(), dim());
    for (int i = 0; i < dim(); ++i) {
      for (int j = 0; j < dim(); ++j) M(i, j) = Entry(m, i, j);
    }
    return M;
  }

  // One pass per k with the infinitesimal along e_k.
  void Derivatives(const Eigen::VectorXd& z, std::vector<Eigen::MatrixXd>* dM) const override {
    using D1 = ad::Dual<double>;
    Check(z);
    const int d = dim();
    dM->assign(static_cast<std::size_t>(d), Eigen::MatrixXd(d, d));
    std::vector<D1> x(static_cast<std::size_t>(d));
    for (int k = 0; k < d; ++k) {
      for (int i = 0; i < d; ++i) x[static_cast<std::size_t>(i)] = D1{z[i], i == k ? 1.0 : 0.0};
      const std::vector<D1> m = f_(x);
      for (int i = 0; i < d; ++i) {
        for (int j = 0; j < d; ++j) (*dM)[static_cast<std::size_t>(k)](i, j) = Entry(m, i, j).v;
      }
    }
  }

  bool HasSecondDerivatives() const override { return true; }

  // One pass per k on Dual<Dual<double>>: the inner infinitesimal along dz, the outer along e_k, so that the four
  // parts of each entry are M, d/ds M, dM/dz_k and d/ds dM/dz_k.
  void SecondDerivatives(const Eigen::VectorXd& z, const Eigen::VectorXd& dz, Eigen::MatrixXd* Mdot,
                         std::vector<Eigen::MatrixXd>* dMdot) const override {
    using D1 = ad::Dual<double>;
    using D2 = ad::Dual<D1>;
    Check(z);
    Check(dz);
    const int d = dim();
    Mdot->resize(d, d);
    dMdot->assign(static_cast<std::size_t>(d), Eigen::MatrixXd(d, d));
    std::vector<D2> x(static_cast<std::size_t>(d));
    for (int k = 0; k < d; ++k) {
      for (int i = 0; i < d; ++i) x[static_cast<std::size_t>(i)] = D2{D1{z[i], dz[i]}, D1{i == k ? 1.0 : 0.0, 0.0}};
      const std::vector<D2> m = f_(x);
      for (int i = 0; i < d; ++i) {
        for (int j = 0; j < d; ++j) {
          const D2& e = Entry(m, i, j);
          if (k == 0) (*Mdot)(i, j) = e.a.v;
          (*dMdot)[static_cast<std::size_t>(k)](i, j) = e.v.v;
        }
      }
    }
  }

  bool InDomain(const Eigen::VectorXd& z, std::string* why) const override {
    if (!MetricTensorField::InDomain(z, why)) return false;
    if constexpr (requires(const F& f, const Eigen::VectorXd& p, std::string* w) {
                    { f.InDomain(p, w) } -> std::convertible_to<bool>;
                  }) {
      return f_.InDomain(z, why);
    } else {
      return true;
    }
  }

 private:
  void Check(const Eigen::VectorXd& z) const {
    if (z.size() != dim()) {
      throw InputError("functor metric field: point of dimension " + std::to_string(z.size()) + ", expected " +
                       std::to_string(dim()));
    }
  }
  template <class T>
  const T& Entry(const std::vector<T>& m, int i, int j) const {
    const std::size_t d = static_cast<std::size_t>(dim());
    if (m.size() != d * d) {
      throw InputError("functor metric field: the functor returned " + std::to_string(m.size()) +
                       " entries, expected d x d = " + std::to_string(d * d));
    }
    return m[static_cast<std::size_t>(i) * d + static_cast<std::size_t>(j)];
  }

  F f_;
};

template <class F>
std::shared_ptr<const MetricTensorField> MakeFunctorMetricField(F f) {
  return std::make_shared<FunctorMetricField<F>>(std::move(f));
}

}  // namespace pushpull

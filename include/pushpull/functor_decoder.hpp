// Decoders written by the user as templated functors, differentiated by nested forward-mode dual numbers
// (dual.hpp): the Jacobian, f''[u, u] and the tangents the geodesic solvers need, with no hand-written derivative.
//
//   struct MyDecoder {
//     int input_dim() const { return 2; }
//     int output_dim() const { return 3; }
//     template <class T>
//     std::vector<T> operator()(const std::vector<T>& z) const {   // T: double or a (nested) ad::Dual
//       using std::exp;  // unqualified calls find the Dual overloads too
//       return {z[0], z[1], exp(-(z[0] * z[0] + z[1] * z[1]))};
//     }
//   };
//   const PullbackMetric metric(MakeFunctorDecoder(MyDecoder{}));
//
// Each derivative is one or a few passes of the functor on dual numbers (cost proportional to d passes for the
// Jacobian): meant for small, closed-form decoders; a trained network belongs in an MlpDecoder.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "pushpull/dual.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/metric.hpp"

namespace pushpull {

// Internals of FunctorDecoder.
namespace functor_detail {

using ad::Const;
using ad::Dual;
template <class T>
using Vec = std::vector<T>;
using D1 = Dual<double>;

inline Vec<double> ToStd(const Eigen::VectorXd& x) { return Vec<double>(x.data(), x.data() + x.size()); }
inline Eigen::VectorXd ToEigen(const Vec<double>& x) {
  return Eigen::Map<const Eigen::VectorXd>(x.data(), static_cast<Eigen::Index>(x.size()));
}

// J = df/dz at z (row-major D x d), one Dual<T> pass per column.
template <class T, class F>
Vec<T> JacobianT(const F& f, const Vec<T>& z) {
  const std::size_t d = z.size(), D = static_cast<std::size_t>(f.output_dim());
  Vec<T> out(D * d);
  Vec<Dual<T>> x(d);
  for (std::size_t k = 0; k < d; ++k) {
    for (std::size_t i = 0; i < d; ++i) x[i] = Dual<T>{z[i], Const<T>(i == k ? 1.0 : 0.0)};
    const Vec<Dual<T>> y = f(x);
    for (std::size_t i = 0; i < D; ++i) out[i * d + k] = y[i].v;
  }
  return out;
}

// f''[u, u]: f(z + e1 u + e2 u) (e1^2 = e2^2 = 0), coefficient of e1 e2.
template <class T, class F>
Vec<T> SecondT(const F& f, const Vec<T>& z, const Vec<T>& u) {
  using D2 = Dual<Dual<T>>;
  const std::size_t d = z.size();
  Vec<D2> x(d);
  for (std::size_t i = 0; i < d; ++i) x[i] = D2{Dual<T>{z[i], u[i]}, Dual<T>{u[i], Const<T>(0.0)}};
  const Vec<D2> y = f(x);
  Vec<T> out(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) out[i] = y[i].v.v;
  return out;
}

inline Vec<D1> MakeDuals(const Eigen::VectorXd& a, const Eigen::VectorXd& da) {
  Vec<D1> x(static_cast<std::size_t>(a.size()));
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = D1{a[static_cast<Eigen::Index>(i)], da[static_cast<Eigen::Index>(i)]};
  }
  return x;
}

inline Eigen::MatrixXd RowMajor(const Vec<double>& x, int rows, int cols) {
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(x.data(), rows,
                                                                                                     cols);
}

}  // namespace functor_detail

// A Decoder from a templated functor F: std::vector<T> -> std::vector<T>, differentiated by nested dual numbers.
// Throws InputError for arguments of the wrong dimension.
template <class F>
class FunctorDecoder : public Decoder {
 public:
  explicit FunctorDecoder(F f) : f_(std::move(f)) {}
  int input_dim() const override { return f_.input_dim(); }
  int output_dim() const override { return f_.output_dim(); }
  Eigen::VectorXd Value(const Eigen::VectorXd& z) const override {
    using namespace functor_detail;
    Check(z, "point");
    return ToEigen(f_(ToStd(z)));
  }
  Eigen::MatrixXd Jacobian(const Eigen::VectorXd& z) const override {
    using namespace functor_detail;
    Check(z, "point");
    return RowMajor(JacobianT<double>(f_, ToStd(z)), output_dim(), input_dim());
  }
  Eigen::VectorXd SecondDirectional(const Eigen::VectorXd& z, const Eigen::VectorXd& u) const override {
    using namespace functor_detail;
    Check(z, "point");
    Check(u, "direction");
    return ToEigen(SecondT<double>(f_, ToStd(z), ToStd(u)));
  }
  void Tangents(const Eigen::VectorXd& z, const Eigen::VectorXd& u, const Eigen::VectorXd& dz,
                const Eigen::VectorXd& du, Eigen::MatrixXd* J, Eigen::MatrixXd* dJ, Eigen::VectorXd* f2,
                Eigen::VectorXd* df2) const override {
    using namespace functor_detail;
    Check(z, "point");
    Check(u, "direction u");
    Check(dz, "direction dz");
    Check(du, "direction du");
    const Vec<D1> zd = MakeDuals(z, dz);
    Vec<double> a, v;
    if (J || dJ) {
      for (const D1& x : JacobianT<D1>(f_, zd)) {
        a.push_back(x.a);
        v.push_back(x.v);
      }
      if (J) *J = RowMajor(a, output_dim(), input_dim());
      if (dJ) *dJ = RowMajor(v, output_dim(), input_dim());
    }
    if (f2 || df2) {
      a.clear();
      v.clear();
      for (const D1& x : SecondT<D1>(f_, zd, MakeDuals(u, du))) {
        a.push_back(x.a);
        v.push_back(x.v);
      }
      if (f2) *f2 = ToEigen(a);
      if (df2) *df2 = ToEigen(v);
    }
  }

 private:
  void Check(const Eigen::VectorXd& x, const char* what) const {
    if (x.size() != f_.input_dim()) {
      throw InputError(std::string("functor decoder: ") + what + " of dimension " + std::to_string(x.size()) +
                       ", expected " + std::to_string(f_.input_dim()));
    }
  }
  F f_;
};

template <class F>
std::shared_ptr<const Decoder> MakeFunctorDecoder(F f) {
  return std::make_shared<FunctorDecoder<F>>(std::move(f));
}

}  // namespace pushpull

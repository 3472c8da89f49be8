// A minimal forward-mode dual number that nests to any depth (Dual<Dual<Dual<double>>>): first, second and third
// directional derivatives of small templated functors, such as the decoders of functor_decoder.hpp and the
// closed-form geometries. (ceres::Jet 2.1 does not nest beyond one level inside Eigen products and its
// transcendental functions.) Write functors with +, -, *, /, ad::Const<T>(x) for constants and the functions below
// (exp, log, log1p, sqrt, sin, cos, tanh), called unqualified so that double and Dual overloads are both found.
#pragma once

#include <cmath>
#include <type_traits>

namespace pushpull::ad {

template <class T>
struct Dual {
  using Base = T;
  T a{};  // value
  T v{};  // derivative along the infinitesimal
};

template <class T>
struct IsDual : std::false_type {};
template <class T>
struct IsDual<Dual<T>> : std::true_type {};

// The constant x as a scalar of type T.
template <class T>
T Const(double x) {
  if constexpr (IsDual<T>::value) {
    return T{Const<typename T::Base>(x), Const<typename T::Base>(0.0)};
  } else {
    return T(x);
  }
}

inline double Value(double x) { return x; }
template <class T>
double Value(const Dual<T>& x) {
  return Value(x.a);
}

template <class T>
Dual<T> operator+(const Dual<T>& x, const Dual<T>& y) {
  return {x.a + y.a, x.v + y.v};
}
template <class T>
Dual<T> operator-(const Dual<T>& x, const Dual<T>& y) {
  return {x.a - y.a, x.v - y.v};
}
template <class T>
Dual<T> operator-(const Dual<T>& x) {
  return {-x.a, -x.v};
}
template <class T>
Dual<T> operator*(const Dual<T>& x, const Dual<T>& y) {
  return {x.a * y.a, x.a * y.v + x.v * y.a};
}
template <class T>
Dual<T> operator/(const Dual<T>& x, const Dual<T>& y) {
  const T q = x.a / y.a;
  return {q, (x.v - q * y.v) / y.a};
}
template <class T>
Dual<T>& operator+=(Dual<T>& x, const Dual<T>& y) {
  x = x + y;
  return x;
}
template <class T>
bool operator<(const Dual<T>& x, const Dual<T>& y) {
  return Value(x) < Value(y);
}
template <class T>
bool operator>(const Dual<T>& x, const Dual<T>& y) {
  return Value(x) > Value(y);
}

template <class T>
Dual<T> exp(const Dual<T>& x) {
  using std::exp;
  const T e = exp(x.a);
  return {e, e * x.v};
}
template <class T>
Dual<T> log(const Dual<T>& x) {
  using std::log;
  return {log(x.a), x.v / x.a};
}
template <class T>
Dual<T> log1p(const Dual<T>& x) {
  using std::log1p;
  return {log1p(x.a), x.v / (Const<T>(1.0) + x.a)};
}
template <class T>
Dual<T> sin(const Dual<T>& x) {
  using std::cos;
  using std::sin;
  return {sin(x.a), cos(x.a) * x.v};
}
template <class T>
Dual<T> cos(const Dual<T>& x) {
  using std::cos;
  using std::sin;
  return {cos(x.a), -(sin(x.a) * x.v)};
}
template <class T>
Dual<T> sqrt(const Dual<T>& x) {
  using std::sqrt;
  const T r = sqrt(x.a);
  return {r, x.v / (Const<T>(2.0) * r)};
}
template <class T>
Dual<T> tanh(const Dual<T>& x) {
  using std::tanh;
  const T t = tanh(x.a);
  return {t, (Const<T>(1.0) - t * t) * x.v};
}

}  // namespace pushpull::ad

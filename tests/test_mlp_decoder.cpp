// MlpDecoder: its analytic derivatives against finite differences and the nested-dual reference, and the activation
// kernels against closed forms.
#define BOOST_TEST_MODULE mlp_decoder
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/functor_decoder.hpp"
#include "pushpull/functor_metric.hpp"
#include "pushpull/geodesic.hpp"
#include "pushpull/log_map.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/mlp.hpp"
#include "pushpull/options.hpp"
#include "autodiff_decoder.hpp"
#include "geodesic_test_helpers.hpp"
#include "test_support.hpp"

using namespace pushpull;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using namespace pushpull::geodesic_testing;
using pushpull::testing::MakeAutodiffReferenceDecoder;

BOOST_AUTO_TEST_CASE(mlp_decoder_derivatives) {
  const std::vector<Activation> acts = {Activation::kTanh, Activation::kSoftplus, Activation::kElu,
                                        Activation::kSilu, Activation::kSigmoid};
  const VectorXd z = V({0.3, -0.7, 0.4});
  const VectorXd u = V({0.9, 0.2, -0.5});
  const VectorXd dz = V({-0.4, 0.6, 0.1});
  const VectorXd du = V({0.3, -0.8, 0.5});
  for (std::size_t i = 0; i < acts.size(); ++i) {
    Mlp mlp = RandomMlp(3, 5, {7, 6}, TimeInput::kNone, acts[i], 11u + static_cast<unsigned>(i), 0.9);
    mlp.output_activation = i % 2 == 0 ? Activation::kSoftplus : Activation::kIdentity;
    const MlpDecoder dec(mlp);
    const auto ref = MakeAutodiffReferenceDecoder(mlp);
    BOOST_TEST_CONTEXT("activation " << ToString(acts[i]) << ", output " << ToString(mlp.output_activation)) {
      BOOST_TEST(MaxRel(dec.Value(z), ref->Value(z)) < 1e-13);
      const MatrixXd J = dec.Jacobian(z);
      const VectorXd f2 = dec.SecondDirectional(z, u);
      BOOST_TEST(MaxRel(J, FdJacobian(dec, z)) < 1e-8);
      BOOST_TEST(MaxRel(f2, FdSecond(dec, z, u)) < 1e-5);
      BOOST_TEST(MaxRel(J, ref->Jacobian(z)) < 1e-13);
      BOOST_TEST(MaxRel(f2, ref->SecondDirectional(z, u)) < 1e-12);
      // The further forward-mode pass (derivatives of J and f''[u, u] along (dz, du)) against the autodiff reference
      // (nested duals) and against finite differences of the hand-propagated derivatives.
      MatrixXd Jt, dJ, Jr, dJr;
      VectorXd f2t, df2, f2r, df2r;
      dec.Tangents(z, u, dz, du, &Jt, &dJ, &f2t, &df2);
      ref->Tangents(z, u, dz, du, &Jr, &dJr, &f2r, &df2r);
      BOOST_TEST(MaxRel(Jt, J) < 1e-14);
      BOOST_TEST(MaxRel(f2t, f2) < 1e-14);
      BOOST_TEST(MaxRel(dJ, dJr) < 1e-12);
      BOOST_TEST(MaxRel(df2, df2r) < 1e-12);
      const double h = 1e-6;
      const MatrixXd dJ_fd = (dec.Jacobian(z + h * dz) - dec.Jacobian(z - h * dz)) / (2 * h);
      const VectorXd df2_fd =
          (dec.SecondDirectional(z + h * dz, u + h * du) - dec.SecondDirectional(z - h * dz, u - h * du)) / (2 * h);
      BOOST_TEST(MaxRel(dJ, dJ_fd) < 1e-7);
      BOOST_TEST(MaxRel(df2, df2_fd) < 1e-7);
    }
  }
  Mlp timed = RandomMlp(2, 2, {4}, TimeInput::kConcat, Activation::kTanh, 3u);
  BOOST_CHECK_THROW(MlpDecoder{timed}, InputError);
}

BOOST_AUTO_TEST_CASE(mlp_decoder_every_activation_matches_autodiff_reference) {
  // Every activation as hidden and as output activation, against the nested-dual reference. The widths (11, 40, 19,
  // output 5) exercise every row blocking of the layer product (4, 2 and 1 SIMD packets and leftover rows).
  const std::vector<Activation> acts = {Activation::kTanh, Activation::kSoftplus, Activation::kElu,
                                        Activation::kSilu, Activation::kSigmoid, Activation::kIdentity};
  std::uint64_t state = 12345;
  auto uniform = [&state]() {  // deterministic, in [-1, 1)
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * 0x1.0p-52 - 1.0;
  };
  auto random_vector = [&uniform](int n, double scale) {
    VectorXd x(n);
    for (int i = 0; i < n; ++i) x[i] = scale * uniform();
    return x;
  };
  double worst_tangent = 0;
  for (std::size_t i = 0; i < acts.size(); ++i) {
    for (std::size_t o = 0; o < acts.size(); ++o) {
      Mlp mlp = RandomMlp(3, 5, {11, 40, 19}, TimeInput::kNone, acts[i], 100u + static_cast<unsigned>(7 * i + o), 0.9);
      mlp.output_activation = acts[o];
      const MlpDecoder dec(mlp);
      const auto ref = MakeAutodiffReferenceDecoder(mlp);
      BOOST_TEST_CONTEXT("hidden " << ToString(acts[i]) << ", output " << ToString(acts[o])) {
        for (int trial = 0; trial < 3; ++trial) {
          const VectorXd z = random_vector(3, 1.5), u = random_vector(3, 1.0);
          const VectorXd dz = random_vector(3, 1.0), du = random_vector(3, 1.0);
          BOOST_TEST(MaxRel(dec.Value(z), ref->Value(z)) < 1e-13);
          const MatrixXd J = dec.Jacobian(z);
          const VectorXd f2 = dec.SecondDirectional(z, u);
          BOOST_TEST(MaxRel(J, ref->Jacobian(z)) < 1e-13);
          BOOST_TEST(MaxRel(f2, ref->SecondDirectional(z, u)) < 1e-12);
          // One pass for both, as the separate calls.
          MatrixXd J2;
          VectorXd f22;
          dec.JacobianAndSecond(z, u, &J2, &f22);
          BOOST_TEST(MaxRel(J2, J) < 1e-15);
          BOOST_TEST(MaxRel(f22, f2) < 1e-14);
          // The tangent pass (third derivatives of the activations) against the nested duals.
          MatrixXd Jt, dJ, Jr, dJr;
          VectorXd f2t, df2, f2r, df2r;
          dec.Tangents(z, u, dz, du, &Jt, &dJ, &f2t, &df2);
          ref->Tangents(z, u, dz, du, &Jr, &dJr, &f2r, &df2r);
          BOOST_TEST(MaxRel(Jt, J) < 1e-15);
          BOOST_TEST(MaxRel(f2t, f2) < 1e-14);
          BOOST_TEST(MaxRel(dJ, dJr) < 1e-12);
          BOOST_TEST(MaxRel(df2, df2r) < 1e-12);
          worst_tangent = std::max({worst_tangent, MaxRel(dJ, dJr), MaxRel(df2, df2r)});
          // The jet pass (all second derivatives, third derivatives along u, u, e_k) against the default
          // GeodesicJet of the reference, which calls its nested-dual Tangents once per coordinate direction.
          MatrixXd Jj, H, T, Jjr, Hr, Tr;
          dec.GeodesicJet(z, u, &Jj, &H, &T);
          ref->GeodesicJet(z, u, &Jjr, &Hr, &Tr);
          BOOST_TEST(MaxRel(Jj, J) < 1e-15);
          BOOST_TEST(MaxRel(H, Hr) < 1e-12);
          BOOST_TEST(MaxRel(T, Tr) < 1e-12);
          // f''[u, u] = sum_ij u_i u_j H_ij, as the second-directional pass gives it.
          VectorXd f2_from_H = VectorXd::Zero(f2.size());
          for (int a = 0; a < 3; ++a) {
            for (int b = 0; b < 3; ++b) f2_from_H += u[a] * u[b] * H.col(a + 3 * b);
          }
          BOOST_TEST(MaxRel(f2_from_H, f2) < 1e-12);
          worst_tangent = std::max({worst_tangent, MaxRel(H, Hr), MaxRel(T, Tr)});
          // Null outputs are allowed.
          MatrixXd dJ_only;
          dec.Tangents(z, u, dz, du, nullptr, &dJ_only, nullptr, nullptr);
          BOOST_TEST(MaxRel(dJ_only, dJ) == 0.0);
        }
      }
    }
  }
  std::cout << "MlpDecoder tangents vs nested duals, all activation pairs: max rel error " << worst_tangent << "\n";
  // Dimension and shape errors are reported, not undefined behaviour.
  Mlp mlp = RandomMlp(3, 5, {4}, TimeInput::kNone, Activation::kTanh, 1u);
  const MlpDecoder dec(mlp);
  BOOST_CHECK_THROW(dec.Value(V({1.0, 2.0})), InputError);
  BOOST_CHECK_THROW(dec.SecondDirectional(V({1.0, 2.0, 3.0}), V({1.0})), InputError);
  Mlp broken = mlp;
  broken.layers[0].b.resize(3);
  BOOST_CHECK_THROW(MlpDecoder{broken}, InputError);
}

BOOST_AUTO_TEST_CASE(activation_derivatives_match_finite_differences) {
  // s, s', s'', s''' from the SIMD kernels: values against the standard library, each derivative against central
  // differences of the previous one (test only), NaN propagation and far-out arguments.
  const std::vector<Activation> acts = {Activation::kTanh, Activation::kSoftplus, Activation::kElu,
                                        Activation::kSilu, Activation::kSigmoid, Activation::kIdentity};
  std::vector<double> xs = {0.0, 1e-300, -1e-300, 1e-9, -1e-9, 1e-3, -1e-3, 0.3, -0.3, 0.6249, 0.6251, -0.6251,
                            1.0, -1.0, 2.5, -2.5, 7.0, -7.0, 19.0, -19.0, 30.0, -30.0, 39.0, -41.0};
  for (int k = -80; k <= 80; ++k) xs.push_back(0.1 * k + 0.0123);
  const VectorXd x = Eigen::Map<const VectorXd>(xs.data(), static_cast<Eigen::Index>(xs.size()));
  const double h = 1e-5;
  for (Activation a : acts) {
    BOOST_TEST_CONTEXT("activation " << ToString(a)) {
      const MatrixXd d = MlpDecoder::ActivationDerivatives(a, x);
      const MatrixXd dp = MlpDecoder::ActivationDerivatives(a, x.array() + h);
      const MatrixXd dm = MlpDecoder::ActivationDerivatives(a, x.array() - h);
      double worst_value = 0, worst_fd = 0;
      for (Eigen::Index i = 0; i < x.size(); ++i) {
        const double xi = x[i];
        double ref = xi;
        switch (a) {
          case Activation::kTanh: ref = std::tanh(xi); break;
          case Activation::kSigmoid: ref = 1.0 / (1.0 + std::exp(-xi)); break;
          case Activation::kSilu: ref = xi / (1.0 + std::exp(-xi)); break;
          case Activation::kSoftplus: ref = xi > 30 ? xi + std::log1p(std::exp(-xi)) : std::log1p(std::exp(xi)); break;
          case Activation::kElu: ref = xi > 0 ? xi : std::expm1(xi); break;
          case Activation::kIdentity: ref = xi; break;
        }
        worst_value = std::max(worst_value, std::abs(d(i, 0) - ref) / std::max(std::abs(ref), 1e-300));
        if (a == Activation::kElu && std::abs(xi) < 2 * h) continue;  // the kink of elu''
        for (int order = 1; order <= 3; ++order) {
          const double fd = (dp(i, order - 1) - dm(i, order - 1)) / (2 * h);
          worst_fd = std::max(worst_fd, std::abs(d(i, order) - fd) / std::max(1.0, std::abs(fd)));
        }
      }
      BOOST_TEST(worst_value < 4e-15);
      BOOST_TEST(worst_fd < 1e-8);
      std::cout << ToString(a) << ": value rel error " << worst_value << ", derivatives vs FD " << worst_fd << "\n";
      // NaN in, NaN out; far-out arguments stay finite.
      const MatrixXd n = MlpDecoder::ActivationDerivatives(a, V({std::nan(""), 800.0, -800.0, 1e300, -1e300}));
      for (int c = 0; c < 4; ++c) BOOST_TEST(std::isnan(n(0, c)));
      BOOST_TEST(n.bottomRows(4).allFinite());
    }
  }
}

namespace {
// s, s', s'', s''' of an activation in long double, from closed forms, and for each the size of its terms (the
// rounding errors of any double formula are relative to it: e.g. tanh''' = s1 (6 t^2 - 2) has a root where the two
// terms cancel).
void ActivationReference(Activation a, long double x, long double d[4], long double scale[4]) {
  const long double e = std::exp(-std::abs(x));
  const long double p = x >= 0 ? 1 / (1 + e) : e / (1 + e);  // sigmoid
  const long double q = x >= 0 ? e / (1 + e) : 1 / (1 + e);  // 1 - sigmoid
  const long double p1 = e / ((1 + e) * (1 + e));            // p' = p q
  const long double p2 = p1 * (q - p), p3 = p1 * (1 - 6 * p1);
  switch (a) {
    case Activation::kTanh: {
      const long double t = std::tanh(x), t1 = 4 * e * e / ((1 + e * e) * (1 + e * e));
      d[0] = t; d[1] = t1; d[2] = -2 * t * t1; d[3] = t1 * (6 * t * t - 2);
      scale[0] = std::abs(t); scale[1] = t1; scale[2] = 2 * std::abs(t) * t1; scale[3] = t1 * (6 * t * t + 2);
      return;
    }
    case Activation::kSigmoid:
      d[0] = p; d[1] = p1; d[2] = p2; d[3] = p3;
      scale[0] = p; scale[1] = p1; scale[2] = p1; scale[3] = p1 * (1 + 6 * p1);
      return;
    case Activation::kSoftplus:
      d[0] = std::log1p(e) + std::max(x, 0.0L); d[1] = p; d[2] = p1; d[3] = p2;
      scale[0] = d[0]; scale[1] = p; scale[2] = p1; scale[3] = p1;
      return;
    case Activation::kSilu:
      d[0] = x * p; d[1] = p + x * p1; d[2] = 2 * p1 + x * p2; d[3] = 3 * p2 + x * p3;
      scale[0] = std::abs(d[0]); scale[1] = p + std::abs(x * p1); scale[2] = 2 * p1 + std::abs(x) * p1;
      scale[3] = 3 * p1 + std::abs(x) * p1 * (1 + 6 * p1);
      return;
    case Activation::kElu:
      if (x > 0) {
        d[0] = x; d[1] = 1; d[2] = d[3] = 0;
      } else {
        d[0] = std::expm1(x); d[1] = d[2] = d[3] = std::exp(x);
      }
      for (int k = 0; k < 4; ++k) scale[k] = std::abs(d[k]);
      return;
    case Activation::kIdentity:
      d[0] = x; d[1] = 1; d[2] = d[3] = 0;
      for (int k = 0; k < 4; ++k) scale[k] = std::abs(d[k]);
      return;
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(activation_derivatives_match_long_double_references) {
  // s, s', s'', s''' from the shared SIMD kernels (the same for MlpField and MlpDecoder) against long double closed
  // forms over a wide range: [-40, 40] finely, the saturation regions out to +-800 and beyond, and tiny arguments.
  // Errors are relative to the size of each derivative's terms, with an absolute floor far below anything that
  // matters (tanh' is about 4 e^-2|x|, which underflows past |x| = 372).
  std::vector<double> xs;
  for (double x = -40; x <= 40; x += 0.0137) xs.push_back(x);
  for (double x = -800; x <= 800; x += 0.37) xs.push_back(x);
  for (double x = 1e-300; x < 2; x *= 1.7) {
    xs.push_back(x);
    xs.push_back(-x);
  }
  for (double x : {0.0, 0.3465735902799726, 0.625, 0.6931471805599453, 19.1, 354.0, 700.0, 710.0, 1e4, 1e300}) {
    xs.push_back(x);
    xs.push_back(-x);
  }
  const VectorXd x = Eigen::Map<const VectorXd>(xs.data(), static_cast<Eigen::Index>(xs.size()));
  const std::vector<Activation> acts = {Activation::kTanh, Activation::kSoftplus, Activation::kElu,
                                        Activation::kSilu, Activation::kSigmoid, Activation::kIdentity};
  for (Activation a : acts) {
    BOOST_TEST_CONTEXT("activation " << ToString(a)) {
      const MatrixXd d = MlpDecoder::ActivationDerivatives(a, x);
      double worst[4] = {0, 0, 0, 0};
      for (Eigen::Index i = 0; i < x.size(); ++i) {
        long double ref[4], scale[4];
        ActivationReference(a, x[i], ref, scale);
        for (int k = 0; k < 4; ++k) {
          const double e = static_cast<double>(std::abs(d(i, k) - ref[k]) / (scale[k] + 1e-290L));
          if (!(e <= worst[k])) worst[k] = e;  // NaN sticks
        }
      }
      for (int k = 0; k < 4; ++k) {
        BOOST_TEST(worst[k] < 2e-15, "derivative " << k << ": max relative error " << worst[k]);
      }
      std::cout << ToString(a) << ": max relative error of s, s', s'', s''' vs long double " << worst[0] << " "
                << worst[1] << " " << worst[2] << " " << worst[3] << "\n";
    }
  }
}

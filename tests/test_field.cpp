#define BOOST_TEST_MODULE field
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "cli/commands.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/field.hpp"
#include "pushpull/field_check.hpp"
#include "pushpull/functor_field.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/mlp.hpp"

using namespace pushpull;

namespace {

// max |a - b| / max(1, |b|) over the entries.
double MaxRelDiff(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  BOOST_REQUIRE_EQUAL(a.rows(), b.rows());
  BOOST_REQUIRE_EQUAL(a.cols(), b.cols());
  double m = 0;
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    for (Eigen::Index j = 0; j < a.cols(); ++j) {
      const double e = std::abs(a(i, j) - b(i, j)) / std::max(1.0, std::abs(b(i, j)));
      if (!(e <= m)) m = e;  // NaN sticks
    }
  }
  return m;
}

RowMatrixXd RandomBlock(Eigen::Index rows, Eigen::Index cols, unsigned seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  return RowMatrixXd::NullaryExpr(rows, cols, [&] { return normal(rng); });
}

// The reference: the network written out the plain way, one point at a time, for any scalar type (double or
// ceres::Jet through FunctorField).
template <class T>
T ReferenceActivation(Activation a, const T& z) {
  using std::exp;
  using std::log;
  using std::tanh;
  switch (a) {
    case Activation::kTanh: return tanh(z);
    case Activation::kSoftplus: return z > 0.0 ? z + log(1.0 + exp(-z)) : log(1.0 + exp(z));
    case Activation::kElu: return z > 0.0 ? z : exp(z) - 1.0;
    case Activation::kSilu: return z / (1.0 + exp(-z));
    case Activation::kSigmoid: return 1.0 / (1.0 + exp(-z));
    case Activation::kIdentity: return z;
  }
  return z;
}

struct ReferenceNetwork {
  Mlp mlp;

  template <class T>
  void operator()(const T* x, const T& t, T* v) const {
    using std::exp;
    std::vector<T> h(x, x + mlp.input_dim);
    if (mlp.time_input == TimeInput::kConcat) h.push_back(t);
    for (int l = 0; l < mlp.num_layers(); ++l) {
      const MlpLayer& L = mlp.layers[static_cast<std::size_t>(l)];
      const bool last = l + 1 == mlp.num_layers();
      std::vector<T> z(static_cast<std::size_t>(L.W.rows()));
      for (Eigen::Index j = 0; j < L.W.rows(); ++j) {
        T s(L.b[j]);
        for (Eigen::Index c = 0; c < L.W.cols(); ++c) s += L.W(j, c) * h[static_cast<std::size_t>(c)];
        if (mlp.time_input == TimeInput::kConcatSquash) {
          const T gate = 1.0 / (1.0 + exp(-(L.gate_W[j] * t + L.gate_b[j])));
          s = s * gate + L.hyper_W[j] * t;
        }
        z[static_cast<std::size_t>(j)] = ReferenceActivation(last ? mlp.output_activation : mlp.activation, s);
      }
      h = std::move(z);
    }
    for (int r = 0; r < mlp.output_dim; ++r) v[r] = h[static_cast<std::size_t>(r)];
  }
};

// Values, JVPs, divergence and Jacobian of `field` against the reference network, to 1e-12.
template <int kDim>
void CompareWithReference(const VectorField& field, const Mlp& mlp, const std::string& label) {
  const auto reference = MakeFunctorField<kDim>(ReferenceNetwork{mlp}, "reference " + label);
  const RowMatrixXd x = RandomBlock(17, kDim, 7);
  const RowMatrixXd dx = RandomBlock(17, 3 * kDim, 8);
  for (double t : {0.0, 0.3, 1.0, -0.7}) {
    RowMatrixXd v, vr, v2, jv, jvr, jac, jacr;
    Eigen::VectorXd div, divr;
    field.Evaluate(t, x, v);
    reference->Evaluate(t, x, vr);
    BOOST_TEST(MaxRelDiff(v, vr) < 1e-12, label << " t=" << t << ": values differ by " << MaxRelDiff(v, vr));
    field.EvaluateJvp(t, x, dx, v2, jv);
    reference->EvaluateJvp(t, x, dx, vr, jvr);
    BOOST_TEST(MaxRelDiff(v2, vr) < 1e-12, label << ": values of EvaluateJvp");
    BOOST_TEST(MaxRelDiff(jv, jvr) < 1e-12, label << " t=" << t << ": JVPs differ by " << MaxRelDiff(jv, jvr));
    field.EvaluateDivergence(t, x, v2, div);
    reference->EvaluateDivergence(t, x, vr, divr);
    BOOST_TEST(MaxRelDiff(v2, vr) < 1e-12, label << ": values of EvaluateDivergence");
    BOOST_TEST(MaxRelDiff(div, divr) < 1e-12,
               label << " t=" << t << ": divergences differ by " << MaxRelDiff(div, divr));
    field.EvaluateJacobian(t, x, v2, jac);
    reference->EvaluateJacobian(t, x, vr, jacr);
    BOOST_TEST(MaxRelDiff(v2, vr) < 1e-12, label << ": values of EvaluateJacobian");
    BOOST_TEST(MaxRelDiff(jac, jacr) < 1e-12,
               label << " t=" << t << ": Jacobians differ by " << MaxRelDiff(jac, jacr));
  }
}

const Activation kActivations[] = {Activation::kTanh, Activation::kSoftplus, Activation::kElu,
                                   Activation::kSilu, Activation::kSigmoid,  Activation::kIdentity};
const TimeInput kTimeInputs[] = {TimeInput::kNone, TimeInput::kConcat, TimeInput::kConcatSquash};
const Activation kOutputActivations[] = {Activation::kIdentity, Activation::kSoftplus, Activation::kSigmoid};

}  // namespace

BOOST_AUTO_TEST_CASE(mlp_field_matches_finite_differences_and_reference) {
  unsigned seed = 1;
  for (Activation act : kActivations) {
    for (TimeInput time : kTimeInputs) {
      for (Activation out : kOutputActivations) {
        const int d = 2 + static_cast<int>(seed % 2);
        Mlp mlp = RandomMlp(d, d, {16, 12}, time, act, seed++, 1.5);
        mlp.output_activation = out;
        std::ostringstream label;
        label << "d=" << d << " " << act << " " << time << " out=" << out;
        const auto field = MakeMlpField(mlp);
        BOOST_TEST(field->dim() == d);

        const FieldCheckResult check = CheckFieldDerivatives(*field);
        BOOST_TEST(check.passed, label.str() << "\n" << check.report);
        BOOST_TEST(check.max_jvp_error < 1e-6);
        BOOST_TEST(check.max_divergence_error < 1e-6);
        BOOST_TEST(check.max_jacobian_error < 1e-6);

        if (d == 2) {
          CompareWithReference<2>(*field, mlp, label.str());
        } else {
          CompareWithReference<3>(*field, mlp, label.str());
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(mlp_field_single_layer_and_deep) {
  // One layer (the first layer is also the last) and four hidden layers, all time inputs.
  for (TimeInput time : kTimeInputs) {
    for (const std::vector<int>& hidden : {std::vector<int>{}, std::vector<int>{8, 8, 8, 8}}) {
      Mlp mlp = RandomMlp(3, 3, hidden, time, Activation::kTanh, 11);
      mlp.output_activation = Activation::kSoftplus;
      const auto field = MakeMlpField(mlp);
      BOOST_TEST(CheckFieldDerivatives(*field).passed);
      CompareWithReference<3>(*field, mlp, std::string("layers ") + std::to_string(hidden.size() + 1));
      mlp.output_activation = Activation::kIdentity;
      CompareWithReference<3>(*MakeMlpField(mlp), mlp, "identity output");
    }
  }
}

BOOST_AUTO_TEST_CASE(mlp_field_none_is_autonomous) {
  const Mlp mlp = RandomMlp(2, 2, {8}, TimeInput::kNone, Activation::kSilu, 3);
  const auto field = MakeMlpField(mlp);
  const RowMatrixXd x = RandomBlock(5, 2, 4);
  RowMatrixXd v0, v1;
  field->Evaluate(0.0, x, v0);
  field->Evaluate(0.9, x, v1);
  BOOST_TEST(MaxRelDiff(v0, v1) == 0.0);
}

BOOST_AUTO_TEST_CASE(mlp_field_activations_are_safe_for_large_arguments) {
  // Huge weights drive the pre-activations to +-1e3: every value and derivative stays finite.
  for (Activation act : kActivations) {
    for (Activation out : kOutputActivations) {
      Mlp mlp = RandomMlp(2, 2, {6}, TimeInput::kConcatSquash, act, 5, 1e3);
      mlp.output_activation = out;
      const auto field = MakeMlpField(mlp);
      const RowMatrixXd x = RandomBlock(9, 2, 6);
      RowMatrixXd v, jac;
      Eigen::VectorXd div;
      field->EvaluateJacobian(0.5, x, v, jac);
      field->EvaluateDivergence(0.5, x, v, div);
      BOOST_TEST(v.allFinite(), ToString(act) << " " << ToString(out));
      BOOST_TEST(jac.allFinite(), ToString(act) << " " << ToString(out));
      BOOST_TEST(div.allFinite(), ToString(act) << " " << ToString(out));
    }
  }
}

namespace {
// act(z) and act'(z) in long double, the plain formulas. `scale` is the size of the terms of act'(z) (rounding
// errors are relative to it: silu' = s + z s (1 - s) has a root near z = -1.28 where any formula cancels).
void ActivationReference(Activation a, long double z, long double& h, long double& dh, long double& scale) {
  const long double e = std::exp(-std::abs(z));
  const long double s = z >= 0 ? 1 / (1 + e) : e / (1 + e);  // sigmoid
  switch (a) {
    case Activation::kTanh: h = std::tanh(z); dh = 4 * e * e / ((1 + e * e) * (1 + e * e)); break;
    case Activation::kSoftplus: h = std::log1p(e) + std::max(z, 0.0L); dh = s; break;
    case Activation::kElu: h = z > 0 ? z : std::expm1(z); dh = z > 0 ? 1 : std::exp(z); break;
    case Activation::kSilu: h = z * s; dh = s * (1 + z * (1 - s)); break;
    case Activation::kSigmoid: h = s; dh = e / ((1 + e) * (1 + e)); break;
    case Activation::kIdentity: h = z; dh = 1; break;
  }
  scale = a == Activation::kSilu ? s + std::abs(z * s * (1 - s)) : std::abs(dh);
}
}  // namespace

BOOST_AUTO_TEST_CASE(activations_are_accurate_to_a_few_ulp) {
  // v(x) = act(x) and div = act'(x) through a 1 -> 1 -> 1 network with unit weights; as hidden and as output
  // activation.
  std::vector<double> z;
  for (double s = -40; s <= 40; s += 0.0137) z.push_back(s);
  for (double s = 1e-300; s < 2; s *= 1.7) {
    z.push_back(s);
    z.push_back(-s);
  }
  for (double s : {0.0, -0.0, 0.3465735902799726, 0.625, 19.1, 354.0, 700.0, 710.0, 1e4, 1e300}) {
    z.push_back(s);
    z.push_back(-s);
  }
  RowMatrixXd x = Eigen::Map<RowMatrixXd>(z.data(), static_cast<Eigen::Index>(z.size()), 1);
  for (Activation act : kActivations) {
    for (bool as_output : {false, true}) {
      Mlp mlp;
      mlp.input_dim = mlp.output_dim = 1;
      mlp.time_input = TimeInput::kNone;
      mlp.activation = as_output ? Activation::kIdentity : act;
      mlp.output_activation = as_output ? act : Activation::kIdentity;
      for (int l = 0; l < 2; ++l) {
        MlpLayer L;
        L.W = Eigen::MatrixXd::Ones(1, 1);
        L.b = Eigen::VectorXd::Zero(1);
        mlp.layers.push_back(L);
      }
      const auto field = MakeMlpField(mlp);
      RowMatrixXd v;
      Eigen::VectorXd div;
      field->EvaluateDivergence(0.0, x, v, div);
      double worst_value = 0, worst_derivative = 0;
      for (Eigen::Index i = 0; i < x.rows(); ++i) {
        long double h = 0, dh = 0, scale = 1;
        ActivationReference(act, x(i, 0), h, dh, scale);
        // Relative to the reference, with an absolute floor far below anything that matters (tanh' stops at
        // 4 e^-708 ~ 1e-307 once tanh has saturated).
        const double ev = static_cast<double>(std::abs(v(i, 0) - h) / (std::abs(h) + 1e-290L));
        const double ed = static_cast<double>(std::abs(div(i) - dh) / (scale + 1e-290L));
        worst_value = std::max(worst_value, ev);
        worst_derivative = std::max(worst_derivative, ed);
        const bool odd_shaped = act == Activation::kTanh || act == Activation::kElu || act == Activation::kSilu;
        if (odd_shaped && v(i, 0) != 0) {
          BOOST_TEST(std::signbit(v(i, 0)) == std::signbit(x(i, 0)), ToString(act) << " sign at " << x(i, 0));
        }
      }
      BOOST_TEST(worst_value < 2e-15, ToString(act) << (as_output ? " (output)" : "") << ": max relative error "
                                                    << worst_value);
      BOOST_TEST(worst_derivative < 4e-15, ToString(act) << (as_output ? " (output)" : "")
                                                         << ": max relative error of the derivative "
                                                         << worst_derivative);
      // NaN propagates (a blown-up state must not be turned into a finite velocity).
      RowMatrixXd nan_x(3, 1);
      nan_x << std::nan(""), 1.0, -std::nan("");
      field->EvaluateDivergence(0.0, nan_x, v, div);
      BOOST_TEST(std::isnan(v(0, 0)), ToString(act));
      BOOST_TEST(std::isnan(v(2, 0)), ToString(act));
      if (act != Activation::kIdentity) BOOST_TEST(std::isnan(div(0)), ToString(act));
      BOOST_TEST(std::isfinite(v(1, 0)), ToString(act));
    }
  }
}

BOOST_AUTO_TEST_CASE(field_and_decoder_evaluate_one_network_bitwise_the_same) {
  // One network (time_input none, input_dim = output_dim) as a velocity field and as a decoder: the forward output
  // of every point of a block must be bitwise the decoder's value at that point, for every activation, for layer
  // widths that are and are not multiples of the SIMD width and for a block size that is not either. The Jacobians
  // go through the same products and activation derivatives, so they agree bitwise too.
  const RowMatrixXd x = 1.5 * RandomBlock(11, 3, 77);
  for (Activation act : kActivations) {
    for (Activation out : kOutputActivations) {
      for (const std::vector<int>& hidden : {std::vector<int>{13, 64, 9}, std::vector<int>{16, 32}}) {
        BOOST_TEST_CONTEXT(ToString(act) << " / " << ToString(out) << ", " << hidden.size() << " hidden layers") {
          Mlp mlp = RandomMlp(3, 3, hidden, TimeInput::kNone, act, 61, 1.5);
          mlp.output_activation = out;
          const auto field = MakeMlpField(mlp);
          const MlpDecoder decoder(mlp);
          RowMatrixXd v, jac;
          field->Evaluate(0.25, x, v);
          RowMatrixXd v_jac;
          field->EvaluateJacobian(0.25, x, v_jac, jac);
          int value_mismatches = 0, jacobian_mismatches = 0;
          for (Eigen::Index i = 0; i < x.rows(); ++i) {
            const Eigen::VectorXd z = x.row(i).transpose();
            Eigen::VectorXd value;
            Eigen::MatrixXd J;
            decoder.ValueAndJacobian(z, &value, &J);
            const Eigen::VectorXd value_only = decoder.Value(z);
            for (Eigen::Index r = 0; r < 3; ++r) {
              if (std::memcmp(&v(i, r), &value[r], sizeof(double)) != 0) ++value_mismatches;
              if (std::memcmp(&v(i, r), &value_only[r], sizeof(double)) != 0) ++value_mismatches;
              if (std::memcmp(&v_jac(i, r), &value[r], sizeof(double)) != 0) ++value_mismatches;
              for (Eigen::Index k = 0; k < 3; ++k) {  // jac(i, r*d + k) = dv_r/dx_k
                if (std::memcmp(&jac(i, r * 3 + k), &J(r, k), sizeof(double)) != 0) ++jacobian_mismatches;
              }
            }
          }
          BOOST_TEST(value_mismatches == 0);
          BOOST_TEST(jacobian_mismatches == 0);
          BOOST_TEST(v.allFinite());
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(batching_changes_nothing) {
  for (TimeInput time : kTimeInputs) {
    const Mlp mlp = RandomMlp(3, 3, {32, 32}, time, Activation::kTanh, 21);
    const auto field = MakeMlpField(mlp);
    const RowMatrixXd x = RandomBlock(40, 3, 22);
    const RowMatrixXd dx = RandomBlock(40, 6, 23);
    RowMatrixXd v, jv, jac, vi, jvi, jaci;
    Eigen::VectorXd div, divi;
    field->Evaluate(0.4, x, v);
    field->EvaluateJvp(0.4, x, dx, v, jv);
    field->EvaluateDivergence(0.4, x, v, div);
    field->EvaluateJacobian(0.4, x, v, jac);
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      field->Evaluate(0.4, x.row(i), vi);
      BOOST_TEST(MaxRelDiff(vi, v.row(i)) <= 1e-14);
      field->EvaluateJvp(0.4, x.row(i), dx.row(i), vi, jvi);
      BOOST_TEST(MaxRelDiff(jvi, jv.row(i)) <= 1e-14);
      field->EvaluateDivergence(0.4, x.row(i), vi, divi);
      BOOST_TEST(std::abs(divi(0) - div(i)) <= 1e-14 * std::max(1.0, std::abs(div(i))));
      field->EvaluateJacobian(0.4, x.row(i), vi, jaci);
      BOOST_TEST(MaxRelDiff(jaci, jac.row(i)) <= 1e-14);
    }
    // A strided block (the left columns of a wider matrix) gives the same values.
    RowMatrixXd wide(40, 5);
    wide.leftCols(3) = x;
    wide.rightCols(2).setConstant(99.0);
    RowMatrixXd vs;
    Eigen::VectorXd divs;
    field->EvaluateDivergence(0.4, wide.leftCols(3), vs, divs);
    BOOST_TEST(MaxRelDiff(vs, v) == 0.0);
    BOOST_TEST(MaxRelDiff(divs, div) == 0.0);
  }
}

BOOST_AUTO_TEST_CASE(outputs_may_alias_inputs) {
  // Evaluate(t, v, v) and friends, also for a single layer, where the last layer reads x while writing v.
  for (const std::vector<int>& hidden : {std::vector<int>{}, std::vector<int>{8}}) {
    const auto field = MakeMlpField(RandomMlp(2, 2, hidden, TimeInput::kConcat, Activation::kTanh, 51));
    const RowMatrixXd x = RandomBlock(6, 2, 52);
    const RowMatrixXd dx = RandomBlock(6, 2, 53);
    RowMatrixXd v, jv, jac;
    Eigen::VectorXd div;
    field->Evaluate(0.5, x, v);
    field->EvaluateJvp(0.5, x, dx, v, jv);
    field->EvaluateJacobian(0.5, x, v, jac);
    RowMatrixXd a = x;
    field->Evaluate(0.5, a, a);
    BOOST_TEST(MaxRelDiff(a, v) == 0.0);
    a = x;
    RowMatrixXd b;
    field->EvaluateDivergence(0.5, a, a, div);
    BOOST_TEST(MaxRelDiff(a, v) == 0.0);
    a = x;
    b = dx;
    field->EvaluateJvp(0.5, a, b, a, b);
    BOOST_TEST(MaxRelDiff(a, v) == 0.0);
    BOOST_TEST(MaxRelDiff(b, jv) == 0.0);
    // x inside a larger output that gets resized (reallocated) by the call.
    RowMatrixXd big(12, 2);
    big.topRows(6) = x;
    field->EvaluateJacobian(0.5, big.topRows(6), b, big);
    BOOST_TEST(MaxRelDiff(big, jac) == 0.0);
  }
}

BOOST_AUTO_TEST_CASE(mlp_field_concurrent_calls_agree) {
  const auto field = MakeMlpField(RandomMlp(2, 2, {24, 24}, TimeInput::kConcat, Activation::kTanh, 31));
  const RowMatrixXd small = RandomBlock(13, 2, 1);
  const RowMatrixXd large = RandomBlock(300, 2, 2);
  RowMatrixXd v_small, v_large;
  Eigen::VectorXd div_small, div_large;
  field->EvaluateDivergence(0.2, small, v_small, div_small);
  field->EvaluateDivergence(0.2, large, v_large, div_large);
  bool ok[2] = {true, true};
  auto work = [&](int id) {
    RowMatrixXd v;
    Eigen::VectorXd div;
    for (int rep = 0; rep < 200; ++rep) {
      const bool use_small = (rep + id) % 2 == 0;
      field->EvaluateDivergence(0.2, use_small ? small : large, v, div);
      ok[id] = ok[id] && v == (use_small ? v_small : v_large) && div == (use_small ? div_small : div_large);
    }
  };
  std::thread a(work, 0), b(work, 1);
  a.join();
  b.join();
  BOOST_TEST(ok[0]);
  BOOST_TEST(ok[1]);
}

BOOST_AUTO_TEST_CASE(mlp_field_refuses_unequal_dimensions) {
  Mlp mlp = RandomMlp(2, 3, {4}, TimeInput::kConcat, Activation::kTanh, 1);
  mlp.source = "decoder.h5:/decoder/mean";
  try {
    MakeMlpField(mlp);
    BOOST_FAIL("no InputError thrown");
  } catch (const InputError& e) {
    const std::string message = e.what();
    BOOST_TEST(message.find("decoder.h5:/decoder/mean") != std::string::npos, message);
    BOOST_TEST(message.find("input_dim is 2") != std::string::npos, message);
    BOOST_TEST(message.find("output_dim is 3") != std::string::npos, message);
  }
}

BOOST_AUTO_TEST_CASE(affine_field_is_exact) {
  auto A = [](double t) {
    Eigen::MatrixXd a(3, 3);
    a << 1, 2 * t, 0, -1, 0.5, 3, t * t, 0, -2;
    return a;
  };
  auto b = [](double t) { return Eigen::VectorXd(Eigen::Vector3d(1, -t, 2)); };
  AffineField field(3, A, b, "test affine");
  BOOST_TEST(field.dim() == 3);
  BOOST_TEST(field.description() == "test affine");
  const RowMatrixXd x = RandomBlock(6, 3, 9);
  const RowMatrixXd dx = RandomBlock(6, 6, 10);
  const double t = 0.75;
  const Eigen::MatrixXd a = A(t);
  RowMatrixXd v, jv, jac;
  Eigen::VectorXd div;
  field.Evaluate(t, x, v);
  field.EvaluateJvp(t, x, dx, v, jv);
  field.EvaluateDivergence(t, x, v, div);
  field.EvaluateJacobian(t, x, v, jac);
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const Eigen::Vector3d expected = a * x.row(i).transpose() + b(t);
    BOOST_TEST((v.row(i).transpose() - expected).norm() < 1e-14);
    for (int k = 0; k < 2; ++k) {
      const Eigen::Vector3d ejv = a * dx.row(i).segment(3 * k, 3).transpose();
      BOOST_TEST((jv.row(i).segment(3 * k, 3).transpose() - ejv).norm() < 1e-14);
    }
    BOOST_TEST(div(i) == a.trace());
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) BOOST_TEST(jac(i, 3 * r + c) == a(r, c));
    }
  }
  BOOST_TEST(CheckFieldDerivatives(field).passed);
}

namespace {

struct Swirl {
  template <class T>
  void operator()(const T* x, const T& t, T* v) const {
    using std::exp;
    using std::sin;
    v[0] = sin(x[0]) * x[1] + t;
    v[1] = x[0] * x[0] * exp(-t * x[1]);
  }
};

// A field that implements only Evaluate and EvaluateJvp (the divergence and the Jacobian come from the defaults),
// with an optional sign error in the JVP.
class SwirlByHand : public VectorField {
 public:
  explicit SwirlByHand(bool wrong_sign) : wrong_sign_(wrong_sign) {}
  int dim() const override { return 2; }
  std::string description() const override { return wrong_sign_ ? "swirl (wrong JVP)" : "swirl"; }
  void Evaluate(double t, const BlockRef& x, RowMatrixXd& v) const override {
    v.resize(x.rows(), 2);
    for (Eigen::Index i = 0; i < x.rows(); ++i) Swirl()(x.data() + i * x.outerStride(), t, &v(i, 0));
  }
  void EvaluateJvp(double t, const BlockRef& x, const BlockRef& dx, RowMatrixXd& v,
                   RowMatrixXd& jv) const override {
    Evaluate(t, x, v);
    jv.resize(dx.rows(), dx.cols());
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      const Eigen::Matrix2d J = Jacobian(x(i, 0), x(i, 1), t);
      for (Eigen::Index k = 0; k < dx.cols() / 2; ++k) {
        Eigen::Vector2d u = J * dx.row(i).segment(2 * k, 2).transpose();
        if (wrong_sign_) u(1) = -u(1);
        jv.row(i).segment(2 * k, 2) = u.transpose();
      }
    }
  }
  static Eigen::Matrix2d Jacobian(double x0, double x1, double t) {
    Eigen::Matrix2d J;
    J << std::cos(x0) * x1, std::sin(x0), 2 * x0 * std::exp(-t * x1), -t * x0 * x0 * std::exp(-t * x1);
    return J;
  }

 private:
  bool wrong_sign_;
};

// An affine field whose JVP has a sign error (its divergence and Jacobian are right).
class WrongJvpAffine : public AffineField {
 public:
  WrongJvpAffine()
      : AffineField(
            2, [](double t) { return Eigen::MatrixXd(Eigen::Matrix2d{{1.0, 2.0}, {-0.5, t}}); },
            [](double) { return Eigen::VectorXd(Eigen::Vector2d(0.1, 0.2)); }, "wrong affine") {}
  void EvaluateJvp(double t, const BlockRef& x, const BlockRef& dx, RowMatrixXd& v,
                   RowMatrixXd& jv) const override {
    AffineField::EvaluateJvp(t, x, dx, v, jv);
    jv = -jv;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(functor_field_matches_hand_derived_jacobian) {
  const auto field = MakeFunctorField<2>(Swirl{}, "swirl");
  BOOST_TEST(field->dim() == 2);
  BOOST_TEST(field->description() == "swirl");
  const RowMatrixXd x = RandomBlock(7, 2, 12);
  const RowMatrixXd dx = RandomBlock(7, 4, 13);
  for (double t : {0.0, 0.6}) {
    RowMatrixXd v, jv, jac;
    Eigen::VectorXd div;
    field->Evaluate(t, x, v);
    field->EvaluateJvp(t, x, dx, v, jv);
    field->EvaluateDivergence(t, x, v, div);
    field->EvaluateJacobian(t, x, v, jac);
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      const Eigen::Matrix2d J = SwirlByHand::Jacobian(x(i, 0), x(i, 1), t);
      BOOST_TEST(std::abs(v(i, 0) - (std::sin(x(i, 0)) * x(i, 1) + t)) < 1e-15);
      BOOST_TEST(std::abs(div(i) - J.trace()) < 1e-14);
      for (int r = 0; r < 2; ++r) {
        for (int c = 0; c < 2; ++c) BOOST_TEST(std::abs(jac(i, 2 * r + c) - J(r, c)) < 1e-14);
      }
      for (int k = 0; k < 2; ++k) {
        const Eigen::Vector2d e = J * dx.row(i).segment(2 * k, 2).transpose();
        BOOST_TEST((jv.row(i).segment(2 * k, 2).transpose() - e).norm() < 1e-14);
      }
    }
  }
  BOOST_TEST(CheckFieldDerivatives(*field).passed);
}

BOOST_AUTO_TEST_CASE(default_divergence_and_jacobian_go_through_the_jvp) {
  const SwirlByHand right(false);
  const auto reference = MakeFunctorField<2>(Swirl{}, "swirl");
  const RowMatrixXd x = RandomBlock(9, 2, 14);
  RowMatrixXd v, vr, jac, jacr;
  Eigen::VectorXd div, divr;
  right.EvaluateDivergence(0.3, x, v, div);
  reference->EvaluateDivergence(0.3, x, vr, divr);
  BOOST_TEST(MaxRelDiff(div, divr) < 1e-14);
  BOOST_TEST(MaxRelDiff(v, vr) < 1e-15);
  right.EvaluateJacobian(0.3, x, v, jac);
  reference->EvaluateJacobian(0.3, x, vr, jacr);
  BOOST_TEST(MaxRelDiff(jac, jacr) < 1e-14);
  BOOST_TEST(CheckFieldDerivatives(right).passed);
}

BOOST_AUTO_TEST_CASE(checker_catches_wrong_derivatives) {
  const WrongJvpAffine wrong_affine;
  FieldCheckResult r = CheckFieldDerivatives(wrong_affine);
  BOOST_TEST(!r.passed);
  BOOST_TEST(r.max_jvp_error > 0.1);
  BOOST_TEST(r.max_divergence_error < 1e-6);
  BOOST_TEST(r.max_jacobian_error < 1e-6);
  BOOST_TEST(r.report.find("FAIL") != std::string::npos, r.report);

  // With the defaults, the sign error reaches the divergence and the Jacobian too.
  const SwirlByHand wrong(true);
  r = CheckFieldDerivatives(wrong);
  BOOST_TEST(!r.passed);
  BOOST_TEST(r.max_jvp_error > 1e-3);
  BOOST_TEST(r.max_divergence_error > 1e-3);
  BOOST_TEST(r.max_jacobian_error > 1e-3);
}

BOOST_AUTO_TEST_CASE(check_field_command) {
  const std::string file = "field_check_model.h5";
  std::filesystem::remove(file);
  Mlp mlp = RandomMlp(2, 2, {16, 16}, TimeInput::kConcatSquash, Activation::kSoftplus, 41);
  mlp.base_time = 0.0;
  WriteMlp(file, "/velocity", mlp);
  Mlp decoder = RandomMlp(2, 5, {8}, TimeInput::kNone, Activation::kTanh, 42);
  WriteMlp(file, "/decoder/mean", decoder);

  auto run = [](std::vector<std::string> args, std::string* out_text = nullptr, std::string* err_text = nullptr) {
    std::ostringstream out, err;
    const int code = cli::Main(args, out, err);
    if (out_text) *out_text = out.str();
    if (err_text) *err_text = err.str();
    return code;
  };
  std::string out, err;
  BOOST_TEST(run({"pushpull", "check-field", "-model", file}, &out, &err) == 0);
  BOOST_TEST(out.find("PASS") != std::string::npos, out);
  BOOST_TEST(run({"pushpull", "check-field", "-model", file, "-check_points", "3", "-seed", "5"}) == 0);
  // A tolerance finite differences cannot meet: the check runs and fails (exit 1).
  BOOST_TEST(run({"pushpull", "check-field", "-model", file, "-check_tol", "1e-30"}, &out) == 1);
  BOOST_TEST(out.find("FAIL") != std::string::npos, out);
  // Bad input: exit 2.
  BOOST_TEST(run({"pushpull", "check-field"}, nullptr, &err) == 2);
  BOOST_TEST(err.find("-model") != std::string::npos, err);
  BOOST_TEST(run({"pushpull", "check-field", "-model", file, "-model_group", "/decoder/mean"}, nullptr, &err) == 2);
  BOOST_TEST(err.find("output_dim") != std::string::npos, err);
  BOOST_TEST(run({"pushpull", "check-field", "-model", "missing.h5"}, nullptr, &err) == 2);
  BOOST_TEST(err.find("missing.h5") != std::string::npos, err);
  BOOST_TEST(run({"pushpull", "check-field", "-model", file, "-check_points", "0"}) == 2);
  BOOST_TEST(run({"pushpull", "check-field", "-model", file, "-check_step", "-1"}) == 2);
  BOOST_TEST(run({"pushpull", "check-field", "-help"}, &out) == 0);
  BOOST_TEST(out.find("-check_tol") != std::string::npos, out);
  std::filesystem::remove(file);
}

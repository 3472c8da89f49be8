#include "autodiff_decoder.hpp"

#include <cmath>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "pushpull/dual.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/functor_decoder.hpp"

namespace pushpull::testing {
namespace {

using ad::Const;
template <class T>
using Vec = std::vector<T>;

// The plain forward pass of an MLP (values only), written independently of MlpDecoder's tangent propagation.
template <class T>
T ActivationValue(Activation a, const T& x) {
  using std::exp;
  using std::log1p;
  using std::tanh;
  const T one = Const<T>(1.0);
  switch (a) {
    case Activation::kTanh: return tanh(x);
    case Activation::kSigmoid: return one / (one + exp(-x));
    case Activation::kSilu: return x / (one + exp(-x));
    case Activation::kSoftplus: return x > Const<T>(30.0) ? x : log1p(exp(x));
    case Activation::kElu: return x > Const<T>(0.0) ? x : exp(x) - one;
    case Activation::kIdentity: return x;
  }
  return x;
}

struct MlpForward {
  Mlp mlp;
  int input_dim() const { return mlp.input_dim; }
  int output_dim() const { return mlp.output_dim; }
  template <class T>
  Vec<T> operator()(const Vec<T>& z) const {
    Vec<T> h = z;
    const int L = mlp.num_layers();
    for (int k = 0; k < L; ++k) {
      const MlpLayer& layer = mlp.layers[static_cast<std::size_t>(k)];
      const Activation act = k + 1 == L ? mlp.output_activation : mlp.activation;
      Vec<T> a(static_cast<std::size_t>(layer.W.rows()));
      for (Eigen::Index i = 0; i < layer.W.rows(); ++i) {
        T s = Const<T>(layer.b[i]);
        for (Eigen::Index j = 0; j < layer.W.cols(); ++j) s += Const<T>(layer.W(i, j)) * h[static_cast<std::size_t>(j)];
        a[static_cast<std::size_t>(i)] = ActivationValue(act, s);
      }
      h = std::move(a);
    }
    return h;
  }
};

}  // namespace

std::shared_ptr<const Decoder> MakeAutodiffReferenceDecoder(const Mlp& mlp) {
  if (mlp.time_input != TimeInput::kNone) throw InputError(mlp.source + ": a decoder needs time_input none");
  return std::make_shared<FunctorDecoder<MlpForward>>(MlpForward{mlp});
}

}  // namespace pushpull::testing

// Decoders f: R^d -> R^D of a latent space, with the derivatives the pullback metric and its geodesics need
// (metric.hpp): the Decoder interface, the MLP decoder of a model file, the stacked (mean, std) decoder of a
// stochastic model, and ReadDecoder. Decoders written as templated functors: functor_decoder.hpp; closed-form
// decoders for validation: closed_form_geometries.hpp.
#pragma once

#include <algorithm>
#include <memory>
#include <string>

#include <Eigen/Core>

#include "pushpull/mlp.hpp"

namespace pushpull {

// "(z_0, z_1, ...)" for messages.
std::string FormatPoint(const Eigen::VectorXd& z);

// A smooth map f: R^d -> R^D with first and second derivatives.
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual int input_dim() const = 0;
  virtual int output_dim() const = 0;
  virtual Eigen::VectorXd Value(const Eigen::VectorXd& z) const = 0;
  // J = df/dz (D x d).
  virtual Eigen::MatrixXd Jacobian(const Eigen::VectorXd& z) const = 0;
  // f(z) and J(z) at once. The default calls Value and Jacobian; decoders that get both from one pass override it.
  virtual void ValueAndJacobian(const Eigen::VectorXd& z, Eigen::VectorXd* value, Eigen::MatrixXd* J) const;
  // f''[u, u] = d^2/ds^2 f(z + s u) at s = 0 (D).
  virtual Eigen::VectorXd SecondDirectional(const Eigen::VectorXd& z, const Eigen::VectorXd& u) const = 0;
  // J(z) and f''(z)[u, u] at once (what the geodesic acceleration needs). The default calls Jacobian and
  // SecondDirectional; decoders that get both from one pass override it.
  virtual void JacobianAndSecond(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::MatrixXd* J,
                                 Eigen::VectorXd* f2) const;
  // J(z) and f''(z)[u, u] together with their exact derivatives d/ds at s = 0 along z + s dz, u + s du
  // (dJ: D x d, df2: D). Used for the Jacobian of the geodesic system.
  virtual void Tangents(const Eigen::VectorXd& z, const Eigen::VectorXd& u, const Eigen::VectorXd& dz,
                        const Eigen::VectorXd& du, Eigen::MatrixXd* J, Eigen::MatrixXd* dJ, Eigen::VectorXd* f2,
                        Eigen::VectorXd* df2) const = 0;
  // What the Jacobian of the geodesic flow needs, for all directions at once: J (D x d), the second derivatives
  // H (D x d^2, column i + d j = f''[e_i, e_j]) and T (D x d, column k = f'''[u, u, e_k]). The default calls
  // Tangents once per coordinate direction; decoders that get everything from one pass override it.
  virtual void GeodesicJet(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::MatrixXd* J,
                           Eigen::MatrixXd* H, Eigen::MatrixXd* T) const;
  // Whether z lies in the domain of f; when not, *why (if not null) names the point and the reason.
  virtual bool InDomain(const Eigen::VectorXd& z, std::string* why) const;
  // How many derivatives of f are continuous (kSmooth: all). The geodesic equation needs f'' (its Christoffel
  // symbols), so below 2 its right-hand side jumps where a derivative does (-bvp_type auto then prefers discrete
  // geodesics, which need only f and J). The default: kSmooth.
  static constexpr int kSmooth = 1 << 20;
  virtual int smoothness() const { return kSmooth; }
};

// A decoder read from a model file ("pushpull-mlp", time_input none). Derivatives are analytic forward-over-forward
// passes through the layers (a' = W h', a'' = W h''; h' = s'(a) a', h'' = s''(a) a'^2 + s'(a) a''), including the
// output activation, in plain doubles (src/models/mlp_decoder.cpp): one matrix product per layer pushes the value and all
// derivative columns at once; Tangents differentiates that pass once more along (dz, du) with the activations' third
// derivatives. Thread safe (scratch memory is thread_local). Throws InputError for a network with a time input or
// with layer shapes that do not chain, and for arguments of the wrong dimension.
class MlpDecoder : public Decoder {
 public:
  explicit MlpDecoder(Mlp mlp);
  int input_dim() const override { return mlp_.input_dim; }
  int output_dim() const override { return mlp_.output_dim; }
  int smoothness() const override;  // the least smooth activation's (elu: 1, its second derivative jumps at 0)
  Eigen::VectorXd Value(const Eigen::VectorXd& z) const override;
  Eigen::MatrixXd Jacobian(const Eigen::VectorXd& z) const override;
  void ValueAndJacobian(const Eigen::VectorXd& z, Eigen::VectorXd* value, Eigen::MatrixXd* J) const override;
  Eigen::VectorXd SecondDirectional(const Eigen::VectorXd& z, const Eigen::VectorXd& u) const override;
  void JacobianAndSecond(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::MatrixXd* J,
                         Eigen::VectorXd* f2) const override;
  void Tangents(const Eigen::VectorXd& z, const Eigen::VectorXd& u, const Eigen::VectorXd& dz,
                const Eigen::VectorXd& du, Eigen::MatrixXd* J, Eigen::MatrixXd* dJ, Eigen::VectorXd* f2,
                Eigen::VectorXd* df2) const override;
  // One pass carrying [h | J | the d(d+1)/2 distinct f''[e_i, e_j] | f'''[u, u, e_k]] through every layer.
  void GeodesicJet(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::MatrixXd* J, Eigen::MatrixXd* H,
                   Eigen::MatrixXd* T) const override;
  const Mlp& mlp() const { return mlp_; }
  // Columns s, s', s'', s''' of activation `a` at each x[i], from the same SIMD kernels as the passes (for tests).
  static Eigen::MatrixXd ActivationDerivatives(Activation a, const Eigen::VectorXd& x);

 private:
  Mlp mlp_;
};

// The stacked map F = (mean, std): R^d -> R^{D_mean + D_std}. Its pullback is the expected metric of the stochastic
// decoder x = mu(z) + sigma(z) eps (docs/math.md section 3). Both decoders are shared, not copied.
class StackedDecoder : public Decoder {
 public:
  StackedDecoder(std::shared_ptr<const Decoder> mean, std::shared_ptr<const Decoder> std_dev);
  int input_dim() const override { return mean_->input_dim(); }
  int output_dim() const override { return mean_->output_dim() + std_->output_dim(); }
  Eigen::VectorXd Value(const Eigen::VectorXd& z) const override;
  Eigen::MatrixXd Jacobian(const Eigen::VectorXd& z) const override;
  void ValueAndJacobian(const Eigen::VectorXd& z, Eigen::VectorXd* value, Eigen::MatrixXd* J) const override;
  Eigen::VectorXd SecondDirectional(const Eigen::VectorXd& z, const Eigen::VectorXd& u) const override;
  void JacobianAndSecond(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::MatrixXd* J,
                         Eigen::VectorXd* f2) const override;
  void Tangents(const Eigen::VectorXd& z, const Eigen::VectorXd& u, const Eigen::VectorXd& dz,
                const Eigen::VectorXd& du, Eigen::MatrixXd* J, Eigen::MatrixXd* dJ, Eigen::VectorXd* f2,
                Eigen::VectorXd* df2) const override;
  void GeodesicJet(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::MatrixXd* J, Eigen::MatrixXd* H,
                   Eigen::MatrixXd* T) const override;
  bool InDomain(const Eigen::VectorXd& z, std::string* why) const override;
  int smoothness() const override { return std::min(mean_->smoothness(), std_->smoothness()); }

 private:
  std::shared_ptr<const Decoder> mean_;
  std::shared_ptr<const Decoder> std_;
};

// Reads the decoder of a model file (docs/model-format.md): /decoder/mean as an MlpDecoder or, when `stochastic`,
// the StackedDecoder of /decoder/mean and /decoder/std (same dimensions), whose pullback is the expected metric.
// Throws InputError naming the file, the group and the problem.
std::shared_ptr<const Decoder> ReadDecoder(const std::string& file, bool stochastic);

}  // namespace pushpull

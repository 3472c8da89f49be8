// MlpField: a "pushpull-mlp" network as a velocity field, with forward-mode derivatives propagated analytically.
//
// Layout. A block of N points is an N x width row-major matrix, which is the column-major width x N matrix of its
// transpose, so a dense layer is one product of the shared kernel (src/models/mlp_kernel.hpp, also MlpDecoder's)
//   Z^T = W H^T + b 1^T
// and the same network evaluates to the same bits as a field and as a decoder. The K tangents of every point are
// stacked tangent-major into a (K N) x width row-major matrix, row k*N + i holding tangent k of point i, so that one
// product pushes all N K tangents through a layer and the activation derivative (an N x width block) multiplies each
// of the K row blocks as one contiguous elementwise product.
//
// Time. concat: the time column of W0 enters the bias, b + t W0[:, d]. concatsquash: the gate g = sigmoid(gate_W t
// + gate_b) is folded into the layer, W_eff = diag(g) W and b_eff = g .* b + hyper_W t, so the tangent is scaled by the
// gate and the hyper term (constant in x) has no tangent.
//
// Derivatives. Identity directions (divergence, Jacobian) skip the first tangent product: the first layer's tangent
// for e_k is column k of W0 on every row. The divergence needs only the diagonal of the last layer: tangent k of
// output k, one matrix-vector product per k instead of a full product.
//
// Scratch memory is thread_local and grows to the largest block seen, so a steady ODE loop does not allocate.
#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "pushpull/errors.hpp"
#include "pushpull/field.hpp"
#include "pushpull/mlp.hpp"
#include "mlp_kernel.hpp"

namespace pushpull {
namespace {

using Index = Eigen::Index;
using RowMap = Eigen::Map<RowMatrixXd>;
using ConstRowMap = Eigen::Map<const RowMatrixXd, 0, Eigen::OuterStride<>>;
using ColMap = Eigen::Map<Eigen::MatrixXd>;
using VecMap = Eigen::Map<Eigen::VectorXd>;

// Per-thread scratch: buffers that only grow.
struct Workspace {
  std::vector<double> h[2], t[2], d, tmp, w, b, g, x;

  static double* Get(std::vector<double>& buffer, Index n) {
    if (static_cast<Index>(buffer.size()) < n) buffer.resize(static_cast<std::size_t>(n));
    return buffer.data();
  }
};

Workspace& ThreadWorkspace() {
  thread_local Workspace workspace;
  return workspace;
}

enum class Mode {
  kValue,       // v only
  kJvp,         // v and K given tangents
  kJacobian,    // v and the d unit tangents, arranged as the Jacobian
  kDivergence,  // v and the trace of the Jacobian
};

class MlpField final : public VectorField {
 public:
  explicit MlpField(const Mlp& mlp) : mlp_(mlp), d_(mlp.input_dim) {
    if (mlp.time_input == TimeInput::kConcat) {
      const MlpLayer& first = mlp_.layers.front();
      w0_x_ = first.W.leftCols(d_);
      w0_t_ = first.W.col(d_);
    }
    std::ostringstream s;
    s << "MLP velocity field " << (mlp.source.empty() ? std::string("(in memory)") : mlp.source) << " ("
      << mlp.layers.front().W.cols();
    for (const auto& L : mlp.layers) {
      s << "->" << L.W.rows();
      max_width_ = std::max<Index>(max_width_, L.W.rows());
    }
    max_width_ = std::max<Index>(max_width_, d_);
    s << ", " << ToString(mlp.activation) << ", time_input " << ToString(mlp.time_input);
    if (mlp.output_activation != Activation::kIdentity) s << ", output " << ToString(mlp.output_activation);
    s << ")";
    description_ = s.str();
  }

  int dim() const override { return d_; }
  std::string description() const override { return description_; }

  void Evaluate(double t, const BlockRef& x, RowMatrixXd& v) const override {
    Run(Mode::kValue, t, x, nullptr, v, nullptr, nullptr);
  }
  void EvaluateJvp(double t, const BlockRef& x, const BlockRef& dx, RowMatrixXd& v,
                   RowMatrixXd& jv) const override {
    Run(Mode::kJvp, t, x, &dx, v, &jv, nullptr);
  }
  void EvaluateDivergence(double t, const BlockRef& x, RowMatrixXd& v, Eigen::VectorXd& div) const override {
    Run(Mode::kDivergence, t, x, nullptr, v, nullptr, &div);
  }
  void EvaluateJacobian(double t, const BlockRef& x, RowMatrixXd& v, RowMatrixXd& jac) const override {
    Run(Mode::kJacobian, t, x, nullptr, v, &jac, nullptr);
  }

 private:
  void Run(Mode mode, double t, const BlockRef& x, const BlockRef* dx, RowMatrixXd& v, RowMatrixXd* jv,
           Eigen::VectorXd* div) const;

  Mlp mlp_;
  int d_;
  Eigen::MatrixXd w0_x_;  // concat: the x columns of W0
  Eigen::VectorXd w0_t_;  // concat: the time column of W0
  Index max_width_ = 0;
  std::string description_;
};

void MlpField::Run(Mode mode, double t, const BlockRef& x, const BlockRef* dx, RowMatrixXd& v, RowMatrixXd* jv,
                   Eigen::VectorXd* div) const {
  const Index n = x.rows();
  const Index d = d_;
  if (x.cols() != d) {
    throw std::invalid_argument(description_ + ": the block has " + std::to_string(x.cols()) +
                                " columns, the field dimension is " + std::to_string(d));
  }
  Index num_tangents = 0;
  if (mode == Mode::kJvp) {
    if (dx->rows() != n || dx->cols() % d != 0) {
      throw std::invalid_argument(description_ + ": the tangent block is " + std::to_string(dx->rows()) + " x " +
                                  std::to_string(dx->cols()) + ", expected N x (K d) with N = " +
                                  std::to_string(n) + ", d = " + std::to_string(d));
    }
    num_tangents = dx->cols() / d;
  } else if (mode == Mode::kJacobian || mode == Mode::kDivergence) {
    num_tangents = d;
  }
  const Index K = num_tangents;
  const bool tangents = mode != Mode::kValue;
  Workspace& ws = ThreadWorkspace();

  // Inputs that live in an output (`Evaluate(t, v, v)`) are copied first: the outputs are resized and written below.
  const double* in = x.data();
  Index in_stride = x.outerStride();
  auto overlaps = [](const BlockRef& a, const RowMatrixXd& b) {
    return a.size() > 0 && b.size() > 0 && a.data() < b.data() + b.size() &&
           b.data() < a.data() + (a.rows() - 1) * a.outerStride() + a.cols();
  };
  if (overlaps(x, v) || (jv && overlaps(x, *jv))) {
    RowMap copy(Workspace::Get(ws.x, n * d), n, d);
    copy = x;
    in = copy.data();
    in_stride = d;
  }
  RowMatrixXd dx_copy;
  std::optional<BlockRef> dx_copy_ref;
  if (mode == Mode::kJvp && (overlaps(*dx, v) || overlaps(*dx, *jv))) {
    dx_copy = *dx;
    dx = &dx_copy_ref.emplace(dx_copy);
  }

  v.resize(n, d);
  if (mode == Mode::kJvp) jv->resize(n, K * d);
  if (mode == Mode::kJacobian) jv->resize(n, d * d);
  if (mode == Mode::kDivergence) div->setZero(n);
  if (n == 0) return;

  const Index width = max_width_;
  double* hbuf[2] = {Workspace::Get(ws.h[0], n * width), Workspace::Get(ws.h[1], n * width)};
  double* tbuf[2] = {nullptr, nullptr};
  double* dbuf = nullptr;
  if (tangents) {
    tbuf[0] = Workspace::Get(ws.t[0], K * n * width);
    tbuf[1] = Workspace::Get(ws.t[1], K * n * width);
    dbuf = Workspace::Get(ws.d, n * width);
  }
  double* wbuf = Workspace::Get(ws.w, width * width);
  double* bbuf = Workspace::Get(ws.b, width);
  double* gbuf = Workspace::Get(ws.g, width);

  // The current layer input: x (or its copy), then a scratch buffer.
  Index in_width = d;
  int hcur = 0, tcur = 0;

  const int num_layers = mlp_.num_layers();
  for (int l = 0; l < num_layers; ++l) {
    const MlpLayer& layer = mlp_.layers[static_cast<std::size_t>(l)];
    const bool last = l == num_layers - 1;
    const Index out = layer.W.rows();
    const Activation act = last ? mlp_.output_activation : mlp_.activation;

    // Effective weights and bias of this layer at time t.
    const double* w = layer.W.data();
    const double* b = layer.b.data();
    if (mlp_.time_input == TimeInput::kConcat && l == 0) {
      VecMap beff(bbuf, out);
      beff = layer.b + t * w0_t_;
      w = w0_x_.data();
      b = bbuf;
    } else if (mlp_.time_input == TimeInput::kConcatSquash) {
      VecMap g(gbuf, out), beff(bbuf, out);
      g = layer.gate_W * t + layer.gate_b;
      mlp_kernel::Activate(Activation::kSigmoid, gbuf, nullptr, out);
      beff = g.cwiseProduct(layer.b) + t * layer.hyper_W;
      ColMap weff(wbuf, out, in_width);
      weff.noalias() = g.asDiagonal() * layer.W;
      w = wbuf;
      b = bbuf;
    }
    const Eigen::Map<const Eigen::MatrixXd> W(w, out, in_width);

    // Values: Z = H W^T + b (Z^T = W H^T + b with the row-major blocks seen as column-major), then the activation
    // in place.
    double* zdata = last ? v.data() : hbuf[hcur];
    mlp_kernel::LayerProduct(w, out, in_width, in, in_stride, n, zdata, out, b, n);
    const bool scale = tangents && act != Activation::kIdentity;
    if (act != Activation::kIdentity) mlp_kernel::Activate(act, zdata, scale ? dbuf : nullptr, n * out);
    const RowMap D(dbuf, n, scale ? out : 0);

    if (tangents) {
      const ConstRowMap Tin(tbuf[tcur], K * n, in_width, Eigen::OuterStride<>(in_width));
      if (last && mode == Mode::kDivergence) {
        // Only the diagonal: the tangent of output k along e_k.
        VecMap tmp(Workspace::Get(ws.tmp, n), n);
        for (Index k = 0; k < d; ++k) {
          if (l == 0) {
            tmp.setConstant(W(k, k));
          } else {
            tmp.noalias() = Tin.middleRows(k * n, n) * W.row(k).transpose();
          }
          if (scale) {
            div->array() += tmp.array() * D.col(k).array();
          } else {
            *div += tmp;
          }
        }
      } else {
        RowMap Tout(tbuf[1 - tcur], K * n, out);
        if (l > 0) {
          mlp_kernel::LayerProduct(w, out, in_width, tbuf[tcur], in_width, K * n, Tout.data(), out);
          if (scale) {
            for (Index k = 0; k < K; ++k) Tout.middleRows(k * n, n).array() *= D.array();
          }
        } else if (mode == Mode::kJvp) {
          for (Index k = 0; k < K; ++k) {
            mlp_kernel::LayerProduct(w, out, d, dx->data() + k * d, dx->outerStride(), n, Tout.data() + k * n * out,
                                     out);
            if (scale) Tout.middleRows(k * n, n).array() *= D.array();
          }
        } else {
          // Unit directions: the tangent of Z along e_k is column k of W on every row.
          for (Index k = 0; k < K; ++k) {
            if (scale) {
              Tout.middleRows(k * n, n).array() = D.array().rowwise() * W.col(k).transpose().array();
            } else {
              Tout.middleRows(k * n, n).rowwise() = W.col(k).transpose();
            }
          }
        }
        if (last) {
          if (mode == Mode::kJvp) {
            for (Index k = 0; k < K; ++k) jv->middleCols(k * d, d) = Tout.middleRows(k * n, n);
          } else {
            // Tout(k*n + i, r) = dv_r/dx_k at point i  ->  jac(i, r*d + k).
            for (Index k = 0; k < d; ++k) {
              for (Index r = 0; r < d; ++r) jv->col(r * d + k) = Tout.col(r).segment(k * n, n);
            }
          }
        }
        tcur = 1 - tcur;
      }
    }

    in = zdata;
    in_stride = out;
    in_width = out;
    hcur = 1 - hcur;
  }
}

}  // namespace

std::unique_ptr<VectorField> MakeMlpField(const Mlp& mlp) {
  const std::string where = mlp.source.empty() ? std::string("network (in memory)") : "network '" + mlp.source + "'";
  if (mlp.input_dim != mlp.output_dim) {
    throw InputError(where + " cannot be a velocity field: input_dim is " + std::to_string(mlp.input_dim) +
                     " but output_dim is " + std::to_string(mlp.output_dim) + " (they must be equal)");
  }
  if (mlp.input_dim < 1) throw InputError(where + ": input_dim must be >= 1");
  if (mlp.layers.empty()) throw InputError(where + ": the network has no layers");
  Index fan_in = mlp.input_dim + (mlp.time_input == TimeInput::kConcat ? 1 : 0);
  for (int k = 0; k < mlp.num_layers(); ++k) {
    const MlpLayer& L = mlp.layers[static_cast<std::size_t>(k)];
    const std::string ks = std::to_string(k);
    const Index fan_out = L.W.rows();
    if (L.W.cols() != fan_in || fan_out < 1) {
      throw InputError(where + ": W" + ks + " is " + std::to_string(L.W.rows()) + " x " +
                       std::to_string(L.W.cols()) + ", expected " + std::to_string(fan_in) + " columns");
    }
    if (L.b.size() != fan_out) {
      throw InputError(where + ": b" + ks + " has " + std::to_string(L.b.size()) + " entries, expected " +
                       std::to_string(fan_out));
    }
    if (mlp.time_input == TimeInput::kConcatSquash &&
        (L.gate_W.size() != fan_out || L.gate_b.size() != fan_out || L.hyper_W.size() != fan_out)) {
      throw InputError(where + ": layer " + ks + " needs gate_W, gate_b and hyper_W of " +
                       std::to_string(fan_out) + " entries for time_input concatsquash");
    }
    fan_in = fan_out;
  }
  if (fan_in != mlp.output_dim) {
    throw InputError(where + ": the last layer has " + std::to_string(fan_in) + " outputs, output_dim is " +
                     std::to_string(mlp.output_dim));
  }
  return std::make_unique<MlpField>(mlp);
}

}  // namespace pushpull

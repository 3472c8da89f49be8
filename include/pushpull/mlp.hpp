// A multilayer perceptron read from a model file in the "pushpull-mlp" schema, version 1 (docs/model-format.md).
//
// The network is plain data; evaluating it with derivatives is the job of MlpField (field.hpp) and MlpDecoder
// (decoder.hpp). Both run the same activation and layer kernels (src/models/mlp_kernel.hpp), so a network with
// time_input none and input_dim = output_dim gives bitwise the same values as a field and as a decoder.
#pragma once

#include <cmath>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace pushpull {

enum class Activation { kTanh, kSoftplus, kElu, kSilu, kSigmoid, kIdentity };
enum class TimeInput { kNone, kConcat, kConcatSquash };

const char* ToString(Activation a);
const char* ToString(TimeInput t);
std::ostream& operator<<(std::ostream& os, Activation a);
std::ostream& operator<<(std::ostream& os, TimeInput t);
// Throw InputError naming `where` for an unknown name.
Activation ParseActivation(const std::string& name, const std::string& where);
TimeInput ParseTimeInput(const std::string& name, const std::string& where);

struct MlpLayer {
  Eigen::MatrixXd W;        // out x in (PyTorch nn.Linear layout)
  Eigen::VectorXd b;        // out
  // concatsquash only: (W x + b) * sigmoid(gate_W t + gate_b) + hyper_W t
  Eigen::VectorXd gate_W;   // out
  Eigen::VectorXd gate_b;   // out
  Eigen::VectorXd hyper_W;  // out
};

struct Mlp {
  int input_dim = 0;
  int output_dim = 0;
  TimeInput time_input = TimeInput::kNone;
  Activation activation = Activation::kTanh;
  Activation output_activation = Activation::kIdentity;
  std::vector<MlpLayer> layers;
  double base_time = std::nan("");  // velocity fields only: 0 or 1
  std::string source;               // "file.h5:/group", for messages

  int num_layers() const { return static_cast<int>(layers.size()); }
};

// Reads and checks one network. Every problem (missing file or group, unknown format or version, missing layer,
// shape mismatch, unknown activation, non-finite weight, missing base_time when `require_base_time`) throws
// InputError naming the file, the group and the problem.
Mlp ReadMlp(const std::string& file, const std::string& group, bool require_base_time = false);

// Writes a network in the same schema (tests, examples and the exporters' reference). Creates or opens `file`.
void WriteMlp(const std::string& file, const std::string& group, const Mlp& mlp);

// Builds a network with random weights (scaled by `weight_scale`) for tests, benchmarks and examples.
Mlp RandomMlp(int input_dim, int output_dim, const std::vector<int>& hidden, TimeInput time_input,
              Activation activation, unsigned seed, double weight_scale = 1.0);

}  // namespace pushpull

// A model file as the Python module holds it (pushpull.load_model).
#pragma once

#include <memory>
#include <mutex>
#include <string>

namespace pushpull {
class VectorField;
class Decoder;
}  // namespace pushpull

namespace pushpull::python {

// The velocity field and the decoder of a model file; either may be absent (its *_error says why it could not be
// read, and using it raises ValueError with that reason).
struct Model {
  std::string path;
  std::string velocity_group = "/velocity";
  std::shared_ptr<const VectorField> field;  // null: no usable velocity field
  double base_time = 0;
  std::string mlp_source;                    // "file.h5:/velocity", for messages
  std::string velocity_error;
  std::shared_ptr<const Decoder> decoder;    // /decoder/mean; null: none
  std::string decoder_error;

  // The stacked (mean, std) decoder of metric="stochastic", read on first use (InputError when /decoder/std is
  // missing or does not match).
  std::shared_ptr<const Decoder> Stochastic() const;

 private:
  mutable std::mutex mutex_;
  mutable std::shared_ptr<const Decoder> stochastic_;
};

// pushpull.load_model(path, velocity_group). Throws InputError when neither part can be read.
std::shared_ptr<Model> LoadModel(const std::string& path, const std::string& velocity_group);

}  // namespace pushpull::python

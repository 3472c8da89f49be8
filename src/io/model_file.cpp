#include <hdf5.h>

#include <filesystem>
#include <ostream>
#include <random>

#include "hdf5_handles.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/mlp.hpp"

namespace pushpull {

using h5::Handle;

const char* ToString(Activation a) {
  switch (a) {
    case Activation::kTanh: return "tanh";
    case Activation::kSoftplus: return "softplus";
    case Activation::kElu: return "elu";
    case Activation::kSilu: return "silu";
    case Activation::kSigmoid: return "sigmoid";
    case Activation::kIdentity: return "identity";
  }
  return "?";
}

const char* ToString(TimeInput t) {
  switch (t) {
    case TimeInput::kNone: return "none";
    case TimeInput::kConcat: return "concat";
    case TimeInput::kConcatSquash: return "concatsquash";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, Activation a) { return os << ToString(a); }
std::ostream& operator<<(std::ostream& os, TimeInput t) { return os << ToString(t); }

Activation ParseActivation(const std::string& name, const std::string& where) {
  for (Activation a : {Activation::kTanh, Activation::kSoftplus, Activation::kElu, Activation::kSilu,
                       Activation::kSigmoid, Activation::kIdentity}) {
    if (name == ToString(a)) return a;
  }
  throw InputError(where + ": unknown activation '" + name +
                   "'; valid: tanh, softplus, elu, silu, sigmoid, identity");
}

TimeInput ParseTimeInput(const std::string& name, const std::string& where) {
  for (TimeInput t : {TimeInput::kNone, TimeInput::kConcat, TimeInput::kConcatSquash}) {
    if (name == ToString(t)) return t;
  }
  throw InputError(where + ": unknown time_input '" + name + "'; valid: none, concat, concatsquash");
}

namespace {

// Reads a float dataset of the expected shape (rank 1 or 2) into a column-major Eigen matrix.
Eigen::MatrixXd ReadWeights(hid_t group, const std::string& name, Eigen::Index rows, Eigen::Index cols, int rank,
                            const std::string& where) {
  if (H5Lexists(group, name.c_str(), H5P_DEFAULT) <= 0) throw InputError(where + ": missing dataset '" + name + "'");
  Handle d(H5Dopen2(group, name.c_str(), H5P_DEFAULT));
  if (!d) throw InputError(where + ": '" + name + "' is not a dataset");
  Handle type(H5Dget_type(d.get()));
  if (H5Tget_class(type.get()) != H5T_FLOAT) {
    throw InputError(where + ": dataset '" + name + "' must hold float64 or float32 values");
  }
  Handle space(H5Dget_space(d.get()));
  const int r = H5Sget_simple_extent_ndims(space.get());
  hsize_t dims[2] = {0, 0};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  const std::string expected = rank == 1 ? "(" + std::to_string(rows) + ")"
                                         : "(" + std::to_string(rows) + " x " + std::to_string(cols) + ")";
  // A column vector stored as out x 1 (gate_W, hyper_W) is accepted as rank 1 data.
  bool ok = false;
  if (rank == 1) {
    ok = (r == 1 && static_cast<Eigen::Index>(dims[0]) == rows) ||
         (r == 2 && static_cast<Eigen::Index>(dims[0]) == rows && dims[1] == 1);
  } else {
    ok = r == 2 && static_cast<Eigen::Index>(dims[0]) == rows && static_cast<Eigen::Index>(dims[1]) == cols;
  }
  if (!ok) {
    std::string found = "(";
    for (int i = 0; i < r; ++i) found += (i ? " x " : "") + std::to_string(dims[i]);
    throw InputError(where + ": dataset '" + name + "' has shape " + found + ")" + ", expected " + expected);
  }
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> m(rows, rank == 1 ? 1 : cols);
  if (H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.data()) < 0) {
    throw InputError(where + ": dataset '" + name + "' cannot be read");
  }
  for (Eigen::Index i = 0; i < m.size(); ++i) {
    if (!std::isfinite(m.data()[i])) {
      throw InputError(where + ": dataset '" + name + "' holds a non-finite value at flat index " +
                       std::to_string(i));
    }
  }
  return m;
}

}  // namespace

Mlp ReadMlp(const std::string& file, const std::string& group, bool require_base_time) {
  h5::SilenceLibraryErrors();
  const std::string where = "model file '" + file + "', group '" + group + "'";
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) throw InputError("model file '" + file + "' does not exist");
  if (H5Fis_hdf5(file.c_str()) <= 0) throw InputError("model file '" + file + "' is not an HDF5 file");
  Handle f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!f) throw InputError("model file '" + file + "' cannot be opened");
  if (!h5::PathExists(f.get(), group)) throw InputError(where + ": no such group");
  Handle g(H5Gopen2(f.get(), group.c_str(), H5P_DEFAULT));
  if (!g) throw InputError(where + ": is not a group");

  const std::string format = h5::ReadStringAttribute(g.get(), "format", where);
  if (format != "pushpull-mlp") {
    throw InputError(where + ": attribute format is '" + format + "', expected 'pushpull-mlp'");
  }
  const long long version = h5::ReadIntAttribute(g.get(), "version", where);
  if (version != 1) {
    throw InputError(where + ": schema version " + std::to_string(version) + " is not supported (this build reads 1)");
  }
  Mlp mlp;
  mlp.source = file + ":" + group;
  const long long in = h5::ReadIntAttribute(g.get(), "input_dim", where);
  const long long out = h5::ReadIntAttribute(g.get(), "output_dim", where);
  const long long layers = h5::ReadIntAttribute(g.get(), "num_layers", where);
  if (in < 1 || out < 1) throw InputError(where + ": input_dim and output_dim must be >= 1");
  if (layers < 1) throw InputError(where + ": num_layers must be >= 1, found " + std::to_string(layers));
  mlp.input_dim = static_cast<int>(in);
  mlp.output_dim = static_cast<int>(out);
  mlp.time_input = ParseTimeInput(h5::ReadStringAttribute(g.get(), "time_input", where), where);
  mlp.activation = ParseActivation(h5::ReadStringAttribute(g.get(), "activation", where), where);
  mlp.output_activation = h5::HasAttribute(g.get(), "output_activation")
                              ? ParseActivation(h5::ReadStringAttribute(g.get(), "output_activation", where), where)
                              : Activation::kIdentity;
  if (h5::HasAttribute(g.get(), "base_time")) {
    mlp.base_time = h5::ReadRealAttribute(g.get(), "base_time", where);
    if (mlp.base_time != 0.0 && mlp.base_time != 1.0) {
      throw InputError(where + ": base_time must be 0 or 1, found " + std::to_string(mlp.base_time));
    }
  } else if (require_base_time) {
    throw InputError(where + ": missing attribute 'base_time' (0 or 1: the time at which the standard normal "
                             "base density lives)");
  }

  Eigen::Index fan_in = mlp.input_dim + (mlp.time_input == TimeInput::kConcat ? 1 : 0);
  for (long long k = 0; k < layers; ++k) {
    const std::string ks = std::to_string(k);
    // The output width of a layer is read off W{k}; only the last must equal output_dim.
    if (H5Lexists(g.get(), ("W" + ks).c_str(), H5P_DEFAULT) <= 0) {
      throw InputError(where + ": missing dataset 'W" + ks + "' (num_layers = " + std::to_string(layers) + ")");
    }
    Handle wd(H5Dopen2(g.get(), ("W" + ks).c_str(), H5P_DEFAULT));
    Handle ws(H5Dget_space(wd.get()));
    hsize_t dims[2] = {0, 0};
    if (H5Sget_simple_extent_ndims(ws.get()) != 2) throw InputError(where + ": dataset 'W" + ks + "' must be 2-D");
    H5Sget_simple_extent_dims(ws.get(), dims, nullptr);
    const Eigen::Index fan_out = static_cast<Eigen::Index>(dims[0]);
    if (k == layers - 1 && fan_out != mlp.output_dim) {
      throw InputError(where + ": last layer W" + ks + " has " + std::to_string(fan_out) +
                       " outputs, but output_dim is " + std::to_string(mlp.output_dim));
    }
    if (static_cast<Eigen::Index>(dims[1]) != fan_in) {
      throw InputError(where + ": dataset 'W" + ks + "' has " + std::to_string(dims[1]) + " columns, expected " +
                       std::to_string(fan_in) + (k == 0 && mlp.time_input == TimeInput::kConcat
                                                     ? " (input_dim + 1 for time_input concat)"
                                                     : " (the outputs of the previous layer)"));
    }
    MlpLayer layer;
    layer.W = ReadWeights(g.get(), "W" + ks, fan_out, fan_in, 2, where);
    layer.b = ReadWeights(g.get(), "b" + ks, fan_out, 1, 1, where);
    if (mlp.time_input == TimeInput::kConcatSquash) {
      layer.gate_W = ReadWeights(g.get(), "gate_W" + ks, fan_out, 1, 1, where);
      layer.gate_b = ReadWeights(g.get(), "gate_b" + ks, fan_out, 1, 1, where);
      layer.hyper_W = ReadWeights(g.get(), "hyper_W" + ks, fan_out, 1, 1, where);
    }
    mlp.layers.push_back(std::move(layer));
    fan_in = fan_out;
  }
  return mlp;
}

namespace {
void WriteDataset(hid_t group, const std::string& name, const Eigen::MatrixXd& m, bool as_vector) {
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> r = m;
  hsize_t dims[2] = {static_cast<hsize_t>(m.rows()), static_cast<hsize_t>(m.cols())};
  Handle space(H5Screate_simple(as_vector ? 1 : 2, dims, nullptr));
  if (H5Lexists(group, name.c_str(), H5P_DEFAULT) > 0) H5Ldelete(group, name.c_str(), H5P_DEFAULT);
  Handle d(H5Dcreate2(group, name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, r.data());
}
void WriteStringAttr(hid_t obj, const char* name, const std::string& value) {
  Handle type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), value.size() + 1);
  Handle space(H5Screate(H5S_SCALAR));
  if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
  Handle a(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  H5Awrite(a.get(), type.get(), value.c_str());
}
void WriteIntAttr(hid_t obj, const char* name, long long value) {
  Handle space(H5Screate(H5S_SCALAR));
  if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
  Handle a(H5Acreate2(obj, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  H5Awrite(a.get(), H5T_NATIVE_LLONG, &value);
}
}  // namespace

void WriteMlp(const std::string& file, const std::string& group, const Mlp& mlp) {
  h5::SilenceLibraryErrors();
  std::error_code ec;
  Handle f(std::filesystem::exists(file, ec) ? H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
                                             : H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  if (!f) throw IoError("cannot open '" + file + "' for writing");
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  if (h5::PathExists(f.get(), group)) H5Ldelete(f.get(), group.c_str(), H5P_DEFAULT);
  Handle g(H5Gcreate2(f.get(), group.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!g) throw IoError("cannot create group '" + group + "' in '" + file + "'");
  WriteStringAttr(g.get(), "format", "pushpull-mlp");
  WriteIntAttr(g.get(), "version", 1);
  WriteIntAttr(g.get(), "input_dim", mlp.input_dim);
  WriteIntAttr(g.get(), "output_dim", mlp.output_dim);
  WriteIntAttr(g.get(), "num_layers", mlp.num_layers());
  WriteStringAttr(g.get(), "time_input", ToString(mlp.time_input));
  WriteStringAttr(g.get(), "activation", ToString(mlp.activation));
  WriteStringAttr(g.get(), "output_activation", ToString(mlp.output_activation));
  if (!std::isnan(mlp.base_time)) WriteIntAttr(g.get(), "base_time", static_cast<long long>(mlp.base_time));
  for (int k = 0; k < mlp.num_layers(); ++k) {
    const auto& L = mlp.layers[static_cast<std::size_t>(k)];
    const std::string ks = std::to_string(k);
    WriteDataset(g.get(), "W" + ks, L.W, false);
    WriteDataset(g.get(), "b" + ks, L.b, true);
    if (mlp.time_input == TimeInput::kConcatSquash) {
      WriteDataset(g.get(), "gate_W" + ks, L.gate_W, false);  // out x 1, as PyTorch's Linear(1, out) stores it
      WriteDataset(g.get(), "gate_b" + ks, L.gate_b, true);
      WriteDataset(g.get(), "hyper_W" + ks, L.hyper_W, false);
    }
  }
}

Mlp RandomMlp(int input_dim, int output_dim, const std::vector<int>& hidden, TimeInput time_input,
              Activation activation, unsigned seed, double weight_scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Mlp mlp;
  mlp.input_dim = input_dim;
  mlp.output_dim = output_dim;
  mlp.time_input = time_input;
  mlp.activation = activation;
  std::vector<int> widths{input_dim + (time_input == TimeInput::kConcat ? 1 : 0)};
  widths.insert(widths.end(), hidden.begin(), hidden.end());
  widths.push_back(output_dim);
  for (std::size_t k = 0; k + 1 < widths.size(); ++k) {
    MlpLayer L;
    const double scale = weight_scale / std::sqrt(static_cast<double>(widths[k]));
    L.W = Eigen::MatrixXd::NullaryExpr(widths[k + 1], widths[k], [&] { return scale * normal(rng); });
    L.b = Eigen::VectorXd::NullaryExpr(widths[k + 1], [&] { return 0.1 * normal(rng); });
    if (time_input == TimeInput::kConcatSquash) {
      L.gate_W = Eigen::VectorXd::NullaryExpr(widths[k + 1], [&] { return normal(rng); });
      L.gate_b = Eigen::VectorXd::NullaryExpr(widths[k + 1], [&] { return normal(rng); });
      L.hyper_W = Eigen::VectorXd::NullaryExpr(widths[k + 1], [&] { return 0.1 * normal(rng); });
    }
    mlp.layers.push_back(std::move(L));
  }
  return mlp;
}

}  // namespace pushpull

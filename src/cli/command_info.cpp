// `pushpull info FILE.h5`: what a file holds. For model files, each network's layers, activations and attributes;
// for output files, their provenance; for any file, its datasets and shapes.
#include <hdf5.h>

#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "io/hdf5_handles.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/mlp.hpp"

namespace pushpull::cli {
namespace {

struct Visit {
  std::vector<std::string> mlp_groups;
  std::vector<std::string> datasets;
};

herr_t Visitor(hid_t object, const char* name, const H5O_info_t* info, void* data) {
  auto* v = static_cast<Visit*>(data);
  const std::string path = std::string("/") + name;
  if (info->type == H5O_TYPE_GROUP && std::string(name) != ".") {
    h5::Handle g(H5Gopen2(object, name, H5P_DEFAULT));
    if (h5::HasAttribute(g.get(), "format")) v->mlp_groups.push_back(path);
  } else if (info->type == H5O_TYPE_DATASET) {
    v->datasets.push_back(path);
  }
  return 0;
}

class InfoJob : public Job {
 public:
  InfoJob(std::string file, std::ostream& out) : file_(std::move(file)), out_(out) {}

  int Run() override {
    h5::SilenceLibraryErrors();
    std::error_code ec;
    if (!std::filesystem::exists(file_, ec)) throw InputError("file '" + file_ + "' does not exist");
    if (H5Fis_hdf5(file_.c_str()) <= 0) throw InputError("file '" + file_ + "' is not an HDF5 file");
    h5::Handle f(H5Fopen(file_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    if (!f) throw InputError("file '" + file_ + "' cannot be opened");
    out_ << "file: " << file_ << "\n";
    Visit visit;
    H5Ovisit2(f.get(), H5_INDEX_NAME, H5_ITER_INC, Visitor, &visit, H5O_INFO_BASIC);

    const auto root_attributes = h5::AttributeNames(f.get());
    if (!root_attributes.empty()) {
      const bool is_output = h5::HasAttribute(f.get(), "pushpull_version");
      out_ << (is_output ? "provenance (written by pushpull):\n" : "root attributes:\n");
      for (const auto& a : root_attributes) {
        std::string text = h5::AttributeAsText(f.get(), a);
        if (text.find('\n') != std::string::npos) {
          out_ << "  " << a << ":\n";
          std::string line;
          std::istringstream in(text);
          while (std::getline(in, line)) out_ << "    " << line << "\n";
        } else {
          out_ << "  " << a << ": " << text << "\n";
        }
      }
    }
    for (const auto& group : visit.mlp_groups) {
      out_ << "network " << group << ":\n";
      try {
        const Mlp mlp = ReadMlp(file_, group);
        out_ << "  format pushpull-mlp v1, input_dim " << mlp.input_dim << ", output_dim " << mlp.output_dim
             << ", time_input " << ToString(mlp.time_input) << "\n";
        out_ << "  activation " << ToString(mlp.activation) << ", output_activation "
             << ToString(mlp.output_activation);
        if (!std::isnan(mlp.base_time)) out_ << ", base_time " << mlp.base_time;
        out_ << "\n  layers:";
        for (const auto& L : mlp.layers) out_ << " " << L.W.cols() << "->" << L.W.rows();
        std::size_t parameters = 0;
        for (const auto& L : mlp.layers) {
          parameters += static_cast<std::size_t>(L.W.size() + L.b.size() + L.gate_W.size() + L.gate_b.size() +
                                                 L.hyper_W.size());
        }
        out_ << "  (" << parameters << " parameters)\n";
      } catch (const InputError& e) {
        out_ << "  INVALID: " << e.what() << "\n";
        invalid_ = true;
      }
    }
    if (!visit.datasets.empty()) {
      out_ << "datasets:\n";
      for (const auto& path : visit.datasets) {
        h5::Handle d(H5Dopen2(f.get(), path.c_str(), H5P_DEFAULT));
        h5::Handle space(H5Dget_space(d.get()));
        const int rank = H5Sget_simple_extent_ndims(space.get());
        std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
        H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
        out_ << "  " << path << " (";
        for (std::size_t i = 0; i < dims.size(); ++i) out_ << (i ? " x " : "") << dims[i];
        out_ << ")";
        for (const auto& a : h5::AttributeNames(d.get())) {
          const std::string text = h5::AttributeAsText(d.get(), a);
          if (text.size() < 80) out_ << "  " << a << "=" << text;
        }
        out_ << "\n";
      }
    }
    return invalid_ ? kExitBadInput : kExitSuccess;
  }

 private:
  std::string file_;
  std::ostream& out_;
  bool invalid_ = false;
};

}  // namespace

Command InfoCommand() {
  return {"info", "show what an HDF5 file holds: networks of a model file, provenance of an output file",
          "pushpull info FILE.h5", [](Context& ctx) -> std::unique_ptr<Job> {
            if (ctx.positional.size() > 1) {
              throw InputError("info takes one file, got " + std::to_string(ctx.positional.size()));
            }
            // Declared nothing of its own; an empty positional list is reported when run (but -help still works).
            std::string file = ctx.positional.empty() ? std::string() : ctx.positional.front();
            struct NeedsFile : Job {
              int Run() override { throw InputError("info needs a file: pushpull info FILE.h5"); }
            };
            if (file.empty()) return std::make_unique<NeedsFile>();
            return std::make_unique<InfoJob>(file, ctx.out);
          }};
}

}  // namespace pushpull::cli

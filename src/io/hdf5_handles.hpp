// RAII ownership of HDF5 identifiers and small helpers shared by io.cpp and model_file.cpp (not installed).
#pragma once

#include <hdf5.h>

#include <string>
#include <utility>
#include <vector>

namespace pushpull::h5 {

// Owns one HDF5 identifier and closes it with the matching H5*close.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, -1)) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      Reset();
      id_ = std::exchange(o.id_, -1);
    }
    return *this;
  }
  ~Handle() { Reset(); }
  void Reset() {
    if (id_ >= 0) {
      switch (H5Iget_type(id_)) {
        case H5I_FILE: H5Fclose(id_); break;
        case H5I_GROUP: H5Gclose(id_); break;
        case H5I_DATASET: H5Dclose(id_); break;
        case H5I_DATASPACE: H5Sclose(id_); break;
        case H5I_DATATYPE: H5Tclose(id_); break;
        case H5I_ATTR: H5Aclose(id_); break;
        case H5I_GENPROP_LST: H5Pclose(id_); break;
        default: break;
      }
    }
    id_ = -1;
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  explicit operator bool() const { return valid(); }

 private:
  hid_t id_ = -1;
};

// Turns off HDF5's own error printing (we report errors ourselves). Idempotent, thread-safe.
void SilenceLibraryErrors();

// True if `path` names a link in `file` (every intermediate group checked).
bool PathExists(hid_t file, const std::string& path);

bool HasAttribute(hid_t object, const std::string& name);
// Throw InputError(where + ...) when the attribute is missing or of the wrong class.
std::string ReadStringAttribute(hid_t object, const std::string& name, const std::string& where);
long long ReadIntAttribute(hid_t object, const std::string& name, const std::string& where);
double ReadRealAttribute(hid_t object, const std::string& name, const std::string& where);
// Names of the attributes of an object, in creation order where tracked.
std::vector<std::string> AttributeNames(hid_t object);
// Text form of any scalar or small attribute (for `pushpull info`).
std::string AttributeAsText(hid_t object, const std::string& name);

}  // namespace pushpull::h5

#include "pushpull/io.hpp"

#include <H5Epublic.h>
#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>

#include "hdf5_handles.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/provenance.hpp"

namespace pushpull {
namespace h5 {

void SilenceLibraryErrors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

bool PathExists(hid_t file, const std::string& path) {
  if (path.empty() || path == "/") return true;
  std::string partial;
  std::stringstream ss(path);
  std::string piece;
  while (std::getline(ss, piece, '/')) {
    if (piece.empty()) continue;
    partial += "/" + piece;
    if (H5Lexists(file, partial.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

bool HasAttribute(hid_t object, const std::string& name) { return H5Aexists(object, name.c_str()) > 0; }

std::string ReadStringAttribute(hid_t object, const std::string& name, const std::string& where) {
  if (!HasAttribute(object, name)) throw InputError(where + ": missing attribute '" + name + "'");
  Handle attr(H5Aopen(object, name.c_str(), H5P_DEFAULT));
  Handle type(H5Aget_type(attr.get()));
  if (H5Tget_class(type.get()) != H5T_STRING) {
    throw InputError(where + ": attribute '" + name + "' is not a string");
  }
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle memtype(H5Tcopy(H5T_C_S1));
    H5Tset_size(memtype.get(), H5T_VARIABLE);
    H5Tset_cset(memtype.get(), H5Tget_cset(type.get()));
    char* value = nullptr;
    if (H5Aread(attr.get(), memtype.get(), &value) < 0) {
      throw InputError(where + ": attribute '" + name + "' cannot be read");
    }
    std::string out = value ? value : "";
    Handle space(H5Aget_space(attr.get()));
    H5Dvlen_reclaim(memtype.get(), space.get(), H5P_DEFAULT, &value);
    return out;
  }
  const std::size_t size = H5Tget_size(type.get());
  std::string out(size, '\0');
  Handle memtype(H5Tcopy(H5T_C_S1));
  H5Tset_size(memtype.get(), size);
  if (H5Aread(attr.get(), memtype.get(), out.data()) < 0) {
    throw InputError(where + ": attribute '" + name + "' cannot be read");
  }
  const auto nul = out.find('\0');
  if (nul != std::string::npos) out.resize(nul);
  return out;
}

long long ReadIntAttribute(hid_t object, const std::string& name, const std::string& where) {
  if (!HasAttribute(object, name)) throw InputError(where + ": missing attribute '" + name + "'");
  Handle attr(H5Aopen(object, name.c_str(), H5P_DEFAULT));
  Handle type(H5Aget_type(attr.get()));
  Handle space(H5Aget_space(attr.get()));
  if (H5Sget_simple_extent_npoints(space.get()) != 1) {
    throw InputError(where + ": attribute '" + name + "' must be a scalar");
  }
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls == H5T_INTEGER) {
    long long v = 0;
    H5Aread(attr.get(), H5T_NATIVE_LLONG, &v);
    return v;
  }
  if (cls == H5T_FLOAT) {
    double v = 0;
    H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &v);
    if (v != std::floor(v) || !std::isfinite(v)) {
      throw InputError(where + ": attribute '" + name + "' must be an integer, found " + std::to_string(v));
    }
    return static_cast<long long>(v);
  }
  throw InputError(where + ": attribute '" + name + "' must be an integer");
}

double ReadRealAttribute(hid_t object, const std::string& name, const std::string& where) {
  if (!HasAttribute(object, name)) throw InputError(where + ": missing attribute '" + name + "'");
  Handle attr(H5Aopen(object, name.c_str(), H5P_DEFAULT));
  Handle type(H5Aget_type(attr.get()));
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) throw InputError(where + ": attribute '" + name + "' must be a number");
  double v = 0;
  H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &v);
  return v;
}

std::vector<std::string> AttributeNames(hid_t object) {
  std::vector<std::string> names;
  H5O_info_t info;
  if (H5Oget_info2(object, &info, H5O_INFO_NUM_ATTRS) < 0) return names;
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    const ssize_t n = H5Aget_name_by_idx(object, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0) continue;
    std::string name(static_cast<std::size_t>(n) + 1, '\0');
    H5Aget_name_by_idx(object, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(n));
    names.push_back(name);
  }
  return names;
}

std::string AttributeAsText(hid_t object, const std::string& name) {
  Handle attr(H5Aopen(object, name.c_str(), H5P_DEFAULT));
  if (!attr) return "?";
  Handle type(H5Aget_type(attr.get()));
  Handle space(H5Aget_space(attr.get()));
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  switch (H5Tget_class(type.get())) {
    case H5T_STRING: return ReadStringAttribute(object, name, "");
    case H5T_INTEGER: {
      std::vector<long long> v(static_cast<std::size_t>(n));
      H5Aread(attr.get(), H5T_NATIVE_LLONG, v.data());
      std::string s;
      for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
      return s;
    }
    case H5T_FLOAT: {
      std::vector<double> v(static_cast<std::size_t>(n));
      H5Aread(attr.get(), H5T_NATIVE_DOUBLE, v.data());
      std::ostringstream s;
      s.precision(17);
      for (std::size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
      return s.str();
    }
    default: return "(unsupported attribute type)";
  }
}

}  // namespace h5

using h5::Handle;

namespace {

std::string DescribeShape(const std::vector<std::size_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? " x " : "") + std::to_string(shape[i]);
  return s + ")";
}

Handle OpenForReading(const std::string& file) {
  h5::SilenceLibraryErrors();
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) throw InputError("file '" + file + "' does not exist");
  if (H5Fis_hdf5(file.c_str()) <= 0) throw InputError("file '" + file + "' is not an HDF5 file");
  Handle f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!f) throw InputError("file '" + file + "' cannot be opened for reading");
  return f;
}

hid_t NativeType(ElementType t) {
  switch (t) {
    case ElementType::kFloat64: return H5T_NATIVE_DOUBLE;
    case ElementType::kInt64: return H5T_NATIVE_INT64;
    case ElementType::kInt32: return H5T_NATIVE_INT32;
    case ElementType::kUInt8: return H5T_NATIVE_UINT8;
    case ElementType::kString: return -1;
  }
  return H5T_NATIVE_DOUBLE;
}

std::size_t ElementSize(ElementType t) {
  switch (t) {
    case ElementType::kFloat64: return 8;
    case ElementType::kInt64: return 8;
    case ElementType::kInt32: return 4;
    case ElementType::kUInt8: return 1;
    case ElementType::kString: return sizeof(char*);
  }
  return 8;
}

// Chunked creation properties for a dataset of `dims`, deflate-compressed when `compress`.
Handle ChunkedDeflate(const std::vector<hsize_t>& dims, std::size_t element_size, bool compress) {
  Handle plist(H5Pcreate(H5P_DATASET_CREATE));
  std::vector<hsize_t> chunk(dims);
  // Aim at ~256 KiB chunks: keep trailing dimensions whole, cut the leading one.
  std::size_t row_bytes = element_size;
  for (std::size_t i = 1; i < dims.size(); ++i) row_bytes *= std::max<hsize_t>(dims[i], 1);
  const hsize_t rows = std::max<hsize_t>(1, (256 * 1024) / std::max<std::size_t>(row_bytes, 1));
  for (auto& c : chunk) c = std::max<hsize_t>(c, 1);
  if (!chunk.empty()) chunk[0] = std::min(chunk[0], rows);
  H5Pset_chunk(plist.get(), static_cast<int>(chunk.size()), chunk.data());
  if (compress) {
    H5Pset_shuffle(plist.get());
    H5Pset_deflate(plist.get(), 4);
  }
  return plist;
}

}  // namespace

DatasetName DatasetName::Parse(std::string_view spec, std::string_view option) {
  const std::string where = option.empty() ? std::string() : "option -" + std::string(option) + ": ";
  const auto colon = spec.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= spec.size()) {
    throw InputError(where + "'" + std::string(spec) + "' does not name a dataset; write FILE.h5:/path");
  }
  DatasetName name;
  name.file = std::string(spec.substr(0, colon));
  name.path = std::string(spec.substr(colon + 1));
  if (name.path.front() != '/') name.path = "/" + name.path;
  return name;
}

RowMatrixXd Array::ToMatrix() const {
  if (shape.size() != 2) throw std::logic_error("Array::ToMatrix on an array of rank " + std::to_string(shape.size()));
  RowMatrixXd m(static_cast<Eigen::Index>(shape[0]), static_cast<Eigen::Index>(shape[1]));
  std::copy(data.begin(), data.end(), m.data());
  return m;
}

Array ReadArray(const DatasetName& name, const ArraySpec& spec) {
  const std::string where = "dataset '" + name.path + "' in file '" + name.file + "'" +
                            (spec.what.empty() ? std::string() : " (" + spec.what + ")");
  Handle file = OpenForReading(name.file);
  if (!h5::PathExists(file.get(), name.path)) {
    throw InputError("file '" + name.file + "' has no dataset '" + name.path + "'");
  }
  H5O_info_t info;
  H5Oget_info_by_name2(file.get(), name.path.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT);
  if (info.type != H5O_TYPE_DATASET) throw InputError(where + ": is a group, not a dataset");
  Handle dataset(H5Dopen2(file.get(), name.path.c_str(), H5P_DEFAULT));
  if (!dataset) throw InputError(where + ": cannot be opened");
  Handle type(H5Dget_type(dataset.get()));
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
    throw InputError(where + ": holds non-numeric data (expected float64 or float32)");
  }
  Handle space(H5Dget_space(dataset.get()));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  Array out;
  for (hsize_t d : dims) out.shape.push_back(static_cast<std::size_t>(d));
  if (std::find(spec.ranks.begin(), spec.ranks.end(), rank) == spec.ranks.end()) {
    std::string allowed;
    for (std::size_t i = 0; i < spec.ranks.size(); ++i) allowed += (i ? " or " : "") + std::to_string(spec.ranks[i]);
    throw InputError(where + ": has rank " + std::to_string(rank) + " " + DescribeShape(out.shape) +
                     ", expected rank " + allowed);
  }
  if (spec.shape.size() == static_cast<std::size_t>(rank)) {
    for (std::size_t i = 0; i < spec.shape.size(); ++i) {
      if (spec.shape[i] >= 0 && static_cast<std::int64_t>(out.shape[i]) != spec.shape[i]) {
        std::string expected = "(";
        for (std::size_t j = 0; j < spec.shape.size(); ++j) {
          expected += (j ? " x " : "") + (spec.shape[j] < 0 ? std::string("any") : std::to_string(spec.shape[j]));
        }
        throw InputError(where + ": has shape " + DescribeShape(out.shape) + ", expected " + expected + ")");
      }
    }
  }
  std::size_t n = 1;
  for (auto d : out.shape) n *= d;
  out.data.resize(n);
  if (n > 0 && H5Dread(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data.data()) < 0) {
    throw InputError(where + ": cannot be read as float64");
  }
  if (spec.require_finite) {
    for (std::size_t i = 0; i < n; ++i) {
      if (!std::isfinite(out.data[i])) {
        std::string index;
        std::size_t rest = i;
        std::vector<std::size_t> idx(out.shape.size());
        for (std::size_t k = out.shape.size(); k-- > 0;) {
          idx[k] = rest % out.shape[k];
          rest /= out.shape[k];
        }
        for (std::size_t k = 0; k < idx.size(); ++k) index += (k ? ", " : "") + std::to_string(idx[k]);
        throw InputError(where + ": non-finite value " + std::to_string(out.data[i]) + " at index [" + index + "]");
      }
    }
  }
  return out;
}

RowMatrixXd ReadMatrix(const DatasetName& name, std::int64_t cols, std::string what) {
  ArraySpec spec;
  spec.ranks = {2};
  spec.shape = {-1, cols};
  spec.what = std::move(what);
  return ReadArray(name, spec).ToMatrix();
}

std::string ReadRootStringAttribute(const std::string& file, const std::string& name) {
  Handle f = OpenForReading(file);
  if (!h5::HasAttribute(f.get(), name)) return {};
  return h5::ReadStringAttribute(f.get(), name, "file '" + file + "'");
}

// ---------------------------------------------------------------------------------------------------------------
// Output

void DisableHdf5ExitCleanup() {
  // Must run before the first HDF5 call of the process (H5open registers the atexit handler). Later calls do nothing.
  H5dont_atexit();
}

namespace {

// The text of errno for messages ("No space left on device"), or "" when errno is 0.
std::string ErrnoText(int e) {
  if (e == 0) return {};
  return std::string(": ") + std::strerror(e);
}

hid_t FileTypeOf(ElementType t) {
  switch (t) {
    case ElementType::kFloat64: return H5T_IEEE_F64LE;
    case ElementType::kInt64: return H5T_STD_I64LE;
    case ElementType::kInt32: return H5T_STD_I32LE;
    case ElementType::kUInt8: return H5T_STD_U8LE;
    case ElementType::kString: return -1;
  }
  return H5T_IEEE_F64LE;
}

// Variable-length UTF-8 strings.
Handle StringType() {
  Handle type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  return type;
}

}  // namespace

RowDataset::RowDataset(OutputFile* file, std::int64_t id, ElementType type, std::string name, std::size_t total_rows,
                       std::size_t row_size, std::vector<std::size_t> row_shape)
    : file_(file),
      id_(id),
      type_(type),
      name_(std::move(name)),
      total_rows_(total_rows),
      row_size_(row_size),
      row_shape_(std::move(row_shape)) {}

RowDataset::RowDataset(RowDataset&& o) noexcept
    : file_(std::exchange(o.file_, nullptr)),
      id_(std::exchange(o.id_, -1)),
      type_(o.type_),
      name_(std::move(o.name_)),
      total_rows_(o.total_rows_),
      row_size_(o.row_size_),
      row_shape_(std::move(o.row_shape_)) {}

RowDataset& RowDataset::operator=(RowDataset&& o) noexcept {
  if (this != &o) {
    if (id_ >= 0) H5Dclose(id_);
    file_ = std::exchange(o.file_, nullptr);
    id_ = std::exchange(o.id_, -1);
    type_ = o.type_;
    name_ = std::move(o.name_);
    total_rows_ = o.total_rows_;
    row_size_ = o.row_size_;
    row_shape_ = std::move(o.row_shape_);
  }
  return *this;
}

RowDataset::~RowDataset() {
  if (id_ >= 0) H5Dclose(id_);
}

void RowDataset::Write(std::size_t first_row, std::size_t count, const void* data) {
  if (count == 0) return;
  if (first_row + count > total_rows_) throw std::logic_error("RowDataset::Write past the last row");
  if (id_ < 0 || !file_) throw std::logic_error("RowDataset::Write on a closed dataset");
  file_->RequireUsable();
  std::vector<hsize_t> start(row_shape_.size() + 1, 0), extent(row_shape_.size() + 1);
  start[0] = first_row;
  extent[0] = count;
  for (std::size_t i = 0; i < row_shape_.size(); ++i) extent[i + 1] = row_shape_[i];
  Handle file_space(H5Dget_space(id_));
  H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr);
  Handle mem_space(H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr));
  errno = 0;
  herr_t rc = 0;
  if (type_ == ElementType::kString) {
    const auto* strings = static_cast<const std::string*>(data);
    std::vector<const char*> ptrs(count * row_size_);
    for (std::size_t i = 0; i < ptrs.size(); ++i) ptrs[i] = strings[i].c_str();
    Handle type = StringType();
    // The conversion buffer of variable-length strings: HDF5's default is 1 MiB, zeroed on every write, which cost
    // more than the rows themselves when a batch writes a few rows at a time. 64 bytes per string hold one
    // converted element (a file heap reference) with room to spare.
    Handle transfer(H5Pcreate(H5P_DATASET_XFER));
    H5Pset_buffer(transfer.get(), std::max<std::size_t>(ptrs.size() * 64, 4096), nullptr, nullptr);
    rc = H5Dwrite(id_, type.get(), mem_space.get(), file_space.get(), transfer.get(), ptrs.data());
  } else {
    rc = H5Dwrite(id_, NativeType(type_), mem_space.get(), file_space.get(), H5P_DEFAULT, data);
  }
  if (rc < 0) {
    file_->Fail("writing rows " + std::to_string(first_row) + " to " + std::to_string(first_row + count - 1) +
                " of dataset '" + name_ + "'" + ErrnoText(errno));
  }
}

OutputFile::OutputFile(std::string path, const Provenance& provenance) : path_(std::move(path)) {
  h5::SilenceLibraryErrors();
  const std::string partial = partial_path();
  const auto parent = std::filesystem::path(path_).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    throw InputError("output file '" + path_ + "': directory '" + parent.string() + "' does not exist");
  }
  // Freed file space is never reused while the file is open, so that the blocks the last flushed metadata point to
  // are not overwritten before the next flush (a killed run leaves a consistent file; docs/hdf5-layout.md).
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE));
  H5Pset_file_space_strategy(fcpl.get(), H5F_FSPACE_STRATEGY_NONE, 0, 1);
  // The file is created under a temporary name and appears as FILE.partial only once its superblock and
  // provenance are on disk: a run killed in between (SIGKILL, a power cut) leaves no FILE.partial that HDF5 cannot
  // open, only FILE.partial.creating, which the next run overwrites.
  const std::string creating = partial + ".creating";
  errno = 0;
  file_ = H5Fcreate(creating.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT);
  if (file_ < 0) throw IoError("output file '" + creating + "' cannot be created" + ErrnoText(errno));
  for (const auto& [name, value] : provenance.Attributes()) SetAttribute("/", name, value);
  SetAttribute("/", "complete", std::int64_t{0});
  SetAttribute("/", "completed_rows", std::int64_t{0});
  Flush();
  std::filesystem::rename(creating, partial, ec);
  if (ec) Fail("renaming '" + creating + "' to '" + partial + "' failed: " + ec.message());
}

OutputFile::~OutputFile() {
  // A close that fails (the disk is full) is not reported here; Close() and Commit() report it.
  if (file_ >= 0) {
    if (!failed_) H5Fflush(file_, H5F_SCOPE_GLOBAL);
    H5Fclose(file_);
  }
}

void OutputFile::RequireUsable() const {
  if (file_ < 0) throw std::logic_error("OutputFile '" + partial_path() + "' used after it was closed");
  if (failed_) throw IoError("output file '" + partial_path() + "': an earlier write failed: " + failure_);
}

void OutputFile::Fail(const std::string& what) {
  failed_ = true;
  failure_ = what;
  throw IoError("output file '" + partial_path() + "': " + what);
}

std::int64_t OutputFile::EnsureGroup(std::string_view group_path) {
  RequireUsable();
  std::string path(group_path);
  if (path.empty() || path == "/") return H5Gopen2(file_, "/", H5P_DEFAULT);
  if (path.front() != '/') path = "/" + path;
  if (h5::PathExists(file_, path)) return H5Oopen(file_, path.c_str(), H5P_DEFAULT);
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  errno = 0;
  const hid_t g = H5Gcreate2(file_, path.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) Fail("cannot create group '" + path + "'" + ErrnoText(errno));
  return g;
}

std::int64_t OutputFile::CreateDataset(std::string_view name, std::int64_t type, const std::vector<hsize_t>& dims,
                                       std::size_t element_size, bool compress, const void* fill) {
  RequireUsable();
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  std::size_t total = 1;
  for (auto d : dims) total *= d;
  Handle dcpl = total > 0 ? ChunkedDeflate(dims, element_size, compress) : Handle(H5Pcreate(H5P_DATASET_CREATE));
  if (fill) H5Pset_fill_value(dcpl.get(), H5T_NATIVE_DOUBLE, fill);
  std::string path(name);
  if (path.front() != '/') path = "/" + path;
  if (H5Lexists(file_, path.c_str(), H5P_DEFAULT) > 0) H5Ldelete(file_, path.c_str(), H5P_DEFAULT);
  errno = 0;
  const hid_t d = H5Dcreate2(file_, path.c_str(), type, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT);
  if (d < 0) Fail("cannot create dataset '" + path + "'" + ErrnoText(errno));
  return d;
}

void OutputFile::WriteArray(std::string_view name, const std::vector<std::size_t>& shape, const double* data) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle d(CreateDataset(name, H5T_IEEE_F64LE, dims, 8, true, nullptr));
  std::size_t total = 1;
  for (auto s : shape) total *= s;
  errno = 0;
  if (total > 0 && H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    Fail("writing dataset '" + std::string(name) + "' failed" + ErrnoText(errno));
  }
}

void OutputFile::WriteMatrix(std::string_view name, const RowMatrixXd& m) {
  WriteArray(name, {static_cast<std::size_t>(m.rows()), static_cast<std::size_t>(m.cols())}, m.data());
}

void OutputFile::WriteVector(std::string_view name, const std::vector<double>& v) {
  WriteArray(name, {v.size()}, v.data());
}

void OutputFile::WriteIntVector(std::string_view name, const std::vector<std::int64_t>& v) {
  std::vector<hsize_t> dims{v.size()};
  Handle d(CreateDataset(name, H5T_STD_I64LE, dims, 8, true, nullptr));
  errno = 0;
  if (!v.empty() && H5Dwrite(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0) {
    Fail("writing dataset '" + std::string(name) + "' failed" + ErrnoText(errno));
  }
}

void OutputFile::WriteStrings(std::string_view name, const std::vector<std::string>& v) {
  RequireUsable();
  Handle type = StringType();
  std::vector<hsize_t> dims{v.size()};
  Handle space(H5Screate_simple(1, dims.data(), nullptr));
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  std::string path(name);
  if (path.front() != '/') path = "/" + path;
  errno = 0;
  Handle d(H5Dcreate2(file_, path.c_str(), type.get(), space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!d) Fail("cannot create dataset '" + path + "'" + ErrnoText(errno));
  std::vector<const char*> ptrs;
  for (const auto& s : v) ptrs.push_back(s.c_str());
  if (!v.empty() && H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0) {
    Fail("writing dataset '" + path + "' failed" + ErrnoText(errno));
  }
}

RowDataset OutputFile::CreateRowDataset(std::string_view name, ElementType type, std::size_t total_rows,
                                        std::vector<std::size_t> row_shape, double fill) {
  std::vector<hsize_t> dims{total_rows};
  std::size_t row_size = 1;
  for (auto s : row_shape) {
    dims.push_back(s);
    row_size *= s;
  }
  std::string path(name);
  if (path.front() != '/') path = "/" + path;
  // Row datasets are chunked but not compressed: a chunk rewritten by a later flush keeps its place in the file, so
  // the flushed rows stay where the flushed chunk index says they are.
  if (type == ElementType::kString) {
    Handle string_type = StringType();
    const hid_t d = CreateDataset(path, string_type.get(), dims, sizeof(char*), false, nullptr);
    return RowDataset(this, d, type, path, total_rows, row_size, std::move(row_shape));
  }
  // Integer datasets cannot hold NaN: they fill with 0 unless asked otherwise.
  const double fill_value = std::isnan(fill) && type != ElementType::kFloat64 ? 0.0 : fill;
  const hid_t d = CreateDataset(path, FileTypeOf(type), dims, ElementSize(type), false, &fill_value);
  return RowDataset(this, d, type, path, total_rows, row_size, std::move(row_shape));
}

void OutputFile::SetAttribute(std::string_view object, std::string_view name, std::string_view value) {
  Handle obj(EnsureGroup(object));
  Handle type = StringType();
  Handle space(H5Screate(H5S_SCALAR));
  const std::string n(name);
  if (H5Aexists(obj.get(), n.c_str()) > 0) H5Adelete(obj.get(), n.c_str());
  errno = 0;
  Handle attr(H5Acreate2(obj.get(), n.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  const std::string v(value);
  const char* p = v.c_str();
  if (!attr || H5Awrite(attr.get(), type.get(), &p) < 0) Fail("cannot write attribute '" + n + "'" + ErrnoText(errno));
}

void OutputFile::SetAttribute(std::string_view object, std::string_view name, double value) {
  Handle obj(EnsureGroup(object));
  Handle space(H5Screate(H5S_SCALAR));
  const std::string n(name);
  if (H5Aexists(obj.get(), n.c_str()) > 0) H5Adelete(obj.get(), n.c_str());
  errno = 0;
  Handle attr(H5Acreate2(obj.get(), n.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr || H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &value) < 0) {
    Fail("cannot write attribute '" + n + "'" + ErrnoText(errno));
  }
}

void OutputFile::SetAttribute(std::string_view object, std::string_view name, std::int64_t value) {
  Handle obj(EnsureGroup(object));
  Handle space(H5Screate(H5S_SCALAR));
  const std::string n(name);
  errno = 0;
  if (H5Aexists(obj.get(), n.c_str()) > 0) {
    // Overwrite in place (keeps the attribute's slot; used for completed_rows on every block).
    Handle attr(H5Aopen(obj.get(), n.c_str(), H5P_DEFAULT));
    if (H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) < 0) {
      Fail("cannot write attribute '" + n + "'" + ErrnoText(errno));
    }
    return;
  }
  Handle attr(H5Acreate2(obj.get(), n.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr || H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) < 0) {
    Fail("cannot write attribute '" + n + "'" + ErrnoText(errno));
  }
}

void OutputFile::SetCompletedRows(std::int64_t rows) {
  // The rows reach the disk before the counter that declares them: flush, count, flush.
  Flush();
  SetAttribute("/", "completed_rows", rows);
  Flush();
  completed_rows_ = rows;
}

void OutputFile::Flush() {
  RequireUsable();
  errno = 0;
  if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) Fail("flushing to disk failed" + ErrnoText(errno));
}

void OutputFile::Close() {
  if (file_ < 0) return;
  const hid_t f = std::exchange(file_, -1);
  if (failed_) {
    H5Fclose(f);
    return;
  }
  errno = 0;
  const bool flushed = H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0;
  const int flush_errno = errno;
  if (H5Fclose(f) < 0 || !flushed) {
    failed_ = true;
    throw IoError("output file '" + partial_path() + "': closing failed" + ErrnoText(flushed ? errno : flush_errno));
  }
}

void OutputFile::Commit() {
  if (committed_) return;
  SetAttribute("/", "complete", std::int64_t{1});
  Close();
  std::error_code ec;
  std::filesystem::rename(partial_path(), path_, ec);
  if (ec) throw IoError("renaming '" + partial_path() + "' to '" + path_ + "' failed: " + ec.message());
  committed_ = true;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading a partial file back (-resume)

std::vector<std::string> ReadStrings(const DatasetName& name) {
  const std::string where = "dataset '" + name.path + "' in file '" + name.file + "'";
  Handle file = OpenForReading(name.file);
  if (!h5::PathExists(file.get(), name.path)) {
    throw InputError("file '" + name.file + "' has no dataset '" + name.path + "'");
  }
  Handle dataset(H5Dopen2(file.get(), name.path.c_str(), H5P_DEFAULT));
  if (!dataset) throw InputError(where + ": cannot be opened");
  Handle type(H5Dget_type(dataset.get()));
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) <= 0) {
    throw InputError(where + ": does not hold variable-length strings");
  }
  Handle space(H5Dget_space(dataset.get()));
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  std::vector<char*> ptrs(static_cast<std::size_t>(std::max<hssize_t>(n, 0)), nullptr);
  Handle memtype = StringType();
  if (n > 0 && H5Dread(dataset.get(), memtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0) {
    throw InputError(where + ": cannot be read");
  }
  std::vector<std::string> out;
  out.reserve(ptrs.size());
  for (char* p : ptrs) out.emplace_back(p ? p : "");
  if (n > 0) H5Dvlen_reclaim(memtype.get(), space.get(), H5P_DEFAULT, ptrs.data());
  return out;
}

std::int64_t ReadRootIntAttribute(const std::string& file, const std::string& name) {
  Handle f = OpenForReading(file);
  return h5::ReadIntAttribute(f.get(), name, "file '" + file + "'");
}

}  // namespace pushpull

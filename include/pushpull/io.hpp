// HDF5 input and output.
//
// Input: a dataset is named `file.h5:/path/to/dataset`. Reading checks everything a user can get wrong (missing
// file or dataset, wrong rank or shape, non-numeric type, non-finite values) and throws InputError with a message
// that names the file, the dataset and the problem. float32 data are widened to float64.
//
// Output: `OutputFile` writes to `NAME.partial` and renames it to NAME only in `Commit()`, so nothing half-written
// ever sits under the final name. Provenance attributes (versions, git commit, date, host, command line, options in
// force and their sources) are written at the root when the file is opened. Long runs create a `RowDataset` and
// write completed rows as they go; `OutputFile::SetCompletedRows` keeps the root attribute `completed_rows` current
// and flushes, so an interrupted run leaves a readable `.partial` file. See docs/hdf5-layout.md.
//
// Failures: every write, flush and close is checked. The first failure (disk full, file size limit, a vanished
// directory) throws IoError naming the `.partial` file and the errno text; the file is then "failed" and every
// later call on it throws IoError at once (no further HDF5 call), and its destructor closes it without flushing.
// Programs should call DisableHdf5ExitCleanup() first thing in main(): HDF5's exit handler otherwise tries to close
// a file whose close failed, and crashes.
//
// Consistency after a kill: the file is created with the file-space strategy "none" (freed space is never reused
// while it is open) and row datasets are chunked without compression (a rewritten chunk keeps its place), so the
// blocks that the last flushed metadata point to are not overwritten before the next flush. SetCompletedRows
// flushes the rows, then writes `completed_rows`, then flushes again: a run killed at any moment outside the two
// flushes leaves a file that opens and holds every row `completed_rows` counts.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "pushpull/row_matrix.hpp"

namespace pushpull {

struct Provenance;

// `file.h5:/path`. The path defaults to "/" + nothing: a name without ':' is refused.
struct DatasetName {
  std::string file;
  std::string path;

  // Throws InputError naming `option` (e.g. "-input") when `spec` is not of the form FILE:/PATH.
  static DatasetName Parse(std::string_view spec, std::string_view option = {});
  std::string ToString() const { return file + ":" + path; }
};

// A row-major float64 array of rank 1 to 3.
struct Array {
  std::vector<std::size_t> shape;
  std::vector<double> data;

  std::size_t rank() const { return shape.size(); }
  std::size_t size() const { return data.size(); }
  // Rank 2 only: a copy as a matrix (rows x cols).
  RowMatrixXd ToMatrix() const;
};

// What a caller expects of a dataset; shape entries of -1 accept any extent.
struct ArraySpec {
  std::vector<int> ranks = {2};          // allowed ranks
  std::vector<std::int64_t> shape;        // expected extents for the rank that matches its length; -1 = any
  bool require_finite = true;
  std::string what;                       // what the data are, for messages ("points", "pairs")
};

// Reads a numeric dataset. Throws InputError naming file, dataset and the problem.
Array ReadArray(const DatasetName& name, const ArraySpec& spec = {});
// Reads a rank-2 dataset with `cols` columns (-1: any) as a matrix.
RowMatrixXd ReadMatrix(const DatasetName& name, std::int64_t cols = -1, std::string what = {});

// kString: variable-length UTF-8 strings; RowDataset::Write then takes `const std::string*`.
enum class ElementType { kFloat64, kInt64, kInt32, kUInt8, kString };

class OutputFile;

// A dataset of `total_rows` rows, each of shape `row_shape`, written in pieces as rows complete.
class RowDataset {
 public:
  RowDataset(RowDataset&&) noexcept;
  RowDataset& operator=(RowDataset&&) noexcept;
  ~RowDataset();
  // Writes rows [first_row, first_row + count) from a row-major buffer of matching element type. Throws IoError
  // naming the file and the dataset when the write fails (the file is then failed, see above).
  void Write(std::size_t first_row, std::size_t count, const void* data);
  std::size_t row_size() const { return row_size_; }
  const std::string& name() const { return name_; }

 private:
  friend class OutputFile;
  RowDataset(OutputFile* file, std::int64_t id, ElementType type, std::string name, std::size_t total_rows,
             std::size_t row_size, std::vector<std::size_t> row_shape);
  OutputFile* file_ = nullptr;  // must outlive the dataset
  std::int64_t id_ = -1;
  ElementType type_ = ElementType::kFloat64;
  std::string name_;
  std::size_t total_rows_ = 0;
  std::size_t row_size_ = 0;
  std::vector<std::size_t> row_shape_;
};

class OutputFile {
 public:
  // Creates `path + ".partial"` (replacing an older one) and writes `provenance` at its root.
  OutputFile(std::string path, const Provenance& provenance);
  // Closes the file; without Commit() the `.partial` file stays for inspection.
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Whole datasets, chunked and deflate-compressed. `name` may contain groups ("geodesic/length"); missing groups
  // are created.
  void WriteArray(std::string_view name, const std::vector<std::size_t>& shape, const double* data);
  void WriteMatrix(std::string_view name, const RowMatrixXd& m);
  void WriteVector(std::string_view name, const std::vector<double>& v);
  void WriteIntVector(std::string_view name, const std::vector<std::int64_t>& v);
  void WriteStrings(std::string_view name, const std::vector<std::string>& v);

  // Rows not yet written read as `fill` (NaN by default; status datasets use -1, "not computed").
  RowDataset CreateRowDataset(std::string_view name, ElementType type, std::size_t total_rows,
                              std::vector<std::size_t> row_shape, double fill = std::nan(""));

  // Attributes on the root ("/"), a group or a dataset; creates missing groups.
  void SetAttribute(std::string_view object, std::string_view name, std::string_view value);
  void SetAttribute(std::string_view object, std::string_view name, double value);
  void SetAttribute(std::string_view object, std::string_view name, std::int64_t value);

  // Flushes the rows written so far, updates the root attribute `completed_rows` (0 when the file is created),
  // and flushes again.
  void SetCompletedRows(std::int64_t rows);
  std::int64_t completed_rows() const { return completed_rows_; }
  void Flush();

  // Flushes and closes the `.partial` file without committing it (an interrupted run). Throws IoError when that
  // fails. Later calls do nothing.
  void Close();
  // Sets `complete` = 1, flushes, closes and renames `.partial` to the final name. Throws IoError on failure.
  void Commit();

  const std::string& path() const { return path_; }
  std::string partial_path() const { return path_ + ".partial"; }

 private:
  friend class RowDataset;
  std::int64_t EnsureGroup(std::string_view group_path);
  std::int64_t CreateDataset(std::string_view name, std::int64_t type, const std::vector<unsigned long long>& dims,
                             std::size_t element_size, bool compress, const void* fill);
  void RequireUsable() const;
  [[noreturn]] void Fail(const std::string& what);
  std::string path_;
  std::int64_t file_ = -1;
  bool committed_ = false;
  bool failed_ = false;
  std::string failure_;
  std::int64_t completed_rows_ = 0;
};

// Call first in main(), before any other HDF5 use: keeps HDF5 from closing files at process exit (see above).
void DisableHdf5ExitCleanup();

// A dataset of variable-length strings, flattened (for -resume and tests). Throws InputError.
std::vector<std::string> ReadStrings(const DatasetName& name);
// An integer attribute of the root group (e.g. completed_rows). Throws InputError when missing.
std::int64_t ReadRootIntAttribute(const std::string& file, const std::string& name);

// Reads a string attribute of the root group, or returns "" if absent (for `pushpull info` and tests).
std::string ReadRootStringAttribute(const std::string& file, const std::string& name);

}  // namespace pushpull

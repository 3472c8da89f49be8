// The one HDF5 form of item statuses and run summaries, used by every command (docs/hdf5-layout.md):
//   dataset `status`          int32, rows x row_shape: ItemStatus::value (fill -1: not computed)
//   dataset `status_message`  variable-length strings, same shape: ItemStatus::message
//   root attributes (WriteSummary): `items`, `failed`, `seconds`, `total_steps`, `total_rhs_evals`,
//     `total_jacobian_evals`, `total_error_test_failures`, `total_newton_failures` (when the run collected integrator
//     statistics), `total_iterations` (geodesic solves), `count_<status name>` per status present, and `summary`
//     (RunSummary::FullReport()).
// Both datasets are row datasets (RowDataset): written as rows complete, with OutputFile::SetCompletedRows kept by
// the caller, so an interrupted run keeps its completed rows and -resume can read them back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pushpull/io.hpp"
#include "pushpull/item_status.hpp"
#include "pushpull/run_summary.hpp"

namespace pushpull {

class StatusDatasets {
 public:
  // Creates `status` and `status_message` (under `group`, "" = the root) with `rows` rows of shape `row_shape`.
  StatusDatasets(OutputFile& out, std::size_t rows, std::vector<std::size_t> row_shape = {},
                 const std::string& group = "");
  // Writes rows [first_row, first_row + count) from row-major statuses (count * row size of them).
  template <class Code>
  void Write(std::size_t first_row, std::size_t count, const ItemStatus<Code>* statuses) {
    const std::size_t n = count * row_size_;
    std::vector<std::int32_t> values(n);
    std::vector<std::string> messages(n);
    for (std::size_t k = 0; k < n; ++k) {
      values[k] = static_cast<std::int32_t>(statuses[k].value);
      messages[k] = statuses[k].message;
    }
    WriteRows(first_row, count, values.data(), messages.data());
  }

 private:
  void WriteRows(std::size_t first_row, std::size_t count, const std::int32_t* values, const std::string* messages);
  RowDataset status_;
  RowDataset message_;
  std::size_t row_size_ = 1;
};

// The summary's root attributes (above). Call once the run has finished.
void WriteSummary(OutputFile& out, const RunSummary& summary);

}  // namespace pushpull

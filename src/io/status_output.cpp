// StatusDatasets and WriteSummary (status_output.hpp): the one HDF5 form of statuses and summaries.
#include "pushpull/status_output.hpp"

namespace pushpull {

namespace {

std::string Under(const std::string& group, const char* name) {
  return group.empty() ? std::string(name) : group + "/" + name;
}

std::size_t RowSize(const std::vector<std::size_t>& shape) {
  std::size_t n = 1;
  for (const std::size_t s : shape) n *= s;
  return n;
}

}  // namespace

StatusDatasets::StatusDatasets(OutputFile& out, std::size_t rows, std::vector<std::size_t> row_shape,
                               const std::string& group)
    : status_(out.CreateRowDataset(Under(group, "status"), ElementType::kInt32, rows, row_shape, -1.0)),
      message_(out.CreateRowDataset(Under(group, "status_message"), ElementType::kString, rows, row_shape)),
      row_size_(RowSize(row_shape)) {}

void StatusDatasets::WriteRows(std::size_t first_row, std::size_t count, const std::int32_t* values,
                               const std::string* messages) {
  status_.Write(first_row, count, values);
  message_.Write(first_row, count, messages);
}

void WriteSummary(OutputFile& out, const RunSummary& s) {
  out.SetAttribute("/", "items", static_cast<std::int64_t>(s.items));
  out.SetAttribute("/", "failed", static_cast<std::int64_t>(s.failed));
  out.SetAttribute("/", "seconds", s.seconds);
  if (s.has_ode) {
    out.SetAttribute("/", "total_steps", s.ode.steps);
    out.SetAttribute("/", "total_rhs_evals", s.ode.rhs_evals);
    out.SetAttribute("/", "total_jacobian_evals", s.ode.jacobian_evals);
    out.SetAttribute("/", "total_error_test_failures", s.ode.error_test_failures);
    out.SetAttribute("/", "total_newton_failures", s.ode.newton_failures);
  }
  if (s.iterations >= 0) out.SetAttribute("/", "total_iterations", s.iterations);
  for (const StatusCount& c : s.statuses) {
    out.SetAttribute("/", "count_" + c.name, static_cast<std::int64_t>(c.count));
  }
  out.SetAttribute("/", "summary", s.FullReport());
}

}  // namespace pushpull

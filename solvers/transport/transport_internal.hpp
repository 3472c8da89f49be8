// Internal interfaces of the transport solvers (solvers/transport/): not installed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "pushpull/optimal_transport.hpp"

namespace pushpull::transport_detail {

// Jonker-Volgenant on the dense row-major n x n matrix `cost`. On return row_to_col[i] is the column of row i, and
// u, v are dual potentials with u_i + v_j <= C_ij (up to round-off) and equality on the assignment. Returns the
// number of shortest-path steps (column scans) of the augmentation phase.
std::int64_t SolveAssignment(const PointMatrix& cost, std::vector<std::int64_t>& row_to_col, Eigen::VectorXd& u,
                             Eigen::VectorXd& v);

struct NetworkSimplexOutput {
  TransportStatus status = TransportStatus::kSuccess;
  std::string message;
  std::vector<std::int64_t> rows, cols;
  std::vector<double> masses;  // in units of the original weights
  Eigen::VectorXd u, v;
  int cost_bits_used = 0;
};

// LEMON's network simplex in integer arithmetic (see optimal_transport.hpp).
NetworkSimplexOutput SolveNetworkSimplex(const PointMatrix& cost, const Eigen::VectorXd& a, const Eigen::VectorXd& b,
                                         int mass_bits, int cost_bits);

}  // namespace pushpull::transport_detail

// The linear assignment problem min sum_i C(i, x_i) over permutations x: Jonker and Volgenant, "A shortest augmenting
// path algorithm for dense and sparse linear assignment problems", Computing 38 (1987).
//
// Dual variables: column prices v_j and row values u_i = C(i, x_i) - v_{x_i}. Invariant of every phase: each assigned
// row's column minimises C(i, j) - v_j over j (reduced costs C_ij - u_i - v_j >= 0, zero on the assignment); every
// update only lowers prices. The phases:
//   1. column reduction: v_j = min_i C_ij, each column offered to its cheapest row (the first one taken);
//   2. reduction transfer: a row that got exactly one column lowers that column's price by its second-best margin;
//   3. augmenting row reduction (two passes, an auction-like heuristic): a free row takes its best column, lowering
//      its price to the row's second-best value, and evicts its owner, which becomes free;
//   4. augmentation: for each remaining free row, Dijkstra on the reduced costs (dense, O(n) per scanned column)
//      finds a shortest augmenting path to a free column; prices of the scanned columns move by their distances.
// Phase 4 is exact for real costs: it needs no epsilon, and the result is certified afterwards (optimal_transport.cpp)
// by the largest reduced-cost violation over all (i, j).
//
// Performance: the cost matrix is row-major, so every per-row loop (the Dijkstra relaxation of one row, the min and
// second min of phase 3) runs over contiguous memory; scanned columns carry a penalty of +inf instead of an index
// list, so the relaxation and the next minimum are branch-free vectorised passes (see phase 4).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <Eigen/Core>

#include "transport_internal.hpp"

namespace pushpull::transport_detail {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

std::int64_t SolveAssignment(const PointMatrix& cost, std::vector<std::int64_t>& row_to_col, Eigen::VectorXd& u_out,
                             Eigen::VectorXd& v_out) {
  const std::int64_t n = cost.rows();
  row_to_col.assign(static_cast<std::size_t>(n), -1);
  u_out.resize(n);
  v_out.resize(n);
  if (n == 0) return 0;
  const double* C = cost.data();
  auto row = [&](std::int64_t i) { return C + i * n; };
  if (n == 1) {
    row_to_col[0] = 0;
    v_out[0] = C[0];
    u_out[0] = 0;
    return 0;
  }

  std::vector<std::int64_t> x(static_cast<std::size_t>(n), -1), y(static_cast<std::size_t>(n), -1);
  std::vector<double> v(static_cast<std::size_t>(n));
  std::vector<std::int64_t> best_row(static_cast<std::size_t>(n), 0);

  // 1. Column reduction, row by row over contiguous memory (the first row attaining a column's minimum wins).
  std::copy(row(0), row(0) + n, v.begin());
  for (std::int64_t i = 1; i < n; ++i) {
    const double* Ci = row(i);
    for (std::int64_t j = 0; j < n; ++j) {
      const bool better = Ci[j] < v[j];
      v[j] = better ? Ci[j] : v[j];
      best_row[j] = better ? i : best_row[j];
    }
  }
  std::vector<int> matches(static_cast<std::size_t>(n), 0);
  for (std::int64_t j = n - 1; j >= 0; --j) {
    const std::int64_t i = best_row[j];
    if (++matches[i] == 1) {
      x[i] = j;
      y[j] = i;
    }
  }
  // 2. Reduction transfer.
  std::vector<std::int64_t> free_rows;
  free_rows.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    if (matches[i] == 0) {
      free_rows.push_back(i);
    } else if (matches[i] == 1) {
      const std::int64_t j1 = x[i];
      const double* Ci = row(i);
      double second = kInf;
      for (std::int64_t j = 0; j < n; ++j) {
        const double h = j == j1 ? kInf : Ci[j] - v[j];
        second = std::min(second, h);
      }
      v[j1] -= second - (Ci[j1] - v[j1]);
    }
  }

  // 3. Augmenting row reduction, two passes. A row re-queued at the front of the list after a strict price decrease
  // is processed again at once; the visits of one pass are bounded by 8 n (a heuristic phase: the bound only limits
  // time spent here, the augmentation below completes whatever remains).
  for (int pass = 0; pass < 2 && !free_rows.empty(); ++pass) {
    std::vector<std::int64_t> next;
    next.reserve(free_rows.size());
    std::size_t k = 0;
    std::int64_t visits = 0;
    const std::int64_t max_visits = 8 * n;
    while (k < free_rows.size()) {
      if (++visits > max_visits) {
        for (; k < free_rows.size(); ++k) next.push_back(free_rows[k]);
        break;
      }
      const std::int64_t i = free_rows[k++];
      const double* Ci = row(i);
      double umin = Ci[0] - v[0], usub = kInf;
      std::int64_t j1 = 0, j2 = -1;
      for (std::int64_t j = 1; j < n; ++j) {
        const double h = Ci[j] - v[j];
        if (h < usub) {
          if (h >= umin) {
            usub = h;
            j2 = j;
          } else {
            usub = umin;
            umin = h;
            j2 = j1;
            j1 = j;
          }
        }
      }
      std::int64_t i0 = y[j1];
      const bool strict = umin < usub;
      if (strict) {
        v[j1] -= usub - umin;
      } else if (i0 >= 0) {
        j1 = j2;
        i0 = y[j2];
      }
      x[i] = j1;
      y[j1] = i;
      if (i0 >= 0) {
        x[i0] = -1;
        if (strict) {
          free_rows[--k] = i0;
        } else {
          next.push_back(i0);
        }
      }
    }
    free_rows.swap(next);
  }

  // 4. Augmentation by shortest paths. D holds the tentative distances of the unscanned columns and +inf for the
  // scanned ones (whose final distance is kept in `done`); the relaxation D = min(D, C_i - v - u1 + pen) and the next
  // minimum are two vectorised passes (Eigen's packet min; pen = +inf keeps scanned columns out). Predecessors are not
  // stored in the hot loop: for a column on the augmenting path, its predecessor is the first row, in scan order among
  // the rows scanned before the column itself, whose relaxation value equals the column's final distance (recomputed
  // with the same floating-point operations, so the comparison is exact).
  std::int64_t steps = 0;
  Eigen::ArrayXd D(n), pen = Eigen::ArrayXd::Zero(n), done(n);
  const Eigen::Map<const Eigen::ArrayXd> vmap(v.data(), n);
  std::vector<std::int64_t> scan_rows, scan_cols;  // scan order: the row scanned and the column that led to it
  std::vector<double> scan_u1;
  std::vector<std::int64_t> scan_position(static_cast<std::size_t>(n), -1);
  for (const std::int64_t f : free_rows) {
    const Eigen::Map<const Eigen::ArrayXd> cf(row(f), n);
    D = cf - vmap - 0.0;
    double mn = D.minCoeff();
    scan_rows.assign(1, f);
    scan_cols.assign(1, -1);
    scan_u1.assign(1, 0.0);
    std::int64_t end = -1;
    while (true) {
      std::int64_t j = 0;
      while (D[j] != mn) ++j;  // the first unscanned column at the minimum (it exists: mn is finite)
      if (y[j] < 0) {
        end = j;
        break;
      }
      ++steps;
      done[j] = mn;
      pen[j] = kInf;
      D[j] = kInf;
      scan_position[j] = static_cast<std::int64_t>(scan_rows.size());
      const std::int64_t i = y[j];
      const double* Ci = row(i);
      const double u1 = Ci[j] - v[j] - mn;
      scan_rows.push_back(i);
      scan_cols.push_back(j);
      scan_u1.push_back(u1);
      const Eigen::Map<const Eigen::ArrayXd> ci(Ci, n);
      D = D.min(ci - vmap - u1 + pen);
      mn = D.minCoeff();
    }
    // The predecessor row of column k with final distance dk, among the first `limit` scanned rows.
    auto predecessor = [&](std::int64_t k, double dk, std::size_t limit) {
      for (std::size_t s = 0; s < limit; ++s) {
        if (row(scan_rows[s])[k] - v[k] - scan_u1[s] == dk) return scan_rows[s];
      }
      // Not reached in exact recomputation; the minimum over the candidates is the safe choice.
      std::size_t best = 0;
      for (std::size_t s = 1; s < limit; ++s) {
        if (row(scan_rows[s])[k] - v[k] - scan_u1[s] < row(scan_rows[best])[k] - v[k] - scan_u1[best]) best = s;
      }
      return scan_rows[best];
    };
    // Flip the path (before the prices change: the recomputation needs the prices of this search).
    std::int64_t col = end;
    double dcol = mn;
    std::size_t limit = scan_rows.size();
    while (true) {
      const std::int64_t i = predecessor(col, dcol, limit);
      const std::int64_t previous = x[i];
      y[col] = i;
      x[i] = col;
      if (i == f) break;
      col = previous;
      dcol = done[col];
      limit = static_cast<std::size_t>(scan_position[col]);
    }
    for (std::size_t s = 1; s < scan_cols.size(); ++s) {
      const std::int64_t j = scan_cols[s];
      v[j] += done[j] - mn;
      pen[j] = 0.0;
      scan_position[j] = -1;
    }
  }

  for (std::int64_t i = 0; i < n; ++i) {
    row_to_col[i] = x[i];
    v_out[i] = v[i];
  }
  for (std::int64_t i = 0; i < n; ++i) u_out[i] = row(i)[x[i]] - v[x[i]];
  return steps;
}

}  // namespace pushpull::transport_detail

// The one row-major dense matrix type of pushpull: N points of R^d as the rows of an N x d matrix, the layout of
// the vector fields' blocks (field.hpp) and of the HDF5 datasets (io.hpp).
#pragma once

#include <Eigen/Core>

namespace pushpull {

using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace pushpull

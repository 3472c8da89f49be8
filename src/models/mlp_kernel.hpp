// The numerical kernels of a "pushpull-mlp" network (internal; not installed): the activations with their
// derivatives up to third order and the dense layer product, written once and driven by both MlpField
// (src/models/mlp_field.cpp, the network as a flow vector field) and MlpDecoder (src/models/mlp_decoder.cpp, the
// network as a decoder). A network therefore evaluates to the same bits either way.
//
// Bitwise contract. Every output element depends only on its own inputs, never on its position in a block or on the
// block's size: an activation value at x is the same wherever x sits in the array (a short tail goes through the same
// packet code, padded), and a layer product element A(i, j) is the fused multiply-add chain
//   0 + W(i, 0) S(0, j) + W(i, 1) S(1, j) + ... + W(i, n-1) S(n-1, j)   (in this order, one rounding per step)
// then + b(i), whatever the row i and whatever the number of columns (rows beyond the last full SIMD packet go
// through the same packet code, padded, or through scalar multiply-adds that round as a packet lane does).
#pragma once

#include <Eigen/Core>

#include "pushpull/mlp.hpp"

namespace pushpull::mlp_kernel {

using Index = Eigen::Index;
using Packet = Eigen::internal::packet_traits<double>::type;
constexpr Index kLanes = Eigen::internal::packet_traits<double>::size;

// x[i] <- act(x[i]) for i < n and, when s1 is not null, s1[i] <- act'(x[i]) (the field's passes need no more).
// A NaN argument gives NaN.
void Activate(Activation a, double* x, double* s1, Index n);

// s, s', s'', s''' of act at x[0 .. n-1] (any output may alias x). The same kernels as Activate: s and s1 are
// bitwise those of Activate. A NaN argument gives NaN in every output.
void ActivationDerivatives(Activation a, const double* x, Index n, double* s, double* s1, double* s2, double* s3);

// A = W S, plus b on the first `bias_cols` columns when b is not null. Column-major: W is m x n with leading
// dimension m (an Eigen::MatrixXd), S is n x C with leading dimension lds, A is m x C with leading dimension lda;
// A must not overlap W or S. A row-major N x n block (one point per row) is a column-major n x N matrix: the field
// passes its blocks as S and gets Z^T = W H^T.
void LayerProduct(const double* W, Index m, Index n, const double* S, Index lds, Index C, double* A, Index lda,
                  const double* b = nullptr, Index bias_cols = 0);

// Calls rows(i, load, store) for the rows [0, m) of column-major data: for each block of kLanes rows starting at i
// with full-packet loads and stores, then for each of the last m mod kLanes rows with a load that broadcasts the
// row's value and a store of the first lane. rows computes with packets either way.
template <class Rows>
void ForEachRowBlock(Index m, Rows&& rows) {
  namespace ei = Eigen::internal;
  Index i = 0;
  auto load = [](const double* x) { return ei::ploadu<Packet>(x); };
  auto store = [](double* x, const Packet& v) { ei::pstoreu(x, v); };
  for (; i + kLanes <= m; i += kLanes) rows(i, load, store);
  auto load1 = [](const double* x) { return ei::pset1<Packet>(*x); };
  auto store1 = [](double* x, const Packet& v) { *x = ei::pfirst(v); };
  for (; i < m; ++i) rows(i, load1, store1);
}

}  // namespace pushpull::mlp_kernel

// Initial guesses for the logarithm map from a graph of latent points (`-bvp_init graph`, `-graph_points F.h5:/p`).
//
// When the straight line z0 -> z1 lies in the basin of a wrong geodesic (or of none), a shortest path through
// known latent points (e.g. the encoded training set) is a much better start: it follows the regions where the
// metric is small, as the geodesic does. The graph joins every point to its k nearest neighbours (Euclidean
// distance in latent space, symmetrised: i ~ j when either is among the other's k nearest); the weight of an edge
// is the metric length of the straight segment between its end points,
//   L(a, b) = int_0^1 sqrt(e^T M(a + s e) e) ds,  e = b - a,
// by Gauss-Legendre quadrature. A query joins z0 and z1 to their k nearest graph points in the same way and runs
// Dijkstra; the path, parametrised by metric arc length, is the initial curve.
//
// Cost: building is O(N^2 d) for the brute-force neighbour search plus O(N k q) metric evaluations (q quadrature
// points), fine for N up to a few thousand; memory O(N k). A query costs O(N d) for the neighbours of z0 and z1,
// (2 k + 1) q metric evaluations for their edges and O(E log N) for Dijkstra.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "pushpull/initial_curve.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/quadrature.hpp"
#include "pushpull/row_matrix.hpp"

namespace pushpull {

class OptionsDatabase;

struct GeodesicGraphOptions {
  int neighbors = 10;          // k of the k-nearest-neighbour graph (Euclidean in latent space), symmetrised
  int quadrature_points = 5;   // Gauss-Legendre points for the metric length of one straight edge

  static constexpr int kMaxQuadraturePoints = 64;

  // Declares -<prefix>neighbors and -<prefix>quadrature_points ("graph_" by default) and applies values from the
  // database. Throws InputError naming the option.
  void SetFromOptions(OptionsDatabase& db, std::string_view prefix = "graph_");
  // Empty when valid; otherwise the error SetFromOptions(prefix) would give for these values.
  std::string Validate(std::string_view prefix = "graph_") const;
};

class GeodesicGraph {
 public:
  // Builds the graph over the rows of `points` (N x d, d == metric.dim(); N may be 0: every query then returns the
  // straight line). The metric is used only here and is not kept. Throws InputError for invalid options, a wrong
  // number of columns, or a point outside the metric's domain (naming the row). Edges whose length is not finite
  // (the metric is non-finite or leaves its domain along the segment) are left out. Deterministic: ties in the
  // neighbour search are broken by row index.
  GeodesicGraph(const Metric& metric, const RowMatrixXd& points, const GeodesicGraphOptions& options);

  // The shortest path z0 -> ... -> z1. z0 and z1 are joined to their k nearest graph points (and to each other when
  // either is among the other's k nearest), with edge lengths measured by `metric` (the same geometry as at
  // construction; each thread may pass its own Metric object). The result has times proportional to the cumulative
  // metric length (constant speed) and the description "graph: <n> vertices, length <L>". When z0 and z1 are not
  // connected, the graph is empty, or z0 or z1 lies outside the domain, returns InitialCurve::Line with a
  // description saying why. Throws InputError only for z0 or z1 of the wrong dimension.
  // const and free of shared mutable state: safe to call concurrently.
  InitialCurve ShortestPath(const Metric& metric, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1) const;

  int dim() const { return static_cast<int>(points_.cols()); }
  int num_vertices() const { return static_cast<int>(points_.rows()); }
  std::size_t num_edges() const { return num_edges_; }  // undirected edges between graph points
  const GeodesicGraphOptions& options() const { return options_; }

  // Metric length of the straight segment a -> b by `quadrature_points`-point Gauss-Legendre (the edge weight).
  // +infinity when a quadrature node lies outside the domain or the integrand is not finite and >= 0.
  static double SegmentLength(const Metric& metric, const Eigen::VectorXd& a, const Eigen::VectorXd& b,
                              int quadrature_points);

 private:
  static double SegmentLength(const Metric& metric, const Eigen::VectorXd& a, const Eigen::VectorXd& b,
                              const QuadratureRule& rule);
  // Indices of the (at most) k graph points nearest to z, nearest first, and the squared distance of the last.
  std::vector<int> Nearest(const Eigen::VectorXd& z, int k, double* kth_distance2) const;

  GeodesicGraphOptions options_;
  QuadratureRule rule_;  // Gauss-Legendre, quadrature_points nodes
  RowMatrixXd points_;
  // Adjacency in compressed rows: the neighbours of i are adjacency_[offsets_[i] .. offsets_[i + 1]).
  std::vector<std::size_t> offsets_;
  std::vector<int> adjacency_;
  std::vector<double> weights_;
  std::size_t num_edges_ = 0;
};

}  // namespace pushpull

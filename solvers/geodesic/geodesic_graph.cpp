#include "pushpull/geodesic_graph.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "pushpull/errors.hpp"
#include "pushpull/options.hpp"

namespace pushpull {

using Eigen::VectorXd;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string FormatLength(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// The (at most) k rows of `points` nearest to z in Euclidean distance, nearest first, ties broken by row index;
// row `exclude` (if >= 0) is skipped. *kth_distance2 (when not null) receives the squared distance of the last
// one (+infinity when fewer than k rows qualify).
std::vector<int> NearestRows(const RowMatrixXd& points, const VectorXd& z, int k, int exclude,
                             double* kth_distance2) {
  const int n = static_cast<int>(points.rows());
  const VectorXd d2 = (points.rowwise() - z.transpose()).rowwise().squaredNorm();
  std::vector<int> rows;
  rows.reserve(static_cast<std::size_t>(n));
  for (int j = 0; j < n; ++j) {
    if (j != exclude) rows.push_back(j);
  }
  const auto closer = [&d2](int a, int b) { return d2[a] < d2[b] || (d2[a] == d2[b] && a < b); };
  const std::size_t keep = std::min(rows.size(), static_cast<std::size_t>(std::max(k, 0)));
  std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(keep), rows.end(), closer);
  const bool full = keep == static_cast<std::size_t>(k);
  rows.resize(keep);
  if (kth_distance2) *kth_distance2 = full && keep > 0 ? d2[rows.back()] : kInf;
  return rows;
}

}  // namespace

// ---- Options -----------------------------------------------------------------------------------------------------

void GeodesicGraphOptions::SetFromOptions(OptionsDatabase& db, std::string_view prefix) {
  db.SetSection("Graph initial guess of the logarithm map (prefix '" + std::string(prefix) + "')");
  db.Int(prefix, "neighbors", neighbors,
         "With -bvp_init graph: each latent point of the graph (-graph_points) is joined to this many nearest "
         "points (Euclidean distance in latent space), and so are z0 and z1; the graph is symmetrised, so a point "
         "can have more edges. Raise it when z0 and z1 are reported as not connected or the paths zig-zag; each "
         "edge costs quadrature_points metric evaluations",
         "GeodesicGraphOptions::neighbors", IntBounds::AtLeast(1));
  db.Int(prefix, "quadrature_points", quadrature_points,
         "Gauss-Legendre points used to measure the metric length int_0^1 sqrt(e^T M(a + s e) e) ds of each "
         "straight graph edge a -> b (e = b - a); more points are needed when the metric varies strongly along one "
         "edge (long edges, sparse points)",
         "GeodesicGraphOptions::quadrature_points", IntBounds{1, kMaxQuadraturePoints});
}

std::string GeodesicGraphOptions::Validate(std::string_view prefix) const {
  GeodesicGraphOptions copy = *this;
  return CheckDeclared([&](OptionsDatabase& db) { copy.SetFromOptions(db, prefix); });
}

// ---- Edge lengths ------------------------------------------------------------------------------------------------

double GeodesicGraph::SegmentLength(const Metric& metric, const VectorXd& a, const VectorXd& b,
                                    const QuadratureRule& rule) {
  const VectorXd e = b - a;
  if (!e.allFinite()) return kInf;
  if (e.squaredNorm() == 0.0) return 0.0;
  double length = 0.0;
  VectorXd z(a.size());
  for (std::size_t i = 0; i < rule.nodes.size(); ++i) {
    z = a + rule.nodes[i] * e;
    if (!metric.InDomain(z, nullptr)) return kInf;
    const Eigen::MatrixXd M = metric.Evaluate(z);
    double q = e.dot(M * e);
    if (!std::isfinite(q)) return kInf;
    // A (nearly) singular metric along e may give a rounding-level negative value.
    if (q < 0.0) {
      if (q < -1e-12 * e.squaredNorm() * M.cwiseAbs().maxCoeff()) return kInf;
      q = 0.0;
    }
    length += rule.weights[i] * std::sqrt(q);
  }
  return std::isfinite(length) ? length : kInf;
}

double GeodesicGraph::SegmentLength(const Metric& metric, const VectorXd& a, const VectorXd& b,
                                    int quadrature_points) {
  if (quadrature_points < 1 || quadrature_points > GeodesicGraphOptions::kMaxQuadraturePoints) {
    throw InputError("GeodesicGraph::SegmentLength: quadrature_points = " + std::to_string(quadrature_points) +
                     " must be in [1, " + std::to_string(GeodesicGraphOptions::kMaxQuadraturePoints) + "]");
  }
  if (a.size() != metric.dim() || b.size() != metric.dim()) {
    throw InputError("GeodesicGraph::SegmentLength: points of dimension " + std::to_string(a.size()) + " and " +
                     std::to_string(b.size()) + " for a metric of dimension " + std::to_string(metric.dim()));
  }
  return SegmentLength(metric, a, b, GaussLegendre(quadrature_points));
}

// ---- Construction ------------------------------------------------------------------------------------------------

GeodesicGraph::GeodesicGraph(const Metric& metric, const RowMatrixXd& points, const GeodesicGraphOptions& options)
    : options_(options) {
  const std::string problem = options.Validate();
  if (!problem.empty()) throw InputError("geodesic graph: " + problem);
  const int d = metric.dim();
  if (points.rows() > 0 && points.cols() != d) {
    throw InputError("geodesic graph: the points have " + std::to_string(points.cols()) +
                     " columns but the latent space has dimension " + std::to_string(d));
  }
  rule_ = GaussLegendre(options.quadrature_points);
  points_ = points.rows() > 0 ? points : RowMatrixXd(0, d);
  const int n = num_vertices();
  for (int i = 0; i < n; ++i) {
    std::string why;
    if (!metric.InDomain(points_.row(i).transpose(), &why)) {
      throw InputError("geodesic graph: point in row " + std::to_string(i) + " is outside the metric's domain: " +
                       why);
    }
  }

  // Symmetrised k-nearest-neighbour pairs (i < j), each once.
  std::vector<std::pair<int, int>> pairs;
  pairs.reserve(static_cast<std::size_t>(n) * static_cast<std::size_t>(options.neighbors));
  for (int i = 0; i < n; ++i) {
    for (const int j : NearestRows(points_, points_.row(i).transpose(), options.neighbors, i, nullptr)) {
      pairs.emplace_back(std::min(i, j), std::max(i, j));
    }
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());

  // Weights; edges of non-finite length are dropped.
  struct Edge {
    int i, j;
    double w;
  };
  std::vector<Edge> edges;
  edges.reserve(pairs.size());
  for (const auto& [i, j] : pairs) {
    const double w = SegmentLength(metric, points_.row(i).transpose(), points_.row(j).transpose(), rule_);
    if (std::isfinite(w)) edges.push_back({i, j, w});
  }
  num_edges_ = edges.size();

  // Compressed adjacency rows (the order within a row follows the sorted pairs: deterministic).
  offsets_.assign(static_cast<std::size_t>(n) + 1, 0);
  for (const Edge& e : edges) {
    ++offsets_[static_cast<std::size_t>(e.i) + 1];
    ++offsets_[static_cast<std::size_t>(e.j) + 1];
  }
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) offsets_[i + 1] += offsets_[i];
  adjacency_.resize(2 * edges.size());
  weights_.resize(2 * edges.size());
  std::vector<std::size_t> fill(offsets_.begin(), offsets_.end() - 1);
  const auto add = [&](int from, int to, double w) {
    const std::size_t k = fill[static_cast<std::size_t>(from)]++;
    adjacency_[k] = to;
    weights_[k] = w;
  };
  for (const Edge& e : edges) {
    add(e.i, e.j, e.w);
    add(e.j, e.i, e.w);
  }
}

std::vector<int> GeodesicGraph::Nearest(const VectorXd& z, int k, double* kth_distance2) const {
  return NearestRows(points_, z, k, -1, kth_distance2);
}

// ---- Queries -----------------------------------------------------------------------------------------------------

InitialCurve GeodesicGraph::ShortestPath(const Metric& metric, const VectorXd& z0, const VectorXd& z1) const {
  if (z0.size() != dim() || z1.size() != dim() || metric.dim() != dim()) {
    throw InputError("geodesic graph: z0, z1 and the metric have dimensions " + std::to_string(z0.size()) + ", " +
                     std::to_string(z1.size()) + " and " + std::to_string(metric.dim()) +
                     " but the graph points have dimension " + std::to_string(dim()));
  }
  const auto line = [&](const std::string& why) {
    InitialCurve c = InitialCurve::Line(z0, z1);
    c.description = "line (graph not used: " + why + ")";
    return c;
  };
  std::string why;
  if (!metric.InDomain(z0, &why)) return line("z0 is outside the domain: " + why);
  if (!metric.InDomain(z1, &why)) return line("z1 is outside the domain: " + why);
  const int n = num_vertices();
  if (n == 0) return line("the graph has no points");

  // Vertices 0 .. n-1 are the graph points, n is z0 (the source), n + 1 is z1 (the target).
  const int source = n, target = n + 1;
  const int k = options_.neighbors;
  std::vector<double> dist(static_cast<std::size_t>(n) + 2, kInf);
  std::vector<int> prev(static_cast<std::size_t>(n) + 2, -1);
  std::vector<double> to_target(static_cast<std::size_t>(n), kInf);  // edges graph point -> z1
  dist[static_cast<std::size_t>(source)] = 0.0;

  using Item = std::pair<double, int>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> queue;
  const auto relax = [&](int from, int to, double w) {
    const double candidate = dist[static_cast<std::size_t>(from)] + w;
    if (candidate < dist[static_cast<std::size_t>(to)]) {
      dist[static_cast<std::size_t>(to)] = candidate;
      prev[static_cast<std::size_t>(to)] = from;
      if (to != target) queue.emplace(candidate, to);
    }
  };

  double kth0 = 0.0, kth1 = 0.0;
  for (const int v : Nearest(z0, k, &kth0)) {
    const double w = SegmentLength(metric, z0, points_.row(v).transpose(), rule_);
    if (std::isfinite(w)) relax(source, v, w);
  }
  for (const int v : Nearest(z1, k, &kth1)) {
    to_target[static_cast<std::size_t>(v)] = SegmentLength(metric, points_.row(v).transpose(), z1, rule_);
  }
  // z0 ~ z1 directly when one is among the other's k nearest (no more than k - 1 graph points strictly closer).
  const double d01 = (z1 - z0).squaredNorm();
  if (d01 <= kth0 || d01 <= kth1) {
    const double w = SegmentLength(metric, z0, z1, rule_);
    if (std::isfinite(w)) relax(source, target, w);
  }

  // Dijkstra; the target has no outgoing edges, so it is final once no queued vertex is closer.
  while (!queue.empty()) {
    const auto [du, u] = queue.top();
    queue.pop();
    if (du >= dist[static_cast<std::size_t>(target)]) break;
    if (du > dist[static_cast<std::size_t>(u)]) continue;  // stale entry
    const auto us = static_cast<std::size_t>(u);
    for (std::size_t e = offsets_[us]; e < offsets_[us + 1]; ++e) relax(u, adjacency_[e], weights_[e]);
    if (std::isfinite(to_target[us])) relax(u, target, to_target[us]);
  }

  const double total = dist[static_cast<std::size_t>(target)];
  if (!std::isfinite(total)) {
    return line("z0 and z1 are not connected in the graph of " + std::to_string(n) + " points with " +
                std::to_string(num_edges_) + " edges (-graph_neighbors " + std::to_string(k) + ")");
  }
  if (!(total > 0.0)) return line("z0 and z1 are at metric distance 0");

  std::vector<int> path;
  for (int v = target; v != -1; v = prev[static_cast<std::size_t>(v)]) path.push_back(v);
  std::reverse(path.begin(), path.end());  // source, graph points ..., target

  // Times by cumulative metric length; vertices that would not advance the time (a graph point at z0 or z1, a
  // zero-length edge) are skipped so that the times increase strictly.
  InitialCurve curve;
  curve.times.push_back(0.0);
  curve.points.push_back(z0);
  for (std::size_t i = 1; i + 1 < path.size(); ++i) {
    const double t = dist[static_cast<std::size_t>(path[i])] / total;
    if (t > curve.times.back() && t < 1.0) {
      curve.times.push_back(t);
      curve.points.push_back(points_.row(path[i]).transpose());
    }
  }
  curve.times.push_back(1.0);
  curve.points.push_back(z1);
  curve.description = "graph: " + std::to_string(curve.points.size()) + " vertices, length " + FormatLength(total);
  if (path.size() == 2) curve.description += " (the straight segment is the shortest path)";
  return curve;
}

}  // namespace pushpull

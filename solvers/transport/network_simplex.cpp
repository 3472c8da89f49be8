// Exact OT between weighted sets: LEMON's network simplex (Debian's liblemon-dev, header-only for this class) on the
// complete bipartite graph sources -> targets, in exact integer arithmetic.
//
// Why integers: LEMON's documentation requires integer input data. Its pivoting tests `reduced cost < 0` and its
// feasibility test `flow on artificial arcs != 0` are exact comparisons; with double masses the final test can fail on
// round-off (a feasible problem reported infeasible) and with double costs round-off can make it pivot on -1e-17
// reduced costs. Its termination guarantee (strongly feasible spanning trees, no cycling) holds in exact arithmetic,
// so with integers run() always terminates: there is no iteration cap to hit.
//   masses: both weights uniform -> a_i = m / g, b_j = n / g (g = gcd(n, m)): exact. Otherwise each weight vector is
//           rounded to integers summing to 2^mass_bits by the largest-remainder method (each entry off by less than
//           one unit 2^-mass_bits).
//   costs:  c_ij = round(C_ij * 2^K / max C) with K = min(cost_bits, 60 - ceil(log2(n + m))): LEMON's artificial arc
//           cost is 2^62 for 64-bit integers and node potentials add up to n + m arc costs, so this keeps every
//           potential and reduced cost below 2^63.
// The plan is then optimal for the rounded costs; against the double costs it is optimal to within
// (max C) 2^-(K+1) per unit mass, which the certificate (computed on the double costs) measures.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <lemon/network_simplex.h>
#include <lemon/static_graph.h>

#include "transport_internal.hpp"

namespace pushpull::transport_detail {

namespace {

bool AllEqual(const Eigen::VectorXd& w) {
  for (Eigen::Index i = 1; i < w.size(); ++i) {
    if (w[i] != w[0]) return false;
  }
  return true;
}

// Integers proportional to w (w >= 0, sum 1) summing to `total`, each within one unit of w_i * total.
std::vector<std::int64_t> RoundMasses(const Eigen::VectorXd& w, std::int64_t total) {
  const std::size_t n = static_cast<std::size_t>(w.size());
  std::vector<std::int64_t> q(n);
  std::vector<std::pair<double, std::size_t>> remainder(n);
  const double s = w.sum();
  std::int64_t used = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double exact = w[static_cast<Eigen::Index>(i)] / s * static_cast<double>(total);
    q[i] = static_cast<std::int64_t>(std::floor(exact));
    remainder[i] = {exact - static_cast<double>(q[i]), i};
    used += q[i];
  }
  std::int64_t left = total - used;
  std::sort(remainder.begin(), remainder.end(),
            [](const auto& l, const auto& r) { return l.first > r.first || (l.first == r.first && l.second < r.second); });
  for (std::size_t k = 0; left > 0; k = (k + 1) % n, --left) ++q[remainder[k].second];
  for (std::size_t k = n; left < 0; ++left) {  // floor of a sum above total by round-off: take units back
    k = k == 0 ? n - 1 : k - 1;
    if (q[remainder[k].second] > 0) --q[remainder[k].second];
    else ++left;
  }
  return q;
}

}  // namespace

NetworkSimplexOutput SolveNetworkSimplex(const PointMatrix& cost, const Eigen::VectorXd& a, const Eigen::VectorXd& b,
                                         int mass_bits, int cost_bits) {
  using Graph = lemon::StaticDigraph;
  using Value = std::int64_t;
  NetworkSimplexOutput out;
  const std::int64_t n = cost.rows(), m = cost.cols();

  // Masses.
  std::vector<Value> sa, sb;
  Value total = 0;
  if (AllEqual(a) && AllEqual(b)) {
    const Value g = std::gcd(n, m);
    sa.assign(static_cast<std::size_t>(n), m / g);
    sb.assign(static_cast<std::size_t>(m), n / g);
    total = n / g * m;
  } else {
    total = Value{1} << mass_bits;
    sa = RoundMasses(a, total);
    sb = RoundMasses(b, total);
  }

  // Costs.
  const double cmax = cost.size() > 0 ? cost.maxCoeff() : 0.0;
  const int size_bits = static_cast<int>(std::ceil(std::log2(static_cast<double>(n + m))));
  const int bits = std::max(1, std::min(cost_bits, 60 - size_bits));
  out.cost_bits_used = bits;
  const double scale = cmax > 0 ? std::ldexp(1.0, bits) / cmax : 1.0;

  std::vector<std::pair<int, int>> arcs;
  arcs.reserve(static_cast<std::size_t>(n * m));
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < m; ++j) arcs.emplace_back(static_cast<int>(i), static_cast<int>(n + j));
  }
  Graph graph;
  graph.build(static_cast<int>(n + m), arcs.begin(), arcs.end());
  arcs.clear();
  arcs.shrink_to_fit();

  Graph::ArcMap<Value> arc_cost(graph);
  Graph::NodeMap<Value> supply(graph);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < m; ++j) {
      arc_cost[graph.arc(static_cast<int>(i * m + j))] = std::llround(cost(i, j) * scale);
    }
  }
  for (std::int64_t i = 0; i < n; ++i) supply[graph.node(static_cast<int>(i))] = sa[static_cast<std::size_t>(i)];
  for (std::int64_t j = 0; j < m; ++j) supply[graph.node(static_cast<int>(n + j))] = -sb[static_cast<std::size_t>(j)];

  lemon::NetworkSimplex<Graph, Value, Value> simplex(graph);
  simplex.costMap(arc_cost).supplyMap(supply);
  const auto outcome = simplex.run();
  if (outcome != lemon::NetworkSimplex<Graph, Value, Value>::OPTIMAL) {
    out.status = TransportStatus::kInfeasible;
    out.message = outcome == lemon::NetworkSimplex<Graph, Value, Value>::INFEASIBLE
                      ? "LEMON's network simplex found no feasible flow (the rounded masses do not balance)"
                      : "LEMON's network simplex reported an unbounded problem";
    return out;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < m; ++j) {
      const Value f = simplex.flow(graph.arc(static_cast<int>(i * m + j)));
      if (f != 0) {
        out.rows.push_back(i);
        out.cols.push_back(j);
        out.masses.push_back(static_cast<double>(f) / static_cast<double>(total));
      }
    }
  }
  // Potentials: LEMON's optimality is c_ij + pi_i - pi_j >= 0 (= 0 on arcs with flow), so u_i = -pi_i and
  // v_j = pi_{n+j} satisfy u_i + v_j <= c_ij. Shifted in integers so that u_0 = 0 (u + s, v - s changes nothing).
  const Value shift = simplex.potential(graph.node(0));
  out.u.resize(n);
  out.v.resize(m);
  for (std::int64_t i = 0; i < n; ++i) {
    out.u[i] = static_cast<double>(-(simplex.potential(graph.node(static_cast<int>(i))) - shift)) / scale;
  }
  for (std::int64_t j = 0; j < m; ++j) {
    out.v[j] = static_cast<double>(simplex.potential(graph.node(static_cast<int>(n + j))) - shift) / scale;
  }
  return out;
}

}  // namespace pushpull::transport_detail

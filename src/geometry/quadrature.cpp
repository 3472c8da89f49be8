#include "pushpull/quadrature.hpp"

#include <cmath>
#include <numbers>

namespace pushpull {

QuadratureRule GaussLegendre(int n) {
  // Roots of the Legendre polynomial P_n by Newton's method from the asymptotic guesses, then mapped to [0, 1].
  QuadratureRule rule;
  rule.nodes.resize(static_cast<std::size_t>(n));
  rule.weights.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    double x = std::cos(std::numbers::pi * (i + 0.75) / (n + 0.5));
    double dp = 1.0;
    for (int iteration = 0; iteration < 100; ++iteration) {
      double p_prev = 1.0, p = x;  // P_0, P_1
      for (int j = 2; j <= n; ++j) {
        const double p_next = ((2.0 * j - 1.0) * x * p - (j - 1.0) * p_prev) / j;
        p_prev = p;
        p = p_next;
      }
      dp = n * (x * p - p_prev) / (x * x - 1.0);  // P_n'(x)
      const double step = p / dp;
      x -= step;
      if (std::abs(step) < 1e-16) break;
    }
    // x decreases with i: node (1 - x) / 2 increases.
    rule.nodes[static_cast<std::size_t>(i)] = 0.5 * (1.0 - x);
    rule.weights[static_cast<std::size_t>(i)] = 1.0 / ((1.0 - x * x) * dp * dp);  // half the [-1, 1] weight
  }
  return rule;
}

}  // namespace pushpull

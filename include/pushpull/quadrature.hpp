// Gauss-Legendre quadrature on [0, 1]: the rule the metric lengths of curves and graph edges are integrated with.
#pragma once

#include <vector>

namespace pushpull {

struct QuadratureRule {
  std::vector<double> nodes;    // increasing, in (0, 1)
  std::vector<double> weights;  // summing to 1
};

// The n-point Gauss-Legendre rule on [0, 1] (exact for polynomials of degree 2n - 1); n >= 1.
QuadratureRule GaussLegendre(int n);

}  // namespace pushpull

#include "pushpull/initial_curve.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "pushpull/metric.hpp"
#include "pushpull/options.hpp"
#include "pushpull/quadrature.hpp"

namespace pushpull {

using Eigen::VectorXd;

InitialCurve InitialCurve::Line(const VectorXd& z0, const VectorXd& z1) {
  InitialCurve c;
  c.times = {0.0, 1.0};
  c.points = {z0, z1};
  c.description = "line";
  return c;
}

namespace {
// The edge [times[i], times[i+1]] that holds t (the last edge for t >= its start).
std::size_t Edge(const std::vector<double>& times, double t) {
  const auto it = std::upper_bound(times.begin(), times.end(), t);
  const std::size_t i = it == times.begin() ? 0 : static_cast<std::size_t>(it - times.begin()) - 1;
  return std::min(i, times.size() - 2);
}
}  // namespace

VectorXd InitialCurve::PointAt(double t) const {
  const std::size_t i = Edge(times, t);
  const double dt = times[i + 1] - times[i];
  const double s = (t - times[i]) / dt;
  if (velocities.empty()) return (1.0 - s) * points[i] + s * points[i + 1];
  // Cubic Hermite basis on the edge.
  const double s2 = s * s, s3 = s2 * s;
  return (2 * s3 - 3 * s2 + 1) * points[i] + (s3 - 2 * s2 + s) * dt * velocities[i] +
         (-2 * s3 + 3 * s2) * points[i + 1] + (s3 - s2) * dt * velocities[i + 1];
}

VectorXd InitialCurve::VelocityAt(double t) const {
  const std::size_t i = Edge(times, t);
  const double dt = times[i + 1] - times[i];
  if (velocities.empty()) return (points[i + 1] - points[i]) / dt;
  const double s = (t - times[i]) / dt, s2 = s * s;
  return ((6 * s2 - 6 * s) * points[i] + (-6 * s2 + 6 * s) * points[i + 1]) / dt +
         (3 * s2 - 4 * s + 1) * velocities[i] + (3 * s2 - 2 * s) * velocities[i + 1];
}

std::string InitialCurve::Validate(const VectorXd& z0, const VectorXd& z1) const {
  if (times.size() < 2 || times.size() != points.size()) {
    return "an initial curve needs at least 2 vertices and one time per vertex (got " +
           std::to_string(points.size()) + " points, " + std::to_string(times.size()) + " times)";
  }
  if (times.front() != 0.0 || times.back() != 1.0) return "the times of an initial curve must run from 0 to 1";
  for (std::size_t i = 0; i < times.size(); ++i) {
    if (points[i].size() != z0.size() || !points[i].allFinite()) {
      return "vertex " + std::to_string(i) + " of the initial curve has the wrong dimension or is not finite";
    }
    if (i > 0 && !(times[i] > times[i - 1])) {
      return "the times of the initial curve must increase strictly (vertex " + std::to_string(i) + ": " +
             FormatReal(times[i]) + ")";
    }
  }
  if (!velocities.empty()) {
    if (velocities.size() != points.size()) {
      return "an initial curve's velocities must be one per vertex (got " + std::to_string(velocities.size()) +
             " for " + std::to_string(points.size()) + " vertices)";
    }
    for (std::size_t i = 0; i < velocities.size(); ++i) {
      if (velocities[i].size() != z0.size() || !velocities[i].allFinite()) {
        return "the velocity at vertex " + std::to_string(i) + " of the initial curve has the wrong dimension or "
               "is not finite";
      }
    }
  }
  if (points.front() != z0 || points.back() != z1) {
    return "the initial curve must start at z0 = " + FormatPoint(z0) + " and end at z1 = " + FormatPoint(z1);
  }
  return {};
}

double MetricLength(const Metric& metric, const InitialCurve& curve, double* error) {
  static const QuadratureRule two = GaussLegendre(2), four = GaussLegendre(4);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto speed = [&](double t) {
    const VectorXd z = curve.PointAt(t);
    const VectorXd v = curve.VelocityAt(t);
    if (!metric.InDomain(z, nullptr)) return nan;
    return std::sqrt(std::max(v.dot(metric.Evaluate(z) * v), 0.0));
  };
  auto integrate = [&](const QuadratureRule& rule) {
    double length = 0;
    for (std::size_t i = 0; i + 1 < curve.times.size(); ++i) {
      const double a = curve.times[i], h = curve.times[i + 1] - a;
      for (std::size_t k = 0; k < rule.nodes.size(); ++k) length += h * rule.weights[k] * speed(a + h * rule.nodes[k]);
    }
    return length;
  };
  const double l4 = integrate(four);
  if (!std::isfinite(l4)) return nan;
  if (error) *error = std::abs(l4 - integrate(two));
  return l4;
}

}  // namespace pushpull

#include "pushpull/initial_curve.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "pushpull/metric.hpp"
#include "pushpull/options.hpp"

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
  const double s = (t - times[i]) / (times[i + 1] - times[i]);
  return (1.0 - s) * points[i] + s * points[i + 1];
}

VectorXd InitialCurve::VelocityAt(double t) const {
  const std::size_t i = Edge(times, t);
  return (points[i + 1] - points[i]) / (times[i + 1] - times[i]);
}

VectorXd InitialCurve::InitialVelocity() const {
  return start_velocity.size() > 0 ? start_velocity : VelocityAt(0.0);
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
  if (start_velocity.size() > 0 && (start_velocity.size() != z0.size() || !start_velocity.allFinite())) {
    return "the start velocity of the initial curve has the wrong dimension or is not finite";
  }
  if (points.front() != z0 || points.back() != z1) {
    return "the initial curve must start at z0 = " + FormatPoint(z0) + " and end at z1 = " + FormatPoint(z1);
  }
  return {};
}

}  // namespace pushpull

// An initial guess for a geodesic boundary-value problem: a polyline in latent space from z0 to z1 with a time
// t_i in [0, 1] at each vertex (t_0 = 0, t_last = 1). Geodesics have constant speed, so a good guess spaces the
// times in proportion to the metric length of the edges; a straight line is the two-vertex polyline.
// The logarithm-map solvers read it at any time: single shooting takes the velocity at t = 0, multiple shooting the
// points and velocities at the segment starts.
#pragma once

#include <string>
#include <vector>

#include <Eigen/Core>

namespace pushpull {

class Metric;

struct InitialCurve {
  std::vector<double> times;            // strictly increasing, times.front() == 0, times.back() == 1
  std::vector<Eigen::VectorXd> points;  // same count as times, at least 2; points.front() == z0, back() == z1
  std::string description;              // how the guess was made (stored with the results)
  // Optional (empty: none): estimates of g'(t_i) at the vertices, e.g. from the decoded discrete geodesic. When
  // given, PointAt and VelocityAt follow the cubic Hermite interpolant through (t_i, points[i], velocities[i])
  // instead of the polyline, so that single shooting starts from velocities[0] and multiple shooting's segment
  // starts are fourth- instead of second-order accurate between vertices.
  std::vector<Eigen::VectorXd> velocities;
  // Whether the curve already approximates a geodesic (the discrete geodesic does; a line or a graph path does
  // not). Single shooting's coarse presolve level, which takes the long first steps from a rough guess, is skipped
  // for a refined one.
  bool refined = false;

  // The straight line z0 -> z1.
  static InitialCurve Line(const Eigen::VectorXd& z0, const Eigen::VectorXd& z1);

  // Position and velocity at t in [0, 1]: the cubic Hermite interpolant when velocities are given, else the
  // polyline (at a vertex the velocity is then that of the edge that starts there, of the last edge at t = 1).
  Eigen::VectorXd PointAt(double t) const;
  Eigen::VectorXd VelocityAt(double t) const;

  // Empty when valid; otherwise what is wrong (sizes, times, non-finite points, end points not z0/z1).
  std::string Validate(const Eigen::VectorXd& z0, const Eigen::VectorXd& z1) const;
};

// The metric length int_0^1 sqrt(c'^T M(c) c') dt of the curve c (PointAt/VelocityAt): Gauss-Legendre with 4 nodes on
// each edge, *error (when not null) the difference from 2 nodes. Any curve's length bounds the distance between its
// end points from above. NaN when the metric cannot be evaluated along the curve (outside its domain, non-finite).
double MetricLength(const Metric& metric, const InitialCurve& curve, double* error = nullptr);

}  // namespace pushpull

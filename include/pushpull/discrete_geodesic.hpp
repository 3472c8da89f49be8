// The discrete geodesic of a decoder: the latent polyline z0 = x_0, x_1, ..., x_N = z1 whose decoded image has the
// least energy
//   E(x) = N sum_{i<N} |f(x_{i+1}) - f(x_i)|^2,
// the energy of the decoded polyline with uniform times, a discretisation of E[g] of MATH.md section 3: as N grows
// its minimisers approach the geodesic (errors O(1/N^2)) and E the geodesic's energy L^2. It is what PyTorch tools
// such as stochman compute as "the" geodesic; here it is the default initial guess of the logarithm map
// (-bvp_init discrete), whose shooting then solves the exact geodesic equation from it. Only metrics of a decoder
// (pullback and stochastic) have it. Its vertex velocities (from the decoded curve) make it a cubic Hermite curve.
//
// Minimisation: Levenberg-Marquardt on the interior points with the Gauss-Newton matrix of the residuals
// f(x_{i+1}) - f(x_i): block tridiagonal (d x d blocks 2 J_i^T J_i and -J_i^T J_{i+1}), solved by block Cholesky in
// O(N d^3); each iteration evaluates the decoder's value and Jacobian at the N - 1 interior points (one forward
// pass each for MlpDecoder). From the straight line it converges to the discrete geodesic next to the line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "pushpull/initial_curve.hpp"
#include "pushpull/metric.hpp"

namespace pushpull {

class OptionsDatabase;

struct DiscreteGeodesicOptions {
  int segments = 16;         // N: segments of the polyline (N - 1 free interior points)
  int max_iterations = 50;   // Levenberg-Marquardt iterations (accepted and rejected steps)
  double rtol = 1e-4;        // stop once a step lowers E (or the model predicts the next one to) by < rtol * E

  // Declares -<prefix>segments, -<prefix>max_iterations, -<prefix>rtol ("bvp_discrete_" by default) and applies
  // values from the database. Throws InputError naming the option.
  void SetFromOptions(OptionsDatabase& db, std::string_view prefix = "bvp_discrete_");
  // Empty when valid; otherwise "<field>: <value> must be ..." (the option name without prefix first).
  std::string Validate() const;
};

struct DiscreteGeodesic {
  std::vector<Eigen::VectorXd> points;  // x_0 = z0, ..., x_N = z1
  double energy = 0;     // E at the final points
  double length = 0;     // sum |f(x_{i+1}) - f(x_i)|: the length of the decoded polyline in data space
  std::vector<double> edge_lengths;  // |f(x_{i+1}) - f(x_i)|, i = 0..N-1
  // Estimates of the geodesic's velocity g'(t_i) at every vertex (times as in ToInitialCurve): the velocity of the
  // quadratic through the decoded vertex and its neighbours (one-sided at the ends), pulled back by least squares
  // with J(x_i). Empty when the polyline could not be evaluated or a J(x_i) has not full rank.
  std::vector<Eigen::VectorXd> velocities;
  int iterations = 0;    // Levenberg-Marquardt iterations taken
  bool converged = false;  // the relative energy decrease (taken or predicted) fell below rtol, or E is stationary
  std::string message;     // how it stopped

  // The polyline as an initial curve: times proportional to the data-space length of the edges (a geodesic has
  // constant speed), with the vertex velocities (a cubic Hermite curve) when they are known.
  InitialCurve ToInitialCurve() const;
};

// Minimises E from the straight line z0 -> z1. Never throws for numerical trouble: a trial step that leaves the
// decoder's domain or gives non-finite values is rejected (the damping grows); the result is the best polyline
// found, with converged = false and the reason when the iteration did not settle. Throws InputError for invalid
// options or z0, z1 of the wrong dimension.
DiscreteGeodesic MinimizeDiscreteEnergy(const Decoder& decoder, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1,
                                        const DiscreteGeodesicOptions& options);

// Same, from the given start polyline instead of the straight line (continuation in N: a converged polyline,
// upsampled). `start` has options.segments + 1 points; its first and last are replaced by z0 and z1. From the
// straight line z0 + (z1 - z0) i / N it gives exactly the result of the overload above. Throws InputError when
// `start` has the wrong number of points or a point of the wrong dimension.
DiscreteGeodesic MinimizeDiscreteEnergy(const Decoder& decoder, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1,
                                        const DiscreteGeodesicOptions& options,
                                        const std::vector<Eigen::VectorXd>& start);

}  // namespace pushpull

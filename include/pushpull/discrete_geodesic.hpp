// The discrete geodesic of a decoder: the latent polyline z0 = x_0, x_1, ..., x_N = z1 whose decoded image has the
// least energy
//   E(x) = N sum_{i<N} |f(x_{i+1}) - f(x_i)|^2,
// the energy of the decoded polyline with uniform times, a discretisation of E[g] of docs/math.md section 3: as N grows
// its minimisers approach the geodesic (errors O(1/N^2)) and E the geodesic's energy L^2. It is what PyTorch tools
// such as stochman compute as "the" geodesic; here it is the default initial guess of the logarithm map
// (-bvp_init discrete), whose shooting then solves the exact geodesic equation from it. Only metrics of a decoder
// (pullback and stochastic) have it. Its vertex velocities (from the decoded curve) make it a cubic Hermite curve.
//
// Minimisation: Levenberg-Marquardt on the interior points with the Gauss-Newton matrix of the residuals
// f(x_{i+1}) - f(x_i): block tridiagonal (d x d blocks 2 J_i^T J_i and -J_i^T J_{i+1}), solved by block Cholesky in
// O(N d^3); each iteration evaluates the decoder's value and Jacobian at the N - 1 interior points (one forward
// pass each for MlpDecoder). With `newton`, the diagonal blocks also carry the decoder's second derivatives (the exact
// Hessian, same sparsity), for quadratic convergence. From the straight line it converges to the discrete geodesic
// next to the line.
#pragma once

#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "pushpull/initial_curve.hpp"
#include "pushpull/metric.hpp"

namespace pushpull {

class OptionsDatabase;

struct DiscreteGeodesicOptions {
  int segments = 64;         // N: segments of the polyline (N - 1 free interior points)
  int max_iterations = 300;  // Levenberg-Marquardt iterations (accepted and rejected steps)
  double rtol = 1e-4;        // stop once a step lowers E (or the model predicts the next one to) by < rtol * E
  // Then, when > 0, polish: undamped Gauss-Newton steps (E changes only by round-off there, so they are taken unless
  // E rises by more than rtol * E) until the largest vertex step (max norm, latent units) is at most this. The
  // energy is quadratic in the vertices, so the energy test alone leaves them accurate to about sqrt(rtol) only;
  // the extrapolation's initial velocity needs more (-bvp_extrapolation_xtol). Not an option of its own.
  double xtol = 0;
  // -<prefix>newton: the step's matrix is the exact Hessian of E (the Gauss-Newton matrix plus the decoder's second
  // derivatives contracted with the discrete accelerations 2 f(x_i) - f(x_{i-1}) - f(x_{i+1})) whenever its block
  // Cholesky succeeds, else the Gauss-Newton matrix. Gauss-Newton alone converges only linearly here (E's residuals
  // do not vanish at the minimum): on curves that bend sharply in data space it took hundreds of iterations per
  // mesh; Newton converges quadratically near the minimum. Off for the initial guess (-bvp_discrete_newton), whose
  // loose energy test Gauss-Newton meets in fewer decoder passes; on in the extrapolation (-bvp_extrapolation_newton).
  bool newton = false;

  // Declares -<prefix>segments, -<prefix>max_iterations, -<prefix>rtol, -<prefix>newton ("bvp_discrete_" by default)
  // and applies values from the database. Throws InputError naming the option.
  void SetFromOptions(OptionsDatabase& db, std::string_view prefix = "bvp_discrete_");
  // Empty when valid; otherwise the error SetFromOptions(prefix) would give for these values.
  std::string Validate(std::string_view prefix = "bvp_discrete_") const;
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

// ---- Richardson extrapolation of discrete geodesics --------------------------------------------------------------
// The minimal energy of the discrete geodesic has an expansion sqrt(E_N) = L + c_2 / N^2 + c_4 / N^4 + ... in the
// segments N (for a smooth decoder and a minimiser that does not change with N), so a sequence of N with continuation
// (each minimiser upsampled as the next start) and Richardson extrapolation in 1/N^2 gives the geodesic's length with
// an error estimate, by a method independent of the geodesic equation (validation/bench/geodesic_reference uses it).

struct Extrapolation {
  double value = std::numeric_limits<double>::quiet_NaN();
  // The larger of |T_KK - T_K,K-1| and |T_K,K-1 - T_K-1,K-1| (NaN with one level).
  double error = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::vector<double>> table;  // table[k][j], j <= k: level j from L_{k-j} .. L_k
};
// Richardson extrapolation in h^2 = 1/N^2 of L[k] computed with N[k] segments.
Extrapolation Richardson(const std::vector<int>& N, const std::vector<double>& L);

// A polyline of x.size() - 1 segments resampled to `to` segments by cubic Lagrange interpolation in the vertex index
// (linear for fewer than 4 vertices); the end points are kept exactly.
std::vector<Eigen::VectorXd> Upsample(const std::vector<Eigen::VectorXd>& x, int to);

struct ExtrapolatedDiscreteGeodesic {
  std::vector<int> segments;        // N of each level
  std::vector<double> sqrt_energy;  // sqrt(E_N) of each level
  Extrapolation length;             // extrapolated sqrt(E_N) and its error estimate
  DiscreteGeodesic finest;          // the minimiser of the last level
  bool converged = true;            // every minimisation converged
  std::string message;              // the first that did not, or "converged"
  int iterations = 0;               // Levenberg-Marquardt iterations of all levels
  // g'(0) of each level's minimiser (the quartic through its first five decoded vertices, pulled back: an O(1/N^2)
  // estimate) and their Richardson
  // extrapolation over the same levels as the length, with the largest error estimate of its components (empty /
  // NaN when a level has no vertex velocities).
  std::vector<Eigen::VectorXd> start_velocities;
  Eigen::VectorXd initial_velocity;
  double initial_velocity_error = std::numeric_limits<double>::quiet_NaN();
};

// When to stop adding meshes (ExtendDiscreteExtrapolation).
struct ExtrapolationTarget {
  int levels = 3;         // meshes always computed; the extrapolation uses the last this many
  double length_rtol = 0; // then more meshes while the error estimate exceeds length_rtol * length (0: no more)
  double length_error = 0;  // or, when larger than length_rtol * length, while it exceeds this (absolute)
  int max_segments = 0;   // but none finer than this many segments
};

// Minimises E on meshes N0, 2 N0, 4 N0, ... (options.segments = N0), each from the previous minimiser upsampled, the
// first from `start` (a polyline z0 .. z1, upsampled to N0; the straight line when null or empty), and extrapolates
// sqrt(E_N). The minimiser found is the one next to the start: start from the best curve you have.
// Throws InputError for invalid options, levels < 2 or a start that does not run from z0 to z1.
ExtrapolatedDiscreteGeodesic ExtrapolateDiscreteGeodesic(const Decoder& decoder, const Eigen::VectorXd& z0,
                                                         const Eigen::VectorXd& z1,
                                                         const DiscreteGeodesicOptions& options, int levels,
                                                         const std::vector<Eigen::VectorXd>* start = nullptr);

// Adds meshes to *x (empty, or a result of this function or of ExtrapolateDiscreteGeodesic for the same end points
// and options), each twice as fine as the last, until it has target.levels of them and then while the extrapolated
// length's error estimate exceeds target.length_rtol times the length and the next mesh has at most
// target.max_segments segments. The extrapolation uses the last target.levels meshes. With target.length_rtol = 0
// it is ExtrapolateDiscreteGeodesic (the same numbers). Throws as that does.
void ExtendDiscreteExtrapolation(const Decoder& decoder, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1,
                                 const DiscreteGeodesicOptions& options, const ExtrapolationTarget& target,
                                 const std::vector<Eigen::VectorXd>* start, ExtrapolatedDiscreteGeodesic* x);

}  // namespace pushpull

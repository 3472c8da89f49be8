// The logarithm map Log_{z0}(z1): the geodesic boundary-value problem g(0) = z0, g(1) = z1 of a Metric, solved by
// a registry of BVP solvers (-bvp_type):
//   shooting           single shooting: Ceres Levenberg-Marquardt on the initial velocity u, residual g_u(1) - z1,
//                      Jacobian d g(1)/d u from CVODES forward sensitivities of the geodesic system;
//   multiple_shooting  K segments (-bvp_segments): unknowns are the state (g, g') at each segment start, residuals
//                      the continuity of the state and the end point, a block-sparse Jacobian from per-segment
//                      sensitivities, Ceres with a sparse linear solver.
//   collocation        the Lobatto IIIA / MIRK4 discretisation of the geodesic system on a mesh seeded by the initial
//                      curve, Newton (Ceres Levenberg-Marquardt, sparse) on the block-bidiagonal system, a defect
//                      estimate per interval and mesh refinement below -bvp_collocation_tol.
//   discrete           (metrics of a decoder) discrete geodesics on meshes of 64, 128, 256, ... segments (the
//                      variational discretisation of the geodesic problem: it needs f and J only) and Richardson
//                      extrapolation of their lengths and initial velocities, more meshes until the length's error
//                      estimate is below -bvp_extrapolation_length_rtol.
//   auto (default)     discrete for a decoder whose second derivative jumps (elu), where the geodesic equation's
//                      right-hand side jumps too and every shot crawls through thousands of steps; otherwise
//                      multiple_shooting (from the 64-segment discrete geodesic it is as fast as single shooting on
//                      smooth random decoders and about ten times faster on trained ones).
// A shooting or collocation solve converges only if the final u, re-integrated over [0, 1] with the verification
// integrator (tight tolerances), lands within -bvp_tol of z1. A discrete solve converges when the extrapolated
// length's error estimate is within -bvp_extrapolation_length_rtol; its u is re-integrated too and the result is
// kSuccess when that lands within -bvp_tol, else kExtrapolated (usable: the length and the curve are converged, the
// initial velocity is the extrapolated estimate and endpoint_error its miss).
// LogMap then:
// - falls back (-bvp_fallback, default) to multiple shooting (unless it was the -bvp_type), then to collocation from
//   the best curve so far, when the -bvp_type solver fails;
// - checks minimality (-bvp_minimality_rtol): a verified geodesic longer than the metric length of the initial
//   curve (an upper bound of the distance) is re-solved by collocation from that curve; a geodesic of a hard solve
//   (a fallback, or more than -bvp_minimality_check_iterations iterations) is also compared with the extrapolated
//   discrete geodesic (decoders); if it stays longer, its status is kNotMinimal, unless (decoders) the discrete
//   geodesics extrapolated to -bvp_extrapolation_length_rtol converge: then they are the result (kExtrapolated or
//   kSuccess), with the finding in `minimality` and the message;
// - when nothing is verified (and -bvp_fallback), for a decoder's metric, extrapolates discrete geodesics as the
//   discrete solver does (kExtrapolated or kSuccess when they converge); else returns kApproximate: the
//   extrapolated discrete geodesic with its error estimate, or the best curve found.
// Numerical failure is a status with a message, never an exception; invalid input throws.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "pushpull/discrete_geodesic.hpp"
#include "pushpull/geodesic.hpp"
#include "pushpull/initial_curve.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/monitor.hpp"
#include "pushpull/registry.hpp"

namespace pushpull {

class OptionsDatabase;

// The collocation solver (-bvp_type collocation, and the fallback).
struct CollocationOptions {
  double tol = 1e-6;        // -bvp_collocation_tol: relative defect |S' - F(S)|_inf / (1 + |F(S)|_inf) per interval
  int intervals = 16;       // -bvp_collocation_intervals: intervals of the first mesh (uniform in the curve's time)
  int max_intervals = 1024; // -bvp_collocation_max_intervals: mesh refinement stops here
  double trust_radius = 1e8;  // -bvp_collocation_trust_radius: initial trust-region radius of its Newton iteration
  // -bvp_collocation_seed_segments: as the fallback, collocation starts from a discrete geodesic of this many segments
  // (metrics of a decoder; 0 = from the best curve so far).
  int seed_segments = 0;
};

// -bvp_extrapolation_*: the discrete geodesics behind -bvp_type discrete (and the minimality checks and approximate
// results of the other solvers).
struct ExtrapolationOptions {
  int segments = 64;          // N of the coarsest mesh
  int levels = 3;             // meshes always computed; the extrapolation uses the last this many (< 2: none at all)
  double length_rtol = 1e-7;  // -bvp_type discrete converges when the length's error estimate is below this (relative)
  int max_segments = 8192;    // finer meshes are added (doubling N) while it is not, up to this N
  double energy_rtol = 1e-10; // energy test of each minimisation (as -bvp_discrete_rtol) ...
  double xtol = 1e-11;        // ... then polished until the vertex steps are below this (DiscreteGeodesicOptions)
  int max_iterations = 1000;  // Levenberg-Marquardt iterations of each minimisation
  bool verify = true;         // re-integrate the extrapolated initial velocity and report the miss at z1
  bool newton = true;         // exact-Hessian steps in those minimisations (DiscreteGeodesicOptions::newton)
};

struct LogMapOptions {
  // -bvp_type: a name of BvpSolvers(). "auto": discrete for a decoder whose second derivative jumps (elu; the
  // geodesic equation's right-hand side then jumps too), multiple_shooting otherwise.
  std::string type = "auto";
  // -bvp_init: the initial guess LogMap makes when it is given none. "discrete": the discrete geodesic of the
  // metric's decoder (-bvp_discrete_*; metrics without a decoder start from the line); "line": the straight segment
  // z0 -> z1; "graph": the caller passes GeodesicGraph::ShortestPath (the CLI does, from -graph_points).
  std::string init = "discrete";
  DiscreteGeodesicOptions discrete;  // -bvp_discrete_segments, -bvp_discrete_max_iterations, -bvp_discrete_rtol
  int segments = 8;               // -bvp_segments: segments of multiple shooting
  double tol = 1e-6;              // -bvp_tol: max |g_u(1) - z1| after re-integrating the final u
  int max_iterations = 50;        // -bvp_max_iterations: Levenberg-Marquardt iterations
  double stop_factor = 1e-2;      // -bvp_stop_factor: iterations stop once |shot residual|_2 <= stop_factor * tol
  // -bvp_stagnation_iterations, -bvp_stagnation_reduction: an iteration stops (unconverged, for the next solver of
  // the chain) once its residual norm is above stagnation_reduction times its value stagnation_iterations before.
  int stagnation_iterations = 10;
  double stagnation_reduction = 0.1;
  bool fallback = true;           // -bvp_fallback: retry a failed solve by collocation from the best curve so far
  CollocationOptions collocation;  // -bvp_collocation_*
  // -bvp_minimality_rtol: a verified geodesic whose length exceeds (1 + this) times the metric length of the initial
  // curve (plus that quadrature's error estimate) is not the distance; < 0 = no check.
  double minimality_rtol = 1e-6;
  // -bvp_minimality_check_iterations: a geodesic whose solve took more iterations than this (or came from a fallback
  // solver) is also compared with the extrapolated discrete geodesic (metrics of a decoder).
  int minimality_check_iterations = 10;
  // -bvp_extrapolation_*: discrete geodesics on meshes of segments * 2^k segments with Richardson extrapolation of
  // their lengths (metrics of a decoder): the -bvp_type discrete solver, the minimality check of hard solves and the
  // result when nothing else is verified.
  ExtrapolationOptions extrapolation;
  double presolve_rtol = 1e-4;    // -bvp_presolve_rtol: single shooting first iterates with shots this loose; 0 = off
  double presolve_coarse_rtol = 1e-2;  // -bvp_presolve_coarse_rtol: and before, with shots this loose; 0 = off
  double presolve_coarse_trust_radius = 10;  // -bvp_presolve_coarse_trust_radius: its initial trust-region radius
  std::int64_t presolve_max_steps = 150;  // -bvp_presolve_max_steps: step limit of a presolve shot
  int refine_iterations = 4;      // -bvp_refine_iterations: Newton steps on verification shots after the presolve
  int start_halvings = 6;         // -bvp_start_halvings: halve a first shot's velocity that fails, this often at most
  GeodesicOptions shots = ShotGeodesic();     // integrator of the shots (-bvp_ode_rtol ...): CVODES adams or bdf
  GeodesicOptions verify = TightGeodesic();   // re-integration of the final u (-bvp_verify_ode_rtol ...)

  // Declares -<prefix>bvp_type, -<prefix>bvp_segments, -<prefix>bvp_tol, -<prefix>bvp_max_iterations,
  // -<prefix>bvp_stop_factor, -<prefix>bvp_fallback, -<prefix>bvp_jacobian_error_control and the integrators
  // -<prefix>bvp_ode_* (the shots: GeodesicOptions::OdeOptionsRead(true)) and -<prefix>bvp_verify_ode_*; each
  // value is checked against its declared bound, then the constraints between options.
  void SetFromOptions(OptionsDatabase& db, std::string_view prefix = "");
  // Empty when valid; otherwise the error SetFromOptions would give for these values (naming the option, its
  // value and the violated bound or constraint).
  std::string Validate() const;

  // Shots: Adams (geodesic equations are smooth and non-stiff), and a step limit far above what a geodesic of a
  // smooth metric needs (a few hundred steps), so that a wild trial step of the iteration fails fast instead of
  // crawling into a degenerate region of the metric (-bvp_ode_max_steps).
  static GeodesicOptions ShotGeodesic() {
    GeodesicOptions g;
    g.ode.prefix = "bvp_";
    g.ode.type = "adams";
    g.ode.rtol = 1e-8;
    g.ode.atol = 1e-10;
    g.ode.max_steps = 1000;
    // The shots only steer the iteration (the verification decides): a looser corrector test (SUNDIALS' default
    // is 0.1) saves about a quarter of their evaluations (validation/bench/bench_geodesic).
    g.ode.nonlinear_convergence = 1.0;
    return g;
  }
  // The verification: 1000 times tighter than the default -bvp_tol (relative to a latent scale of 1), with the
  // shots' corrector test (coefficient 1: the corrector may leave an error up to the local error tolerance, i.e. a
  // step's error at most about doubles; 25% fewer evaluations than SUNDIALS' 0.1, the same length errors). On 300
  // pairs of the benchmark decoder, rtol 1e-9 against 1e-10 took 20% fewer evaluations, and the relative length
  // errors against the reference solves went from 4.6e-10 to 2.4e-9 (median), 2.0e-8 to 2.8e-8 (worst):
  // bench_geodesic -bench_verify_rtol. Tighten it with -bvp_tol.
  static GeodesicOptions TightGeodesic() {
    GeodesicOptions g;
    g.ode.prefix = "bvp_verify_";
    g.ode.rtol = 1e-9;
    g.ode.atol = 1e-11;
    g.ode.nonlinear_convergence = 1.0;
    g.integrate_length = false;
    return g;
  }
};

struct LogMapResult {
  GeodesicStatus status = GeodesicStatus::kSuccess;
  std::string message;
  // Verified by re-integration (kSuccess) or converged as the limit of discrete geodesics (kExtrapolated).
  bool usable() const { return Usable(status); }

  std::string solver;                // the BVP solver that produced this result ("shooting", ...)
  Eigen::VectorXd initial_velocity;  // Log_{z0}(z1)
  double length = 0;                 // sqrt(u^T M(z0) u): the geodesic distance (if the geodesic is minimal)
  double energy = 0;                 // u^T M(z0) u
  double endpoint_error = 0;         // max |g_u(1) - z1| after re-integration (every solver, collocation too)
  int iterations = 0;                // Levenberg-Marquardt iterations (all solvers tried)
  ExpMapResult final_shot;           // the verifying integration of the final u
  // Collocation: the largest relative defect of the final mesh (NaN when no collocation produced the result).
  double defect = std::numeric_limits<double>::quiet_NaN();
  // discrete solver and kApproximate: an estimate of the error of `length` (NaN otherwise).
  double length_error = std::numeric_limits<double>::quiet_NaN();
  // The solver's own curve when it has one (collocation: the mesh with its velocities; kApproximate: the best
  // curve found); empty otherwise (the curve of a verified result is ExpMap of initial_velocity).
  InitialCurve curve;
  // The metric length of the initial curve, an upper bound of the distance (NaN when the check did not run), and
  // what the minimality check found ("" when it passed or did not run).
  double curve_length_bound = std::numeric_limits<double>::quiet_NaN();
  std::string minimality;
  // Statistics of every geodesic integration of this LogMap call (the shots with their sensitivities, the
  // verifications, the minimality checks' shots; ExpMap and ExpMapWithJacobian record them), and its wall time.
  OdeStats stats;
  double seconds = 0;
};

// One Levenberg-Marquardt iteration of a BVP solve, for -bvp_monitor and research code.
struct BvpIterationEvent {
  std::string solver;
  int iteration = 0;
  double cost = 0;              // 1/2 |residual|^2
  double gradient_max_norm = 0;
  double step_norm = 0;
  double trust_region_radius = 0;
  bool step_successful = false;
};
using BvpMonitor = Monitor<BvpIterationEvent>;

// A BVP solver of the -bvp_type registry. Solve starts from `guess` (an initial curve z0 -> z1) and reports
// iterations to `monitor` when not null.
class BvpSolver {
 public:
  virtual ~BvpSolver() = default;
  virtual LogMapResult Solve(const Metric& metric, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1,
                             const InitialCurve& guess, BvpMonitor* monitor) = 0;
};
using BvpSolverRegistry = Registry<BvpSolver, const LogMapOptions&>;
// shooting, multiple_shooting, collocation, discrete, auto; research code may register its own.
BvpSolverRegistry& BvpSolvers();
// The solver -bvp_type names for this metric: options.type, with "auto" resolved (discrete for a decoder whose
// smoothness() is below 2 when -bvp_extrapolation_levels allows it, else multiple_shooting).
std::string ResolveBvpType(const Metric& metric, const LogMapOptions& options);

// Log_{z0}(z1) with the -bvp_type solver from `guess` (when null, the -bvp_init guess: the discrete geodesic of a
// decoder's metric or the straight line), then the fallback. Throws InputError for invalid options, end points of
// the wrong dimension, an invalid guess, or no guess with -bvp_init graph.
LogMapResult LogMap(const Metric& metric, const Eigen::VectorXd& z0, const Eigen::VectorXd& z1,
                    const LogMapOptions& options, const InitialCurve* guess = nullptr,
                    BvpMonitor* monitor = nullptr);

// A -bvp_monitor that prints one line per iteration ("label: solver it cost |grad| |step| radius") to a stream.
std::unique_ptr<BvpMonitor> MakeBvpPrinter(std::ostream& out, std::string label);

}  // namespace pushpull

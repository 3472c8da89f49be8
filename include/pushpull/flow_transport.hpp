// Flow-versus-optimal-transport diagnostics of a continuous normalizing flow (docs/transport.md, docs/math.md).
//
// Base draws z_i (N x d, from the flow's base N(0, I)) are pushed forward to T(z_i) by the pushforward engine with
// the kinetic and curl quadratures switched on. Over the samples whose integration succeeded (n of them):
//   action        E K,               K_i = int ||v(x_t, t)||^2 dt along trajectory i
//   displacement  E ||T(z) - z||^2
//   w2_squared    exact W2^2 between the empirical measures of {z_i} and {T(z_i)} (exact solver, uniform weights)
//   straightness  E ||T(z) - z||^2 / E K  (1 for straight lines at constant speed)
//   curl          E R,               R_i = int ||dv/dx - (dv/dx)^T||_F^2 dt along trajectory i (0 for a gradient)
// Benamou-Brenier: E K >= E ||T(z) - z||^2 >= W2^2, with equality for the optimal flow; on the samples,
// action_i >= displacement_i holds per trajectory, and w2_squared <= mean displacement always (the flow's pairing
// is one coupling of the two empirical measures).
// Standard errors: sample standard deviation / sqrt(n) for the means; the delta method for the ratio; for
// w2_squared the central limit theorem of empirical OT (del Barrio and Loubes 2019): the empirical cost fluctuates
// like the mean of u(z_i) + v(T(z_i)) with the optimal potentials u, v, so its standard error is the standard
// deviation of u_i + v_i over i divided by sqrt(n). It does not include the bias of the empirical W2^2 (which
// shrinks like n^(-2/d) for d >= 5 and faster in low dimension).
#pragma once

#include <cstddef>
#include <limits>

#include <Eigen/Core>

#include "pushpull/field.hpp"
#include "pushpull/optimal_transport.hpp"
#include "pushpull/pushforward.hpp"

namespace pushpull {

struct MeanEstimate {
  double value = std::numeric_limits<double>::quiet_NaN();
  double standard_error = std::numeric_limits<double>::quiet_NaN();
};

struct FlowTransportDiagnostics {
  std::size_t samples = 0;  // base draws
  std::size_t used = 0;     // samples whose integration succeeded (the statistics are over these)
  MeanEstimate action, displacement, w2_squared, straightness, curl;
  Eigen::VectorXd displacement_per_sample;  // ||T(z_i) - z_i||^2 (NaN for failed samples)
  PushforwardResult push;                   // the pushforward (kinetic and curl per sample, statuses)
  ExactTransportResult transport;           // the exact OT between the used base draws and their images
  double seconds = 0;
};

// Pushes `base_draws` forward with `flow` (kinetic and curl forced on) and computes the diagnostics above with the
// exact solver configured by `ot` (its cost is forced to sqeuclidean). Throws InputError for invalid options; a
// transport solve that is not `usable()` leaves w2_squared NaN (its status and message are in `transport`).
FlowTransportDiagnostics ComputeFlowTransportDiagnostics(const VectorField& field, double base_time,
                                                         const RowMatrixXd& base_draws,
                                                         const PushforwardOptions& flow,
                                                         const ExactTransportOptions& ot,
                                                         const PushforwardHooks& hooks = {});

// Mean and its standard error (sample standard deviation / sqrt(n)) of the finite entries of `x`.
MeanEstimate EstimateMean(const Eigen::VectorXd& x);

}  // namespace pushpull

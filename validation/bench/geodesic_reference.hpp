// The reference-length computation of geodesic_reference (validation/bench/geodesic_reference.cpp), in a header so
// that tests can run it: discrete geodesics at increasing N (continuation: each minimiser upsampled as the next
// start) and Richardson extrapolation of L_N in 1/N^2.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "pushpull/discrete_geodesic.hpp"
#include "pushpull/metric.hpp"

namespace pushpull::reference {

using Eigen::VectorXd;

struct ReferenceSettings {
  double rtol = 1e-13;         // of each discrete minimisation
  int max_iterations = 10000;  // Levenberg-Marquardt iterations per minimisation
  bool sqrt_energy = true;     // extrapolate sqrt(E_N) (else the sum of decoded chords) for the observed order
  // Adaptation: while the observed order of the last three L_N is off 2 by more than order_slack (and their last
  // difference is above noise_floor relative), double N, up to max_segments (0 = no adaptation); the extrapolation
  // then uses the last as many N as given.
  int max_segments = 0;
  double target_error = 0;  // also double N while the estimated relative error exceeds this (0 = off)
  double order_slack = 0.3;
  double noise_floor = 1e-10;
};

// Richardson extrapolation (Richardson, Extrapolation) and the continuation's Upsample are the library's
// (pushpull/discrete_geodesic.hpp).
using pushpull::Extrapolation;
using pushpull::Richardson;
using pushpull::Upsample;

// The observed order of a sequence s_0, s_1, s_2 at constant ratio r of N: log((s0 - s1) / (s1 - s2)) / log r.
inline double Order(double s0, double s1, double s2, double r) {
  return std::log(std::abs((s0 - s1) / (s1 - s2))) / std::log(r);
}

// ---- One pair --------------------------------------------------------------------------------------------------

// Segments of the stored latent curve (vertices of the finest discrete geodesic, evenly spaced in index): enough to
// tell which geodesic a solver found when several exist.
constexpr int kCurvePoints = 64;

struct PairResult {
  std::vector<int> segments;  // the N of the entries below: the given ones, or the last as many after adaptation
  std::vector<double> sqrt_energy, chord, iterations;
  bool asymptotic = true;     // see Asymptotic()
  Extrapolation by_energy, by_chord;
  bool converged = true;
  std::string message = "converged";
  double max_abs_z = 0;
  double seconds = 0;
  double observed_order = std::nan("");  // of L_N from the last three N (constant ratio only)
  std::vector<VectorXd> curve;            // kCurvePoints + 1 vertices of the finest polyline
};

// Whether the last three entries of L (constant ratio of N) look asymptotic: observed order within slack of 2, or
// differences at the noise floor.
inline bool Asymptotic(const std::vector<int>& N, const std::vector<double>& L, const ReferenceSettings& o,
                       double* order) {
  const std::size_t K = L.size();
  *order = std::nan("");
  if (K < 3 || N[K - 1] * N[K - 3] != N[K - 2] * N[K - 2]) return true;
  *order = Order(L[K - 3], L[K - 2], L[K - 1], static_cast<double>(N[K - 1]) / N[K - 2]);
  if (std::abs(L[K - 2] - L[K - 1]) <= o.noise_floor * std::abs(L[K - 1])) return true;
  return std::abs(*order - 2.0) <= o.order_slack;
}

inline PairResult ComputePair(const Decoder& decoder, const VectorXd& z0, const VectorXd& z1, std::vector<int> N,
                              const ReferenceSettings& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t window = N.size();
  PairResult r;
  std::vector<double> sqrt_energy, chord, iterations;
  std::vector<VectorXd> points;
  for (std::size_t k = 0;; ++k) {
    if (k == N.size()) {
      double order = 0;
      const std::vector<double>& L = o.sqrt_energy ? sqrt_energy : chord;
      bool done = Asymptotic(N, L, o, &order);
      if (done && o.target_error > 0 && k >= window) {
        const std::vector<int> last_n(N.end() - static_cast<std::ptrdiff_t>(window), N.end());
        const std::vector<double> last_l(L.end() - static_cast<std::ptrdiff_t>(window), L.end());
        const Extrapolation e = Richardson(last_n, last_l);
        done = !(e.error > o.target_error * std::abs(e.value));
      }
      if (done || o.max_segments <= 0 || 2 * N.back() > o.max_segments) break;
      N.push_back(2 * N.back());
    }
    DiscreteGeodesicOptions dgo;
    dgo.segments = N[k];
    dgo.rtol = o.rtol;
    dgo.max_iterations = o.max_iterations;
    dgo.newton = true;  // the same minimum, reached in a few Newton steps instead of hundreds of Gauss-Newton ones
    const DiscreteGeodesic g = k == 0 ? MinimizeDiscreteEnergy(decoder, z0, z1, dgo)
                                      : MinimizeDiscreteEnergy(decoder, z0, z1, dgo, Upsample(points, N[k]));
    sqrt_energy.push_back(std::sqrt(g.energy));
    chord.push_back(g.length);
    iterations.push_back(g.iterations);
    if (!g.converged && r.converged) {
      r.converged = false;
      r.message = "N = " + std::to_string(N[k]) + ": " + g.message;
    }
    points = g.points;
  }
  for (const VectorXd& x : points) r.max_abs_z = std::max(r.max_abs_z, x.norm());
  for (int j = 0; j <= kCurvePoints; ++j) {
    const auto i = static_cast<std::size_t>(std::lround(static_cast<double>(j) * N.back() / kCurvePoints));
    r.curve.push_back(points[i]);
  }
  // The last `window` levels.
  const std::size_t skip = N.size() - window;
  r.segments.assign(N.begin() + static_cast<std::ptrdiff_t>(skip), N.end());
  r.sqrt_energy.assign(sqrt_energy.begin() + static_cast<std::ptrdiff_t>(skip), sqrt_energy.end());
  r.chord.assign(chord.begin() + static_cast<std::ptrdiff_t>(skip), chord.end());
  r.iterations.assign(iterations.begin() + static_cast<std::ptrdiff_t>(skip), iterations.end());
  r.asymptotic = Asymptotic(r.segments, o.sqrt_energy ? r.sqrt_energy : r.chord, o, &r.observed_order);
  r.by_energy = Richardson(r.segments, r.sqrt_energy);
  r.by_chord = Richardson(r.segments, r.chord);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace pushpull::reference

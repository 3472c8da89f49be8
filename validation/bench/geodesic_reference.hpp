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
  int max_iterations = 2000;   // Levenberg-Marquardt iterations per minimisation
  bool sqrt_energy = true;     // extrapolate sqrt(E_N) (else the sum of decoded chords) for the observed order
};

// ---- Richardson extrapolation in h^2 = 1/N^2 -------------------------------------------------------------------

struct Extrapolation {
  double value = std::nan("");
  double error = std::nan("");            // |last diagonal entry - the entry left of it|
  std::vector<std::vector<double>> table;  // table[k][j], j <= k: level j from L_{k-j} .. L_k
};

inline Extrapolation Richardson(const std::vector<int>& N, const std::vector<double>& L) {
  Extrapolation e;
  const std::size_t K = L.size();
  e.table.resize(K);
  for (std::size_t k = 0; k < K; ++k) {
    e.table[k].resize(k + 1);
    e.table[k][0] = L[k];
    for (std::size_t j = 1; j <= k; ++j) {
      const double ratio = static_cast<double>(N[k]) / static_cast<double>(N[k - j]);
      e.table[k][j] = e.table[k][j - 1] + (e.table[k][j - 1] - e.table[k - 1][j - 1]) / (ratio * ratio - 1.0);
    }
  }
  if (K > 0) e.value = e.table[K - 1][K - 1];
  if (K > 1) e.error = std::abs(e.table[K - 1][K - 1] - e.table[K - 1][K - 2]);
  return e;
}

// ---- Continuation in N: the converged polyline of N segments as the start of N' segments ------------------------

// Cubic Lagrange interpolation in the vertex index (linear when there are fewer than 4 vertices).
inline std::vector<VectorXd> Upsample(const std::vector<VectorXd>& x, int to) {
  const int n = static_cast<int>(x.size()) - 1;
  std::vector<VectorXd> y(static_cast<std::size_t>(to) + 1);
  for (int j = 0; j <= to; ++j) {
    const double u = static_cast<double>(j) * n / to;  // position in the old index
    if (n < 3) {
      const int i = std::min(static_cast<int>(std::floor(u)), n - 1);
      const double t = u - i;
      y[static_cast<std::size_t>(j)] = (1 - t) * x[static_cast<std::size_t>(i)] + t * x[static_cast<std::size_t>(i) + 1];
      continue;
    }
    const int i = std::clamp(static_cast<int>(std::floor(u)), 1, n - 2);  // stencil i - 1 .. i + 2
    const double t = u - i;                                                 // nodes at -1, 0, 1, 2
    const double w0 = -t * (t - 1) * (t - 2) / 6, w1 = (t + 1) * (t - 1) * (t - 2) / 2,
                 w2 = -(t + 1) * t * (t - 2) / 2, w3 = (t + 1) * t * (t - 1) / 6;
    const auto at = [&](int k) -> const VectorXd& { return x[static_cast<std::size_t>(k)]; };
    y[static_cast<std::size_t>(j)] = w0 * at(i - 1) + w1 * at(i) + w2 * at(i + 1) + w3 * at(i + 2);
  }
  y.front() = x.front();
  y.back() = x.back();
  return y;
}

// The observed order of a sequence s_0, s_1, s_2 at constant ratio r of N: log((s0 - s1) / (s1 - s2)) / log r.
inline double Order(double s0, double s1, double s2, double r) {
  return std::log(std::abs((s0 - s1) / (s1 - s2))) / std::log(r);
}

// ---- One pair --------------------------------------------------------------------------------------------------

// Segments of the stored latent curve (vertices of the finest discrete geodesic, evenly spaced in index): enough to
// tell which geodesic a solver found when several exist.
constexpr int kCurvePoints = 64;

struct PairResult {
  std::vector<double> sqrt_energy, chord, iterations;
  Extrapolation by_energy, by_chord;
  bool converged = true;
  std::string message = "converged";
  double max_abs_z = 0;
  double seconds = 0;
  double observed_order = std::nan("");  // of L_N from the last three N (constant ratio only)
  std::vector<VectorXd> curve;            // kCurvePoints + 1 vertices of the finest polyline
};

inline PairResult ComputePair(const Decoder& decoder, const VectorXd& z0, const VectorXd& z1, const std::vector<int>& N,
                              const ReferenceSettings& o) {
  const auto t0 = std::chrono::steady_clock::now();
  PairResult r;
  std::vector<VectorXd> start;
  for (std::size_t k = 0; k < N.size(); ++k) {
    DiscreteGeodesicOptions dgo;
    dgo.segments = N[k];
    dgo.rtol = o.rtol;
    dgo.max_iterations = o.max_iterations;
    const DiscreteGeodesic g = k == 0 ? MinimizeDiscreteEnergy(decoder, z0, z1, dgo)
                                        : MinimizeDiscreteEnergy(decoder, z0, z1, dgo, start);
    r.sqrt_energy.push_back(std::sqrt(g.energy));
    r.chord.push_back(g.length);
    r.iterations.push_back(g.iterations);
    if (!g.converged && r.converged) {
      r.converged = false;
      r.message = "N = " + std::to_string(N[k]) + ": " + g.message;
    }
    if (k + 1 == N.size()) {
      for (const VectorXd& x : g.points) r.max_abs_z = std::max(r.max_abs_z, x.norm());
      for (int j = 0; j <= kCurvePoints; ++j) {
        const auto i = static_cast<std::size_t>(std::lround(static_cast<double>(j) * N[k] / kCurvePoints));
        r.curve.push_back(g.points[i]);
      }
    } else {
      start = Upsample(g.points, N[k + 1]);
    }
  }
  const std::size_t K = N.size();
  if (K >= 3 && N[K - 1] * N[K - 3] == N[K - 2] * N[K - 2]) {
    const std::vector<double>& L = o.sqrt_energy ? r.sqrt_energy : r.chord;
    r.observed_order = Order(L[K - 3], L[K - 2], L[K - 1], static_cast<double>(N[K - 1]) / N[K - 2]);
  }
  r.by_energy = Richardson(N, r.sqrt_energy);
  r.by_chord = Richardson(N, r.chord);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace pushpull::reference

// The discrete geodesic of a decoder (include/pushpull/discrete_geodesic.hpp): Levenberg-Marquardt on the interior
// points of a latent polyline, Gauss-Newton matrix of the decoded edges, block tridiagonal solve.
#include "pushpull/discrete_geodesic.hpp"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "pushpull/errors.hpp"
#include "pushpull/options.hpp"

namespace pushpull {

using Eigen::MatrixXd;
using Eigen::VectorXd;

// ---- Options -----------------------------------------------------------------------------------------------------

void DiscreteGeodesicOptions::SetFromOptions(OptionsDatabase& db, std::string_view prefix) {
  db.SetSection("Discrete-geodesic initial guess of the logarithm map (prefix '" + std::string(prefix) + "')");
  db.Int(prefix, "segments", segments,
         "With -bvp_init discrete: segments N of the latent polyline whose decoded energy N sum |f(x_{i+1}) - "
         "f(x_i)|^2 is minimised (its error against the geodesic falls like 1/N^2; each iteration costs N - 1 "
         "decoder Jacobians)",
         "DiscreteGeodesicOptions::segments", IntBounds{2, 1 << 20});
  db.Int(prefix, "max_iterations", max_iterations,
         "Levenberg-Marquardt iterations (accepted and rejected steps) of the discrete-geodesic minimisation",
         "DiscreteGeodesicOptions::max_iterations", IntBounds::AtLeast(1));
  db.Real(prefix, "rtol", rtol,
          "The discrete-geodesic minimisation stops once a step lowers the decoded energy by less than rtol times "
          "the energy, or the Gauss-Newton model predicts that of the next undamped step (which is then not taken); "
          "the shooting that follows solves the exact geodesic equation in any case",
          "DiscreteGeodesicOptions::rtol", RealBounds::Positive());
  db.Bool(prefix, "newton", newton,
          "Steps with the exact Hessian of the decoded energy (the Gauss-Newton matrix plus the decoder's second "
          "derivatives contracted with the discrete accelerations) whenever it is positive definite, else "
          "Gauss-Newton steps: quadratic instead of linear convergence near the minimum, at the cost of the second "
          "derivatives at every vertex per accepted step",
          "DiscreteGeodesicOptions::newton");
}

std::string DiscreteGeodesicOptions::Validate(std::string_view prefix) const {
  DiscreteGeodesicOptions copy = *this;
  return CheckDeclared([&](OptionsDatabase& db) { copy.SetFromOptions(db, prefix); });
}

// ---- The polyline as an initial curve ------------------------------------------------------------------------------

namespace {

// Vertex times in proportion to the decoded edge lengths (a geodesic has constant speed); uniform when an edge has
// no finite, positive length.
std::vector<double> VertexTimes(const std::vector<double>& edge_lengths, std::size_t n) {
  std::vector<double> cumulative(n, 0.0);
  bool proportional = n >= 2 && edge_lengths.size() == n - 1;
  for (std::size_t i = 1; i < n && proportional; ++i) {
    const double edge = edge_lengths[i - 1];
    if (!(edge > 0) || !std::isfinite(edge)) proportional = false;
    cumulative[i] = cumulative[i - 1] + edge;
  }
  std::vector<double> times(n);
  for (std::size_t i = 0; i < n; ++i) {
    times[i] = proportional ? cumulative[i] / cumulative[n - 1] : static_cast<double>(i) / static_cast<double>(n - 1);
  }
  times.front() = 0.0;
  times.back() = 1.0;
  return times;
}

// The derivative at t of the quadratic through (ta, ya), (tb, yb), (tc, yc) (Lagrange form).
VectorXd QuadraticDerivative(double t, double ta, const VectorXd& ya, double tb, const VectorXd& yb, double tc,
                             const VectorXd& yc) {
  return ((t - tb) + (t - tc)) / ((ta - tb) * (ta - tc)) * ya + ((t - ta) + (t - tc)) / ((tb - ta) * (tb - tc)) * yb +
         ((t - ta) + (t - tb)) / ((tc - ta) * (tc - tb)) * yc;
}

}  // namespace

InitialCurve DiscreteGeodesic::ToInitialCurve() const {
  InitialCurve c;
  c.points = points;
  const std::size_t n = points.size();
  c.times = VertexTimes(edge_lengths, n);
  c.velocities = velocities;
  c.refined = converged;
  c.description = "discrete geodesic (" + std::to_string(n - 1) + " segments, " + std::to_string(iterations) +
                  " iterations" + (converged ? "" : ", not converged: " + message) + ")";
  return c;
}

// ---- Minimisation ------------------------------------------------------------------------------------------------

namespace {

// Values and Jacobians of the decoder at the vertices of a polyline, and its energy.
struct Evaluation {
  std::vector<VectorXd> f;  // f(x_i), i = 0..N
  std::vector<MatrixXd> J;  // J(x_i) for the interior vertices (index i; the end points' entries stay empty)
  double energy = 0;
  bool ok = false;
  std::string why;
};

void Evaluate(const Decoder& decoder, const std::vector<VectorXd>& x, Evaluation* e) {
  const std::size_t n = x.size();
  e->f.resize(n);
  e->J.resize(n);
  e->ok = false;
  for (std::size_t i = 1; i + 1 < n; ++i) {
    if (!decoder.InDomain(x[i], &e->why)) return;
    decoder.ValueAndJacobian(x[i], &e->f[i], &e->J[i]);
    if (!e->f[i].allFinite() || !e->J[i].allFinite()) {
      e->why = "the decoder is not finite at " + FormatPoint(x[i]);
      return;
    }
  }
  double sum = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) sum += (e->f[i + 1] - e->f[i]).squaredNorm();
  e->energy = static_cast<double>(n - 1) * sum;
  e->ok = std::isfinite(e->energy);
  if (!e->ok) e->why = "the energy is not finite";
}

// The second-order part of the Hessian of E / (2 N) at every interior vertex: S_i = sum_a r_a f_a''(x_i) with the
// discrete acceleration r = 2 f(x_i) - f(x_{i-1}) - f(x_{i+1}) (d x d, symmetric). False when a second derivative
// is not finite.
bool SecondOrderTerms(const Decoder& decoder, const std::vector<VectorXd>& x, const Evaluation& e,
                      std::vector<MatrixXd>* S) {
  const std::size_t n = x.size();
  const Eigen::Index d = x.front().size();
  const VectorXd still = VectorXd::Zero(d);
  MatrixXd J, H, T;
  for (std::size_t i = 1; i + 1 < n; ++i) {
    decoder.GeodesicJet(x[i], still, &J, &H, &T);  // H column p + d q = f''[e_p, e_q]
    const VectorXd h = H.transpose() * (2.0 * e.f[i] - e.f[i - 1] - e.f[i + 1]);
    MatrixXd& s = (*S)[i - 1];
    s = Eigen::Map<const MatrixXd>(h.data(), d, d);
    s = 0.5 * (s + s.transpose()).eval();
    if (!s.allFinite()) return false;
  }
  return true;
}

// Solves (A + mu I) delta = -b for the block tridiagonal A with diagonal blocks D[k] and super-diagonal blocks
// C[k] = A_{k,k+1} (k = 0..m-1) by block Cholesky. False when a pivot block is not positive definite.
bool SolveBlockTridiagonal(const std::vector<MatrixXd>& D, const std::vector<MatrixXd>& C,
                           const std::vector<VectorXd>& b, double mu, std::vector<Eigen::LLT<MatrixXd>>* pivots,
                           std::vector<VectorXd>* y, std::vector<VectorXd>* delta) {
  const std::size_t m = D.size();
  const Eigen::Index d = D.front().rows();
  MatrixXd S(d, d);
  for (std::size_t k = 0; k < m; ++k) {
    S = D[k];
    S.diagonal().array() += mu;
    (*y)[k] = -b[k];
    if (k > 0) {
      // S_k = A_k - C_{k-1}^T S_{k-1}^{-1} C_{k-1}, y_k = r_k - C_{k-1}^T S_{k-1}^{-1} y_{k-1}
      S.noalias() -= C[k - 1].transpose() * (*pivots)[k - 1].solve(C[k - 1]);
      (*y)[k].noalias() -= C[k - 1].transpose() * (*pivots)[k - 1].solve((*y)[k - 1]);
    }
    (*pivots)[k].compute(S);
    if ((*pivots)[k].info() != Eigen::Success) return false;
  }
  for (std::size_t k = m; k-- > 0;) {
    VectorXd r = (*y)[k];
    if (k + 1 < m) r.noalias() -= C[k] * (*delta)[k + 1];
    (*delta)[k] = (*pivots)[k].solve(r);
    if (!(*delta)[k].allFinite()) return false;
  }
  return true;
}

}  // namespace

namespace {

void CheckArguments(const Decoder& decoder, const VectorXd& z0, const VectorXd& z1,
                    const DiscreteGeodesicOptions& options) {
  const std::string problem = options.Validate();
  if (!problem.empty()) throw InputError("MinimizeDiscreteEnergy: " + problem);
  const int d = decoder.input_dim();
  if (z0.size() != d || z1.size() != d) {
    throw InputError("MinimizeDiscreteEnergy: z0 has " + std::to_string(z0.size()) + " and z1 " +
                     std::to_string(z1.size()) + " entries, the decoder's input dimension is " + std::to_string(d));
  }
}

DiscreteGeodesic Minimize(const Decoder& decoder, const VectorXd& z0, const VectorXd& z1,
                          const DiscreteGeodesicOptions& options, std::vector<VectorXd> x);

}  // namespace

DiscreteGeodesic MinimizeDiscreteEnergy(const Decoder& decoder, const VectorXd& z0, const VectorXd& z1,
                                        const DiscreteGeodesicOptions& options) {
  CheckArguments(decoder, z0, z1, options);
  const int N = options.segments;
  std::vector<VectorXd> x(static_cast<std::size_t>(N) + 1);
  for (int i = 0; i <= N; ++i) x[static_cast<std::size_t>(i)] = z0 + (z1 - z0) * (static_cast<double>(i) / N);
  x.back() = z1;
  return Minimize(decoder, z0, z1, options, std::move(x));
}

DiscreteGeodesic MinimizeDiscreteEnergy(const Decoder& decoder, const VectorXd& z0, const VectorXd& z1,
                                        const DiscreteGeodesicOptions& options, const std::vector<VectorXd>& start) {
  CheckArguments(decoder, z0, z1, options);
  const std::size_t n = static_cast<std::size_t>(options.segments) + 1;
  if (start.size() != n) {
    throw InputError("MinimizeDiscreteEnergy: the start polyline has " + std::to_string(start.size()) +
                     " points, segments = " + std::to_string(options.segments) + " needs " + std::to_string(n));
  }
  for (const VectorXd& p : start) {
    if (p.size() != z0.size()) {
      throw InputError("MinimizeDiscreteEnergy: a point of the start polyline has " + std::to_string(p.size()) +
                       " entries, the decoder's input dimension is " + std::to_string(z0.size()));
    }
  }
  std::vector<VectorXd> x = start;
  x.front() = z0;
  x.back() = z1;
  return Minimize(decoder, z0, z1, options, std::move(x));
}

namespace {

DiscreteGeodesic Minimize(const Decoder& decoder, const VectorXd& z0, const VectorXd& z1,
                          const DiscreteGeodesicOptions& options, std::vector<VectorXd> x) {
  const int d = decoder.input_dim();
  const int N = options.segments;
  const std::size_t m = static_cast<std::size_t>(N - 1);  // unknown blocks: block k is vertex k + 1

  DiscreteGeodesic out;

  Evaluation current, trial;
  current.f.resize(x.size());
  current.f.front() = decoder.Value(z0);
  current.f.back() = decoder.Value(z1);
  trial.f = current.f;
  Evaluate(decoder, x, &current);
  if (!current.ok) {
    out.message = "the straight line cannot be evaluated (" + current.why + ")";
  } else {
    std::vector<MatrixXd> D(m), C(m - 1), S(m), A(m);
    std::vector<VectorXd> b(m), y(m), delta(m);
    std::vector<Eigen::LLT<MatrixXd>> pivots(m);
    std::vector<VectorXd> candidate = x;
    // Levenberg damping mu = lambda * (mean diagonal entry of the Gauss-Newton matrix), so that lambda does not
    // depend on the scale of the decoder; divided by 3 after an accepted step, multiplied by 4 after a rejected one.
    // The smallest eigenvalue of the matrix, relative to its mean diagonal, falls as 1/N^2 (the slowest mode of the
    // chain): a damping floor above it would slow the iteration on fine meshes to linear convergence (33 instead of 4
    // Newton iterations at 2048 segments on a trained decoder). So the floor, 1e-6 at 64 segments (nearly
    // Gauss-Newton: from the line it usually converges in a step), falls as 1/N^2.
    const double coarse = 64.0 / static_cast<double>(N);
    const double lambda_floor = 1e-6 * coarse * coarse;
    double lambda = lambda_floor;
    constexpr double kMaxLambda = 1e12;  // the step is then ~1e-12 of a gradient step: nothing lowers E any more
    bool assembled = false;
    bool have_newton = false;  // S and A = D + S hold the exact Hessian at the current points
    bool polishing = false;  // energy converged (rtol); now undamped steps until they are below xtol
    double last_step = std::numeric_limits<double>::quiet_NaN();
    double mean_diagonal = 0;
    out.message = "the iteration limit (" + std::to_string(options.max_iterations) + ") was reached";
    while (out.iterations < options.max_iterations) {
      if (!assembled) {
        // Gauss-Newton matrix and gradient (both divided by 2 N) of E at the current points.
        double trace = 0, gradient = 0;
        for (std::size_t k = 0; k < m; ++k) {
          const std::size_t i = k + 1;
          const MatrixXd& Ji = current.J[i];
          D[k].noalias() = 2.0 * Ji.transpose().lazyProduct(Ji);
          b[k].noalias() = Ji.transpose() * (2.0 * current.f[i] - current.f[i - 1] - current.f[i + 1]);
          if (k + 1 < m) C[k].noalias() = -Ji.transpose().lazyProduct(current.J[i + 1]);
          trace += D[k].trace();
          gradient = std::max(gradient, b[k].cwiseAbs().maxCoeff());
        }
        if (!(gradient > 0) || !(trace > 0)) {  // E = 0, or a flat decoder: nothing to improve
          out.converged = true;
          out.message = "stationary";
          break;
        }
        mean_diagonal = trace / static_cast<double>(m * static_cast<std::size_t>(d));
        have_newton = options.newton && SecondOrderTerms(decoder, x, current, &S);
        if (have_newton) {
          for (std::size_t k = 0; k < m; ++k) A[k] = D[k] + S[k];
        }
        assembled = true;
      }
      // Newton's matrix when it is positive definite (with the current damping), else Gauss-Newton's.
      const bool newton_step = have_newton && SolveBlockTridiagonal(A, C, b, lambda * mean_diagonal, &pivots, &y, &delta);
      const bool solved =
          newton_step || SolveBlockTridiagonal(D, C, b, lambda * mean_diagonal, &pivots, &y, &delta);
      const std::vector<MatrixXd>& used = newton_step ? A : D;
      if (solved && lambda <= lambda_floor) {
        // The decrease of E the Gauss-Newton model predicts for this (undamped) step: -N (2 b.delta + delta^T A
        // delta) (b and A are the gradient and Gauss-Newton matrix divided by 2 N). If even that is below
        // rtol * E, the energy is converged and the step is not taken (with xtol, polishing starts instead).
        double predicted = 0, step = 0;
        for (std::size_t k = 0; k < m; ++k) {
          predicted -= 2.0 * b[k].dot(delta[k]) + delta[k].dot(used[k] * delta[k]);
          if (k + 1 < m) predicted -= 2.0 * delta[k].dot(C[k] * delta[k + 1]);
          step = std::max(step, delta[k].cwiseAbs().maxCoeff());
        }
        last_step = step;
        if (polishing && step <= options.xtol) {
          out.converged = true;
          out.message = "converged (vertex steps below xtol)";
          break;
        }
        if (!polishing && N * predicted <= options.rtol * current.energy) {
          if (!(options.xtol > 0) || step <= options.xtol) {
            out.converged = true;
            out.message = "converged";
            break;
          }
          polishing = true;
        }
      }
      ++out.iterations;
      bool accepted = false;
      if (solved) {
        for (std::size_t k = 0; k < m; ++k) candidate[k + 1] = x[k + 1] + delta[k];
        Evaluate(decoder, candidate, &trial);
        // Polishing: the energy changes are round-off, so the (undamped) step is taken unless the energy rises by
        // more than rtol * E, which ends the polish with the energy converged.
        accepted = trial.ok && (trial.energy < current.energy ||
                                (polishing && trial.energy <= current.energy * (1.0 + options.rtol)));
        if (polishing && !accepted) {
          out.converged = true;
          out.message = "converged (energy; a polishing step raised it)";
          break;
        }
      }
      if (accepted) {
        const double decrease = current.energy - trial.energy;
        std::swap(x, candidate);
        std::swap(current, trial);
        assembled = false;
        lambda = std::max(lambda_floor, lambda / 3.0);
        if (!polishing && decrease <= options.rtol * current.energy) {
          if (!(options.xtol > 0)) {
            out.converged = true;
            out.message = "converged";
            break;
          }
          polishing = true;
        }
      } else {
        lambda *= 4.0;
        if (lambda > kMaxLambda) {
          out.message = "no step lowers the energy";
          break;
        }
      }
    }
    if (polishing && !out.converged) {
      // The energy had converged; only the polish ran out of iterations (Gauss-Newton converges linearly): the
      // vertices are as accurate as the energy test makes them, and the message says how far the polish got.
      out.converged = true;
      out.message = "converged (energy; the polish stopped at vertex steps of " + FormatReal(last_step) +
                    ", above xtol " + FormatReal(options.xtol) + ": " + out.message + ")";
    }
  }
  out.points = std::move(x);
  out.edge_lengths.resize(out.points.size() - 1);
  out.length = 0;
  for (std::size_t i = 0; i + 1 < out.points.size(); ++i) {
    out.edge_lengths[i] = current.ok ? (current.f[i + 1] - current.f[i]).norm() : 0.0;
    out.length += out.edge_lengths[i];
  }
  out.energy = current.ok ? current.energy : std::numeric_limits<double>::quiet_NaN();
  if (current.ok) {
    // g'(t_i) from the decoded curve, which has constant speed and bends only as much as the decoder's image does:
    // the velocity of the quadratic through the decoded vertex and its two neighbours (one-sided at the ends),
    // pulled back by the least-squares solve J(x_i) u = v. Near a point where the latent speed changes fast (a small
    // metric), a quadratic in latent space is worse (at z0, on five pairs of the benchmark decoder, 1.4-38 times).
    const std::size_t n = out.points.size();
    const std::vector<double> t = VertexTimes(out.edge_lengths, n);
    std::vector<MatrixXd> J = std::move(current.J);
    decoder.ValueAndJacobian(z0, nullptr, &J.front());
    decoder.ValueAndJacobian(z1, nullptr, &J.back());
    std::vector<VectorXd> velocities(n);
    bool ok = true;
    for (std::size_t i = 0; i < n && ok; ++i) {
      const std::size_t a = i == 0 ? 0 : (i + 1 == n ? n - 3 : i - 1);  // the three vertices a, a + 1, a + 2
      const VectorXd v = QuadraticDerivative(t[i], t[a], current.f[a], t[a + 1], current.f[a + 1], t[a + 2],
                                             current.f[a + 2]);
      const Eigen::LDLT<MatrixXd> normal(J[i].transpose() * J[i]);
      ok = normal.info() == Eigen::Success && normal.isPositive();
      if (ok) velocities[i] = normal.solve(J[i].transpose() * v);
      ok = ok && velocities[i].allFinite();
    }
    if (ok) out.velocities = std::move(velocities);
  }
  return out;
}

}  // namespace

Extrapolation Richardson(const std::vector<int>& N, const std::vector<double>& L) {
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
  if (K > 1) {
    // The change of the last two extrapolants of one level covers the actual error far more often than the last
    // diagonal step alone (geodesic_reference on the development decoders); the larger of the two is reported.
    e.error = std::abs(e.table[K - 1][K - 1] - e.table[K - 1][K - 2]);
    if (K > 2) e.error = std::max(e.error, std::abs(e.table[K - 1][K - 2] - e.table[K - 2][K - 2]));
  }
  return e;
}

std::vector<VectorXd> Upsample(const std::vector<VectorXd>& x, int to) {
  const int n = static_cast<int>(x.size()) - 1;
  std::vector<VectorXd> y(static_cast<std::size_t>(to) + 1);
  for (int j = 0; j <= to; ++j) {
    const double u = static_cast<double>(j) * n / to;  // position in the old index
    if (n < 3) {
      const int i = std::min(static_cast<int>(std::floor(u)), n - 1);
      const double t = u - i;
      y[static_cast<std::size_t>(j)] =
          (1 - t) * x[static_cast<std::size_t>(i)] + t * x[static_cast<std::size_t>(i) + 1];
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

namespace {

// g'(0) of a discrete geodesic to fourth order in its vertex spacing: the derivative at t_0 of the quartic through
// the first five decoded vertices (times as in ToInitialCurve), pulled back by least squares with J(x_0). Its error
// is then the O(1/N^2) of the vertices themselves, which Richardson extrapolation removes (a second-order formula
// would leave an O(1/N^3) term that it does not). Empty when the polyline has fewer than five vertices or cannot be
// evaluated.
VectorXd StartVelocity(const Decoder& decoder, const DiscreteGeodesic& g) {
  constexpr std::size_t kPoints = 5;
  if (g.points.size() < kPoints || g.edge_lengths.size() + 1 != g.points.size()) return {};
  const std::vector<double> t = VertexTimes(g.edge_lengths, g.points.size());
  VectorXd v = VectorXd::Zero(decoder.output_dim());
  MatrixXd J;
  for (std::size_t j = 0; j < kPoints; ++j) {
    // L_j'(t_0) of the Lagrange basis on t_0 .. t_4.
    double w = 0;
    if (j == 0) {
      for (std::size_t m = 1; m < kPoints; ++m) w += 1.0 / (t[0] - t[m]);
    } else {
      double numerator = 1, denominator = 1;
      for (std::size_t m = 0; m < kPoints; ++m) {
        if (m == j) continue;
        denominator *= t[j] - t[m];
        if (m != 0) numerator *= t[0] - t[m];
      }
      w = numerator / denominator;
    }
    if (!std::isfinite(w)) return {};
    VectorXd f;
    decoder.ValueAndJacobian(g.points[j], &f, j == 0 ? &J : nullptr);
    v += w * f;
  }
  const Eigen::LDLT<MatrixXd> normal(J.transpose() * J);
  if (normal.info() != Eigen::Success || !normal.isPositive()) return {};
  VectorXd u = normal.solve(J.transpose() * v);
  return u.allFinite() ? u : VectorXd();
}

}  // namespace

ExtrapolatedDiscreteGeodesic ExtrapolateDiscreteGeodesic(const Decoder& decoder, const VectorXd& z0,
                                                         const VectorXd& z1, const DiscreteGeodesicOptions& options,
                                                         int levels, const std::vector<VectorXd>* start) {
  ExtrapolatedDiscreteGeodesic r;
  ExtrapolationTarget target;
  target.levels = levels;
  ExtendDiscreteExtrapolation(decoder, z0, z1, options, target, start, &r);
  return r;
}

void ExtendDiscreteExtrapolation(const Decoder& decoder, const VectorXd& z0, const VectorXd& z1,
                                 const DiscreteGeodesicOptions& options, const ExtrapolationTarget& target,
                                 const std::vector<VectorXd>* start, ExtrapolatedDiscreteGeodesic* x) {
  if (target.levels < 2) {
    throw InputError("ExtrapolateDiscreteGeodesic: levels " + std::to_string(target.levels) + " must be >= 2");
  }
  ExtrapolatedDiscreteGeodesic& r = *x;
  if (r.segments.empty()) r.message = "converged";
  DiscreteGeodesicOptions o = options;
  const auto want_more = [&] {
    const int k = static_cast<int>(r.segments.size());
    if (k < target.levels) return true;
    const double n = 2.0 * r.segments.back();
    const double allowed = std::max(target.length_rtol * std::abs(r.length.value), target.length_error);
    return allowed > 0 && n <= target.max_segments && r.finest.points.size() >= 2 && !(r.length.error <= allowed);
  };
  while (want_more()) {
    if (!r.segments.empty()) {
      o.segments = 2 * r.segments.back();
      r.finest = MinimizeDiscreteEnergy(decoder, z0, z1, o, Upsample(r.finest.points, o.segments));
    } else if (start && start->size() >= 2) {
      r.finest = MinimizeDiscreteEnergy(decoder, z0, z1, o, Upsample(*start, o.segments));
    } else {
      r.finest = MinimizeDiscreteEnergy(decoder, z0, z1, o);
    }
    r.segments.push_back(o.segments);
    r.iterations += r.finest.iterations;
    r.sqrt_energy.push_back(std::sqrt(r.finest.energy));
    r.start_velocities.push_back(StartVelocity(decoder, r.finest));
    if (!r.finest.converged && r.converged) {
      r.converged = false;
      r.message = "N = " + std::to_string(o.segments) + ": " + r.finest.message;
    }
    // The extrapolation of the last target.levels meshes (all of them while there are fewer).
    const std::size_t k = r.segments.size();
    const std::size_t first = k > static_cast<std::size_t>(target.levels) ? k - target.levels : 0;
    const std::vector<int> N(r.segments.begin() + static_cast<std::ptrdiff_t>(first), r.segments.end());
    r.length = Richardson(N, std::vector<double>(r.sqrt_energy.begin() + static_cast<std::ptrdiff_t>(first),
                                                 r.sqrt_energy.end()));
    r.initial_velocity.resize(0);
    r.initial_velocity_error = std::numeric_limits<double>::quiet_NaN();
    const bool velocities = std::all_of(r.start_velocities.begin() + static_cast<std::ptrdiff_t>(first),
                                        r.start_velocities.end(), [&](const VectorXd& v) { return v.size() == z0.size(); });
    if (velocities) {
      r.initial_velocity.resize(z0.size());
      r.initial_velocity_error = 0;
      for (Eigen::Index c = 0; c < z0.size(); ++c) {
        std::vector<double> component;
        for (std::size_t j = first; j < k; ++j) component.push_back(r.start_velocities[j](c));
        const Extrapolation e = Richardson(N, component);
        r.initial_velocity(c) = e.value;
        r.initial_velocity_error = std::max(r.initial_velocity_error, e.error);
      }
    }
  }
}

}  // namespace pushpull

// CheckFieldDerivatives: a field's JVPs, divergence and Jacobian against central differences of its values.
#include "pushpull/field_check.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <stdexcept>

namespace pushpull {
namespace {

// |a - b| / max(1, |b|); NaN when either is not finite (so that it fails every comparison with a tolerance).
double RelativeError(double a, double b) {
  if (!std::isfinite(a) || !std::isfinite(b)) return std::nan("");
  return std::abs(a - b) / std::max(1.0, std::abs(b));
}

// Keeps the largest error and where it occurred; a NaN error sticks.
struct Worst {
  double error = 0;
  double time = 0;
  Eigen::Index point = -1;
  void Update(double e, double t, Eigen::Index i) {
    if (std::isnan(error)) return;
    if (std::isnan(e) || e > error) {
      error = e;
      time = t;
      point = i;
    }
  }
  std::string Where() const {
    if (point < 0) return "";
    std::ostringstream s;
    s << " (point " << point << ", t = " << time << ")";
    return s.str();
  }
};

}  // namespace

FieldCheckResult CheckFieldDerivatives(const VectorField& field, const FieldCheckOptions& options) {
  if (options.num_points < 1) throw std::invalid_argument("CheckFieldDerivatives: num_points must be >= 1");
  if (!(options.step > 0)) throw std::invalid_argument("CheckFieldDerivatives: step must be > 0");
  if (options.times.empty()) throw std::invalid_argument("CheckFieldDerivatives: no times to check");
  const Eigen::Index d = field.dim();
  const Eigen::Index n = options.num_points;
  constexpr Eigen::Index kDirections = 2;  // random JVP directions per point

  std::mt19937_64 rng(options.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  RowMatrixXd x(n, d);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index c = 0; c < d; ++c) x(i, c) = normal(rng);
  }
  // Absolute steps per point.
  Eigen::VectorXd h(n);
  for (Eigen::Index i = 0; i < n; ++i) h(i) = options.step * std::max(1.0, x.row(i).norm());

  // Perturbed points, in one block: for point i and coordinate c, rows 2 (i d + c) and 2 (i d + c) + 1 hold
  // x_i + h e_c and x_i - h e_c.
  RowMatrixXd xj(2 * n * d, d);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index c = 0; c < d; ++c) {
      const Eigen::Index row = 2 * (i * d + c);
      xj.row(row) = x.row(i);
      xj.row(row + 1) = x.row(i);
      xj(row, c) += h(i);
      xj(row + 1, c) -= h(i);
    }
  }

  Worst jvp, divergence, jacobian, value;
  RowMatrixXd v, v_jvp, v_div, v_jac, vj, vd, jv, jac, dx(n, kDirections * d), xd(2 * n * kDirections, d);
  Eigen::VectorXd div;
  for (double t : options.times) {
    // Random unit directions, fresh for every time.
    for (Eigen::Index i = 0; i < n; ++i) {
      for (Eigen::Index k = 0; k < kDirections; ++k) {
        Eigen::VectorXd u(d);
        for (Eigen::Index c = 0; c < d; ++c) u(c) = normal(rng);
        const double norm = u.norm();
        if (norm > 0) u /= norm;
        dx.row(i).segment(k * d, d) = u.transpose();
        const Eigen::Index row = 2 * (i * kDirections + k);
        xd.row(row) = x.row(i) + h(i) * u.transpose();
        xd.row(row + 1) = x.row(i) - h(i) * u.transpose();
      }
    }
    field.Evaluate(t, x, v);
    field.EvaluateJvp(t, x, dx, v_jvp, jv);
    field.EvaluateDivergence(t, x, v_div, div);
    field.EvaluateJacobian(t, x, v_jac, jac);
    field.Evaluate(t, xj, vj);
    field.Evaluate(t, xd, vd);
    if (v_jvp.rows() != n || v_jvp.cols() != d || jv.rows() != n || jv.cols() != kDirections * d ||
        v_div.rows() != n || v_div.cols() != d || div.size() != n || v_jac.rows() != n || v_jac.cols() != d ||
        jac.rows() != n || jac.cols() != d * d || v.rows() != n || v.cols() != d) {
      throw std::logic_error("CheckFieldDerivatives: '" + field.description() +
                             "' returned blocks of the wrong shape");
    }

    for (Eigen::Index i = 0; i < n; ++i) {
      // The values the derivative methods return must be the field's values.
      for (Eigen::Index r = 0; r < d; ++r) {
        value.Update(RelativeError(v_jvp(i, r), v(i, r)), t, i);
        value.Update(RelativeError(v_div(i, r), v(i, r)), t, i);
        value.Update(RelativeError(v_jac(i, r), v(i, r)), t, i);
      }
      // Jacobian and divergence.
      double fd_trace = 0;
      for (Eigen::Index c = 0; c < d; ++c) {
        const Eigen::Index row = 2 * (i * d + c);
        for (Eigen::Index r = 0; r < d; ++r) {
          const double fd = (vj(row, r) - vj(row + 1, r)) / (2 * h(i));
          jacobian.Update(RelativeError(jac(i, r * d + c), fd), t, i);
          if (r == c) fd_trace += fd;
        }
      }
      divergence.Update(RelativeError(div(i), fd_trace), t, i);
      // JVPs along the random directions.
      for (Eigen::Index k = 0; k < kDirections; ++k) {
        const Eigen::Index row = 2 * (i * kDirections + k);
        for (Eigen::Index r = 0; r < d; ++r) {
          const double fd = (vd(row, r) - vd(row + 1, r)) / (2 * h(i));
          jvp.Update(RelativeError(jv(i, k * d + r), fd), t, i);
        }
      }
    }
  }

  FieldCheckResult result;
  result.max_jvp_error = jvp.error;
  result.max_divergence_error = divergence.error;
  result.max_jacobian_error = jacobian.error;
  const double tol = options.tolerance;
  const bool values_ok = value.error <= tol;
  result.passed = jvp.error <= tol && divergence.error <= tol && jacobian.error <= tol && values_ok;

  std::ostringstream r;
  r.precision(3);
  r << "derivative check of " << field.description() << " (d = " << d << ")\n";
  r << "  " << n << " points from N(0, I) (seed " << options.seed << "), times";
  for (double t : options.times) r << " " << t;
  r << "; central differences with step " << options.step << " * max(1, |x|); tolerance " << tol << "\n";
  auto line = [&](const char* name, const Worst& w) {
    r << "  " << name << std::scientific << w.error << std::defaultfloat << (w.error <= tol ? "  ok" : "  FAIL")
      << (w.error <= tol ? "" : w.Where()) << "\n";
  };
  line("max relative error, JVP:        ", jvp);
  line("max relative error, divergence: ", divergence);
  line("max relative error, Jacobian:   ", jacobian);
  if (!values_ok) line("values of the derivative methods differ from Evaluate by ", value);
  r << "  verdict: " << (result.passed ? "PASS" : "FAIL") << "\n";
  result.report = r.str();
  return result;
}

}  // namespace pushpull

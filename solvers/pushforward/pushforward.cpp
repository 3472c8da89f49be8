#include "pushpull/pushforward.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numbers>
#include <random>

#include <Eigen/LU>

#include "pushpull/errors.hpp"
#include "pushpull/event_log.hpp"
#include "pushpull/options.hpp"
#include "pushpull/parallel.hpp"

namespace pushpull {
namespace {

const int kEventSolve = EventLog::Global().Register("PushforwardBlock");
const int kEventField = EventLog::Global().Register("FieldEval");
const int kEventFieldDiv = EventLog::Global().Register("FieldDivergence");
const int kEventFieldJvp = EventLog::Global().Register("FieldJvp");
const int kEventFieldJac = EventLog::Global().Register("FieldJacobian");
const int kEventRetry = EventLog::Global().Register("RetrySample");

// SplitMix64: a seed per (seed, stream) so that every sample's random numbers are independent of batching.
std::uint64_t Mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Per-sample seeds (SplitMix64 streams) for the Hutchinson probes: stream 2i + 1 of the run's seed.
RowMatrixXd DrawProbes(std::size_t first, int count, int dim, int probes, const std::string& dist,
                       std::uint64_t seed) {
  RowMatrixXd e(count, probes * dim);
  for (int i = 0; i < count; ++i) {
    // Stream 1 of the sample: independent of the base draws (stream 0) and of the batch it falls in.
    std::mt19937_64 rng(Mix(Mix(seed) ^ Mix((first + static_cast<std::size_t>(i)) * 2 + 1)));
    if (dist == "gaussian") {
      std::normal_distribution<double> normal(0.0, 1.0);
      for (int j = 0; j < probes * dim; ++j) e(i, j) = normal(rng);
    } else {
      for (int j = 0; j < probes * dim; ++j) e(i, j) = (rng() >> 63) ? 1.0 : -1.0;
    }
  }
  return e;
}

// The exact divergence from d tangent directions (the full Jacobian when the Frobenius norm is wanted).
class ExactTrace : public TraceEstimator {
 public:
  void EvaluateWithCurl(const VectorField& field, double t, const BlockRef& x, RowMatrixXd& v, Eigen::VectorXd& div,
                        Eigen::VectorXd* frobenius, Eigen::VectorXd& curl) override {
    ScopedEvent e(kEventFieldJac);
    field.EvaluateJacobian(t, x, v, jac_);
    const int d = field.dim();
    div.resize(x.rows());
    if (frobenius) frobenius->resize(x.rows());
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      double tr = 0;
      for (int r = 0; r < d; ++r) tr += jac_(i, r * d + r);
      div(i) = tr;
      if (frobenius) (*frobenius)(i) = jac_.row(i).squaredNorm();
    }
    CurlNorms(jac_, d, curl);
  }
  void Evaluate(const VectorField& field, double t, const BlockRef& x, RowMatrixXd& v, Eigen::VectorXd& div,
                Eigen::VectorXd* frobenius) override {
    if (!frobenius) {
      ScopedEvent e(kEventFieldDiv);
      field.EvaluateDivergence(t, x, v, div);
      return;
    }
    ScopedEvent e(kEventFieldJac);
    field.EvaluateJacobian(t, x, v, jac_);
    const int d = field.dim();
    div.resize(x.rows());
    frobenius->resize(x.rows());
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      double tr = 0;
      for (int r = 0; r < d; ++r) tr += jac_(i, r * d + r);
      div(i) = tr;
      (*frobenius)(i) = jac_.row(i).squaredNorm();
    }
  }

 private:
  RowMatrixXd jac_;
};

// Hutchinson: div ~ mean_k eps_k^T (dv/dx) eps_k with K probes per sample, fixed along the trajectory;
// ||dv/dx||_F^2 ~ mean_k ||(dv/dx) eps_k||^2.
class HutchinsonTrace : public TraceEstimator {
 public:
  void Prepare(std::size_t first, int count, int dim, const PushforwardOptions& o) override {
    K_ = o.trace_probes;
    probes_ = DrawProbes(first, count, dim, o.trace_probes, o.trace_dist, o.seed);
  }
  void Evaluate(const VectorField& field, double t, const BlockRef& x, RowMatrixXd& v, Eigen::VectorXd& div,
                Eigen::VectorXd* frobenius) override {
    ScopedEvent e(kEventFieldJvp);
    field.EvaluateJvp(t, x, probes_, v, jv_);
    const int d = field.dim();
    div.resize(x.rows());
    if (frobenius) frobenius->resize(x.rows());
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      double s = 0, f = 0;
      for (int k = 0; k < K_; ++k) {
        for (int j = 0; j < d; ++j) {
          const double ej = probes_(i, k * d + j);
          const double jej = jv_(i, k * d + j);
          s += ej * jej;
          f += jej * jej;
        }
      }
      div(i) = s / K_;
      if (frobenius) (*frobenius)(i) = f / K_;
    }
  }

 private:
  int K_ = 1;
  RowMatrixXd probes_;  // count x (K d)
  RowMatrixXd jv_;
};

}  // namespace

void CurlNorms(const RowMatrixXd& jac, int dim, Eigen::VectorXd& curl) {
  curl.resize(jac.rows());
  for (Eigen::Index i = 0; i < jac.rows(); ++i) {
    double s = 0;
    for (int r = 0; r < dim; ++r) {
      for (int c = r + 1; c < dim; ++c) {
        const double a = jac(i, r * dim + c) - jac(i, c * dim + r);
        s += a * a;
      }
    }
    curl(i) = 2 * s;  // both (r, c) and (c, r)
  }
}

void TraceEstimator::EvaluateWithCurl(const VectorField& field, double t, const BlockRef& x, RowMatrixXd& v,
                                      Eigen::VectorXd& div, Eigen::VectorXd* frobenius, Eigen::VectorXd& curl) {
  Evaluate(field, t, x, v, div, frobenius);
  RowMatrixXd v2, jac;
  {
    ScopedEvent e(kEventFieldJac);
    field.EvaluateJacobian(t, x, v2, jac);
  }
  CurlNorms(jac, field.dim(), curl);
}

namespace {

// The augmented system of one block: states x (B x d); quadratures per sample [a, K?, F?, R?].
class FlowSystem : public OdeSystem {
 public:
  FlowSystem(const VectorField& field, int blocks, const PushforwardOptions& options,
             std::unique_ptr<TraceEstimator> trace)
      : field_(field),
        d_(field.dim()),
        B_(blocks),
        kinetic_(options.kinetic),
        frobenius_(options.frobenius),
        curl_(options.curl),
        control_regularizers_(options.ode.control_regularizers),
        trace_(std::move(trace)) {}

  int num_blocks() const override { return B_; }
  int block_size() const override { return d_; }
  int quadratures_per_block() const override {
    return 1 + (kinetic_ ? 1 : 0) + (frobenius_ ? 1 : 0) + (curl_ ? 1 : 0);
  }
  bool quadrature_controlled(int k) const override { return k == 0 || control_regularizers_; }
  std::int64_t nfe() const { return nfe_; }

  int Rhs(double t, const double* y, double* ydot, double* qdot) override {
    Eigen::Map<const RowMatrixXd> X(y, B_, d_);
    ++nfe_;
    if (!qdot) {
      ScopedEvent e(kEventField);
      field_.Evaluate(t, X, v_);
    } else if (curl_) {
      trace_->EvaluateWithCurl(field_, t, X, v_, div_, frobenius_ ? &fro_ : nullptr, curl_values_);
    } else {
      trace_->Evaluate(field_, t, X, v_, div_, frobenius_ ? &fro_ : nullptr);
    }
    const double* v = v_.data();
    for (Eigen::Index i = 0; i < v_.size(); ++i) {
      if (!std::isfinite(v[i])) return 1;  // recoverable: the step is retried smaller
      ydot[i] = v[i];
    }
    if (qdot) {
      const int m = quadratures_per_block();
      for (int i = 0; i < B_; ++i) {
        double* qi = qdot + static_cast<std::size_t>(i) * m;
        int k = 0;
        qi[k++] = div_(i);
        if (kinetic_) qi[k++] = v_.row(i).squaredNorm();
        if (frobenius_) qi[k++] = fro_(i);
        if (curl_) qi[k++] = curl_values_(i);
        for (int j = 0; j < m; ++j) {
          if (!std::isfinite(qi[j])) return 1;
        }
      }
    }
    return 0;
  }

  int JacobianBlocks(double t, const double* y, double* blocks) override {
    Eigen::Map<const RowMatrixXd> X(y, B_, d_);
    ++nfe_;
    ScopedEvent e(kEventFieldJac);
    field_.EvaluateJacobian(t, X, v_, jac_);
    std::copy(jac_.data(), jac_.data() + jac_.size(), blocks);
    for (Eigen::Index i = 0; i < jac_.size(); ++i) {
      if (!std::isfinite(blocks[i])) return 1;
    }
    return 0;
  }

  int Jvp(double t, const double* y, const double* v, double* Jv) override {
    Eigen::Map<const RowMatrixXd> X(y, B_, d_);
    Eigen::Map<const RowMatrixXd> V(v, B_, d_);
    ++nfe_;
    ScopedEvent e(kEventFieldJvp);
    field_.EvaluateJvp(t, X, V, v_, jv_);
    std::copy(jv_.data(), jv_.data() + jv_.size(), Jv);
    return 0;
  }

 private:
  const VectorField& field_;
  int d_, B_;
  bool kinetic_, frobenius_, curl_, control_regularizers_;
  std::unique_ptr<TraceEstimator> trace_;  // null for systems without quadratures (variational equations)
  RowMatrixXd v_, jac_, jv_;
  Eigen::VectorXd div_, fro_, curl_values_;
  std::int64_t nfe_ = 0;
};


struct Job {
  const VectorField& field;
  double t0, t1;
  bool density;  // log p = logN(z) + a for density runs, logN(z0) - a for sampling
  const RowMatrixXd& starts;
  const PushforwardOptions& options;
  const PushforwardHooks& hooks;
  std::vector<double> save_times_sorted;     // in the direction of integration
  std::vector<std::size_t> save_index;       // sorted position -> requested position
};

// Integrates samples [first, first + count) as one system. Returns the status of the block.
OdeStatus IntegrateBlock(const Job& job, std::size_t first, int count, const OdeOptions& ode, bool monitor,
                         PushforwardResult& r, OdeStats* stats_out, std::string* message) {
  const int d = job.field.dim();
  auto trace = TraceEstimators().Create(job.options.trace_type);
  trace->Prepare(first, count, d, job.options);
  FlowSystem system(job.field, count, job.options, std::move(trace));
  auto integrator = OdeIntegrators().Create(ode.type, ode);
  if (monitor && job.hooks.step_monitor) integrator->step_monitor = job.hooks.step_monitor;
  const int m = system.quadratures_per_block();
  std::vector<double> y(static_cast<std::size_t>(count) * d), q(static_cast<std::size_t>(count) * m, 0.0);
  for (int i = 0; i < count; ++i) {
    for (int j = 0; j < d; ++j) y[static_cast<std::size_t>(i) * d + j] = job.starts(static_cast<Eigen::Index>(first) + i, j);
  }
  OdeOutput output;
  const std::size_t T = job.options.save_times.size();  // the stride: every requested time, t0 included
  if (!job.save_times_sorted.empty()) {
    output.times = job.save_times_sorted;
    output.callback = [&](std::size_t k, double, const double* yk, const double*) {
      const std::size_t slot = job.save_index[k];
      for (int i = 0; i < count; ++i) {
        double* dst = r.trajectories.data() + ((first + static_cast<std::size_t>(i)) * T + slot) * d;
        std::copy(yk + static_cast<std::size_t>(i) * d, yk + static_cast<std::size_t>(i + 1) * d, dst);
      }
    };
  }
  OdeStats stats;
  const OdeStatus status = integrator->Integrate(system, job.t0, job.t1, y.data(), q.data(),
                                                 job.save_times_sorted.empty() ? nullptr : &output, &stats, message);
  const double direction = job.t1 >= job.t0 ? 1.0 : -1.0;
  for (int i = 0; i < count; ++i) {
    const std::size_t s = first + static_cast<std::size_t>(i);
    r.nfe[s] = system.nfe();
    r.steps[s] = stats.steps;
    if (status != OdeStatus::kSuccess) continue;
    for (int j = 0; j < d; ++j) r.endpoints(static_cast<Eigen::Index>(s), j) = y[static_cast<std::size_t>(i) * d + j];
    const double* qi = q.data() + static_cast<std::size_t>(i) * m;
    int k = 0;
    const double a = qi[k++];
    const Eigen::RowVectorXd base = job.density ? Eigen::RowVectorXd(r.endpoints.row(static_cast<Eigen::Index>(s)))
                                                : Eigen::RowVectorXd(job.starts.row(static_cast<Eigen::Index>(s)));
    const double log_base = -0.5 * base.squaredNorm() - 0.5 * d * std::log(2.0 * std::numbers::pi);
    r.log_density(static_cast<Eigen::Index>(s)) = job.density ? log_base + a : log_base - a;
    r.divergence_integral(static_cast<Eigen::Index>(s)) = a;
    if (job.options.kinetic) r.kinetic(static_cast<Eigen::Index>(s)) = direction * qi[k++];
    if (job.options.frobenius) r.frobenius(static_cast<Eigen::Index>(s)) = direction * qi[k++];
    if (job.options.curl) r.curl(static_cast<Eigen::Index>(s)) = direction * qi[k++];
    r.status[s] = SampleStatus(OdeStatus::kSuccess);
  }
  if (status == OdeStatus::kSuccess && job.options.logdet_check) {
    // Jacobi's formula, independently: integrate S' = (dv/dx) S from S(t0) = I with CVODES forward sensitivities.
    static const int kEventLogdet = EventLog::Global().Register("LogdetCheck");
    ScopedEvent e(kEventLogdet);
    FlowSystem variational(job.field, count, job.options, std::make_unique<ExactTrace>());
    std::vector<double> y0(static_cast<std::size_t>(count) * d);
    for (int i = 0; i < count; ++i) {
      for (int j = 0; j < d; ++j) {
        y0[static_cast<std::size_t>(i) * d + j] = job.starts(static_cast<Eigen::Index>(first) + i, j);
      }
    }
    const std::size_t n = static_cast<std::size_t>(count) * d;
    std::vector<double> S(n * static_cast<std::size_t>(d), 0.0);
    for (int j = 0; j < d; ++j) {
      for (int i = 0; i < count; ++i) S[static_cast<std::size_t>(j) * n + static_cast<std::size_t>(i) * d + j] = 1.0;
    }
    std::string check_message;
    OdeStats check_stats;
    const OdeStatus cs = IntegrateVariational(variational, ode, job.t0, job.t1, y0.data(), d, S.data(), &check_stats,
                                              &check_message);
    Eigen::MatrixXd M(d, d);
    for (int i = 0; i < count; ++i) {
      const Eigen::Index s_index = static_cast<Eigen::Index>(first) + i;
      if (cs != OdeStatus::kSuccess) {
        r.logdet(s_index) = std::nan("");
        r.logdet_difference(s_index) = std::nan("");
        continue;
      }
      for (int row = 0; row < d; ++row) {
        for (int col = 0; col < d; ++col) {
          M(row, col) = S[static_cast<std::size_t>(col) * n + static_cast<std::size_t>(i) * d + row];
        }
      }
      const double logdet = Eigen::PartialPivLU<Eigen::MatrixXd>(M).matrixLU().diagonal().array().abs().log().sum();
      r.logdet(s_index) = logdet;
      r.logdet_difference(s_index) = logdet - r.divergence_integral(s_index);
    }
  }
  stats_out->Add(stats);
  return status;
}

PushforwardResult Run(const VectorField& field, double base_time, const RowMatrixXd& starts, bool density,
                      const PushforwardOptions& options, const PushforwardHooks& hooks) {
  const std::string problem = options.Validate();
  if (!problem.empty()) throw InputError(problem);
  if (base_time != 0.0 && base_time != 1.0) throw InputError("base_time must be 0 or 1");
  const int d = field.dim();
  if (starts.cols() != d) {
    throw InputError("the points have " + std::to_string(starts.cols()) + " columns but the field has dimension " +
                     std::to_string(d));
  }
  for (Eigen::Index i = 0; i < starts.size(); ++i) {
    if (!std::isfinite(starts.data()[i])) {
      throw InputError("point " + std::to_string(i / d) + " has a non-finite coordinate");
    }
  }
  const auto start_clock = std::chrono::steady_clock::now();
  const std::size_t N = static_cast<std::size_t>(starts.rows());
  PushforwardResult r;
  r.dim = d;
  r.starts = starts;
  r.endpoints = RowMatrixXd::Constant(starts.rows(), d, std::nan(""));
  r.log_density = Eigen::VectorXd::Constant(starts.rows(), std::nan(""));
  if (options.kinetic) r.kinetic = Eigen::VectorXd::Constant(starts.rows(), std::nan(""));
  if (options.frobenius) r.frobenius = Eigen::VectorXd::Constant(starts.rows(), std::nan(""));
  if (options.curl) r.curl = Eigen::VectorXd::Constant(starts.rows(), std::nan(""));
  r.divergence_integral = Eigen::VectorXd::Constant(starts.rows(), std::nan(""));
  if (options.logdet_check) {
    r.logdet = Eigen::VectorXd::Constant(starts.rows(), std::nan(""));
    r.logdet_difference = Eigen::VectorXd::Constant(starts.rows(), std::nan(""));
  }
  r.nfe.assign(N, 0);
  r.steps.assign(N, 0);
  r.status.assign(N, SampleStatus::FromValue(SampleStatus::kNotComputed, "not computed"));

  const double data_time = 1.0 - base_time;
  Job job{field, density ? data_time : base_time, density ? base_time : data_time, density, starts, options, hooks,
          {}, {}};
  if (!options.save_times.empty()) {
    std::vector<std::size_t> order(options.save_times.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    const double direction = job.t1 >= job.t0 ? 1.0 : -1.0;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return direction * options.save_times[a] < direction * options.save_times[b];
    });
    for (std::size_t k : order) {
      job.save_times_sorted.push_back(options.save_times[k]);
      job.save_index.push_back(k);
    }
    r.trajectories.assign(N * options.save_times.size() * static_cast<std::size_t>(d), std::nan(""));
    // x(t0) is known without integrating; the integrator reports only times after the start.
    for (std::size_t k = 0; k < job.save_times_sorted.size(); ++k) {
      if (job.save_times_sorted[k] == job.t0) {
        for (std::size_t s = 0; s < N; ++s) {
          for (int j = 0; j < d; ++j) {
            r.trajectories[(s * options.save_times.size() + job.save_index[k]) * d + static_cast<std::size_t>(j)] =
                starts(static_cast<Eigen::Index>(s), j);
          }
        }
      }
    }
    while (!job.save_times_sorted.empty() && job.save_times_sorted.front() == job.t0) {
      job.save_times_sorted.erase(job.save_times_sorted.begin());
      job.save_index.erase(job.save_index.begin());
    }
  }

  const std::size_t B = static_cast<std::size_t>(options.batch_size);
  const std::size_t num_blocks = (N + B - 1) / B;
  if (hooks.first_row > N || (hooks.first_row % B != 0 && hooks.first_row != N)) {
    throw InputError("first_row " + std::to_string(hooks.first_row) + " is neither a multiple of batch_size " +
                     std::to_string(B) + " nor the number of samples " + std::to_string(N));
  }
  const std::size_t first_block = hooks.first_row == N ? num_blocks : hooks.first_row / B;
  std::vector<OdeStats> block_stats(num_blocks);
  std::size_t done_samples = std::min(N, first_block * B), failed_samples = 0;

  // Blocks over the threads (ParallelForOrdered): each block writes only its own samples' slots and its own stats;
  // the emit callback, on this thread and in block order, sums the stats and calls the hooks.
  auto work = [&](int, std::size_t item) {
    const std::size_t b = first_block + item;
    PushforwardResult& out = r;
    const std::size_t first = b * B;
    const int count = static_cast<int>(std::min(B, N - first));
    std::string message;
    OdeStatus status;
    OdeStats& stats = block_stats[b];
    {
      ScopedEvent e(kEventSolve);
      status = IntegrateBlock(job, first, count, options.ode, b == 0, out, &stats, &message);
    }
    if (status != OdeStatus::kSuccess) {
      // Retry each sample alone, once, with a smaller initial step.
      OdeOptions retry = options.ode;
      retry.initial_step = options.retry_initial_step;
      for (int i = 0; i < count; ++i) {
        ScopedEvent e(kEventRetry);
        std::string retry_message;
        const OdeStatus s = IntegrateBlock(job, first + static_cast<std::size_t>(i), 1, retry, false, out, &stats,
                                           &retry_message);
        if (s != OdeStatus::kSuccess) {
          const std::size_t idx = first + static_cast<std::size_t>(i);
          out.status[idx] = SampleStatus(s, retry_message + " (after a retry alone with initial step " +
                                                FormatReal(options.retry_initial_step) +
                                                "): " + Advice(s, options.ode.prefix));
        }
      }
    }
  };
  auto emit = [&](std::size_t first_item, std::size_t blocks) {
    for (std::size_t b = first_block + first_item; b < first_block + first_item + blocks; ++b) {
      const std::size_t f = b * B, count = std::min(B, N - f);
      r.totals.Add(block_stats[b]);
      done_samples += count;
      for (std::size_t i = 0; i < count; ++i) failed_samples += !r.status[f + i].usable();
      if (hooks.rows_done) hooks.rows_done(r, f, count);
    }
    if (hooks.progress) {
      ProgressEvent ev;
      ev.task = density ? "density" : "sample";
      ev.done = done_samples;
      ev.total = N;
      ev.failed = failed_samples;
      ev.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_clock).count();
      hooks.progress->Notify(ev);
    }
  };
  ParallelForOrdered(num_blocks - first_block, options.threads, work, emit);
  if (hooks.progress) {
    ProgressEvent ev;
    ev.finished = true;
    ev.done = N;
    ev.total = N;
    hooks.progress->Notify(ev);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_clock).count();
  return r;
}

}  // namespace

std::size_t PushforwardResult::failed() const {
  std::size_t n = 0;
  for (const SampleStatus& s : status) n += !s.usable();
  return n;
}

RunSummary PushforwardResult::Summary(std::string task, std::string item) const {
  RunSummary summary;
  summary.task = std::move(task);
  summary.item = std::move(item);
  summary.CountAll(status);
  summary.ode = totals;
  summary.seconds = seconds;
  return summary;
}

TraceEstimatorRegistry& TraceEstimators() {
  static TraceEstimatorRegistry* registry = [] {
    auto* r = new TraceEstimatorRegistry("trace_type");
    r->Register("exact", "exact divergence from d tangent directions", [] { return std::make_unique<ExactTrace>(); });
    r->Register("hutchinson", "Hutchinson estimator with -trace_probes probes per sample held fixed along the "
                              "trajectory (-trace_dist rademacher|gaussian, -seed)",
                [] { return std::make_unique<HutchinsonTrace>(); });
    return r;
  }();
  return *registry;
}

void PushforwardOptions::SetFromOptions(OptionsDatabase& db, std::string_view prefix, bool monitor) {
  OdeOptionSet read;
  read.monitor = monitor;
  ode.SetFromOptions(db, prefix, read);
  db.SetSection("Pushforward (prefix '" + std::string(prefix) + "')");
  db.Enum(prefix, "trace_type", trace_type,
          "Divergence: exact (d tangent directions) or hutchinson (unbiased stochastic estimate)",
          "PushforwardOptions::trace_type", TraceEstimators().Names());
  db.Int(prefix, "trace_probes", trace_probes, "Hutchinson probes per sample, drawn once per trajectory",
         "PushforwardOptions::trace_probes", {1, 1 << 20});
  db.Enum(prefix, "trace_dist", trace_dist, "Distribution of the Hutchinson probes",
          "PushforwardOptions::trace_dist", {"rademacher", "gaussian"});
  std::int64_t seed64 = static_cast<std::int64_t>(seed);
  db.Int(prefix, "seed", seed64, "Seed of every random draw (Hutchinson probes, base samples); recorded in outputs",
         "PushforwardOptions::seed", IntBounds::AtLeast(0));
  seed = static_cast<std::uint64_t>(seed64);
  db.Bool(prefix, "kinetic", kinetic, "Carry the kinetic energy int ||v||^2 dt", "PushforwardOptions::kinetic");
  db.Bool(prefix, "frobenius", frobenius, "Carry the Jacobian Frobenius integral int ||dv/dx||_F^2 dt",
          "PushforwardOptions::frobenius");
  db.Bool(prefix, "curl", curl,
          "Carry the curl integral int ||dv/dx - (dv/dx)^T||_F^2 dt (0 for a gradient field; needs the full "
          "Jacobian at every step)",
          "PushforwardOptions::curl");
  db.Int(prefix, "batch_size", batch_size, "Samples integrated as one ODE system", "PushforwardOptions::batch_size",
         {1, 1 << 20});
  db.Int(prefix, "threads", threads, "Worker threads; 0 = all cores (results do not depend on it)",
         "PushforwardOptions::threads", {0, 1024});
  db.Real(prefix, "retry_initial_step", retry_initial_step,
          "Initial step of the one retry, alone, of a sample whose block failed",
          "PushforwardOptions::retry_initial_step", RealBounds::Positive());
  db.Bool(prefix, "logdet_check", logdet_check,
          "Check the log-density independently: integrate the variational equations (CVODES forward "
          "sensitivities, BDF at the same tolerances) and report log|det| of the flow map next to the divergence "
          "integral",
          "PushforwardOptions::logdet_check");
  db.RealList(prefix, "save_times", save_times, "Store trajectories x(t) at these times (N x T x d)",
              "PushforwardOptions::save_times", RealBounds::Closed(0, 1));
}

std::string PushforwardOptions::Validate() const {
  PushforwardOptions copy = *this;
  return CheckDeclared([&](OptionsDatabase& db) { copy.SetFromOptions(db, ode.prefix); });
}

RowMatrixXd DrawStandardNormal(std::size_t n, int dim, std::uint64_t seed) {
  RowMatrixXd z(static_cast<Eigen::Index>(n), dim);
  for (std::size_t i = 0; i < n; ++i) {
    std::mt19937_64 rng(Mix(Mix(seed) ^ Mix(i * 2)));
    std::normal_distribution<double> normal(0.0, 1.0);
    for (int j = 0; j < dim; ++j) z(static_cast<Eigen::Index>(i), j) = normal(rng);
  }
  return z;
}

Eigen::VectorXd StandardNormalLogDensity(const RowMatrixXd& z) {
  const double c = -0.5 * static_cast<double>(z.cols()) * std::log(2.0 * std::numbers::pi);
  return (-0.5 * z.rowwise().squaredNorm()).array() + c;
}

PushforwardResult ComputeDensity(const VectorField& field, double base_time, const RowMatrixXd& points,
                                 const PushforwardOptions& options, const PushforwardHooks& hooks) {
  return Run(field, base_time, points, true, options, hooks);
}

PushforwardResult PushSamples(const VectorField& field, double base_time, const RowMatrixXd& base_points,
                              const PushforwardOptions& options, const PushforwardHooks& hooks) {
  return Run(field, base_time, base_points, false, options, hooks);
}

}  // namespace pushpull

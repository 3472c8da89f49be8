// `pushpull geodesic`, `pushpull exp` and `pushpull distances`: geodesics of the pullback metric of a decoder read
// from a model file (/decoder/mean, or the expected metric of /decoder/mean and /decoder/std) or of a built-in
// closed-form geometry (-metric_type). The numerical work is the library's batch layer (geodesic_batch.hpp:
// SolveGeodesics, ComputeDistanceMatrix, SolveExpMaps): items are spread over -threads workers that
// share one metric (the built-in metrics are safe for concurrent use); completed rows are written in order as they
// complete through the batch's row hook (RowDataset + SetCompletedRows), so an interrupted run keeps them in
// OUT.h5.partial. Results do not depend on the thread count: every item is computed independently with the same
// options.
//
// Exit codes: 0 every item succeeded; 1 some items failed numerically (status and status_message say why); 2 bad
// input (missing file, wrong shape, a point outside the metric's domain: refused before anything is solved).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <Eigen/Core>

#include "cli/commands.hpp"
#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/event_log.hpp"
#include "pushpull/geodesic.hpp"
#include "pushpull/geodesic_batch.hpp"
#include "pushpull/geodesic_graph.hpp"
#include "pushpull/log_map.hpp"
#include "pushpull/monitor.hpp"
#include "pushpull/io.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/parallel.hpp"
#include "pushpull/provenance.hpp"
#include "pushpull/registry.hpp"
#include "pushpull/run_summary.hpp"
#include "pushpull/status_output.hpp"

namespace pushpull::cli {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- Geometries ---------------------------------------------------------------------------------------------

// One worker's metric and, when the metric is a pullback, the decoder that maps latent curves to data space.
struct Geometry {
  std::shared_ptr<Metric> metric;  // configured by GeometryOptions::Make, then only read
  std::shared_ptr<const Decoder> decoder;  // null for metrics given directly (no data space)
};

std::string JoinNames(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// Where the metric comes from: a model file or a closed-form geometry.
struct GeometryOptions {
  std::string model;
  std::string metric = "mean";
  std::string metric_type;
  ClosedFormParameters closed_form;
  double min_rcond = Metric::kDefaultMinRcond;

  void SetFromOptions(OptionsDatabase& db) {
    db.SetSection("Geometry (model file or closed-form metric)");
    db.String("", "model", model,
              "Model file (HDF5, schema pushpull-mlp v1) whose decoder /decoder/mean (time_input none) defines the "
              "pullback metric",
              "GeometryOptions::model");
    db.Enum("", "metric", metric,
            "With -model: mean = pullback of /decoder/mean; stochastic = expected metric of /decoder/mean and "
            "/decoder/std",
            "GeometryOptions::metric", {"mean", "stochastic"});
    const auto names = ClosedFormGeometries().Names();
    db.String("", "metric_type", metric_type,
              "Without -model: a built-in closed-form geometry, one of: " + JoinNames(names),
              "GeometryOptions::metric_type");
    closed_form.SetFromOptions(db);
    Metric::DeclareMinRcond(db, &min_rcond);
    if (!metric_type.empty() && !ClosedFormGeometries().Has(metric_type)) {
      throw InputError(detail::UnknownTypeMessage("metric_type", metric_type, names));
    }
    if (!metric_type.empty() && !model.empty()) {
      throw InputError("-model and -metric_type exclude each other: give one");
    }
    if (!metric_type.empty() && db.HasValue("metric")) {
      throw InputError("-metric applies to -model only, not to -metric_type " + metric_type);
    }
  }

  // Throws InputError when neither source is given.
  void RequireSource() const {
    if (model.empty() && metric_type.empty()) {
      throw InputError("give -model FILE.h5 (a decoder) or -metric_type NAME (one of: " +
                       JoinNames(ClosedFormGeometries().Names()) + ")");
    }
  }

  std::string Describe() const {
    return model.empty() ? "closed-form " + metric_type : model + " (" + metric + " metric)";
  }

  // A fresh geometry for one worker, for points with d coordinates. Throws InputError.
  Geometry Make(int d) const {
    if (!model.empty()) {
      Geometry g;
      const auto stacked = ReadDecoder(model, metric == "stochastic");
      g.metric = std::make_shared<PullbackMetric>(stacked);
      g.metric->set_min_rcond(min_rcond);
      g.decoder = metric == "stochastic" ? ReadDecoder(model, false) : stacked;
      if (stacked->input_dim() != d) {
        throw InputError("the points have " + std::to_string(d) + " coordinates, but the decoder of " + model +
                         " has latent dimension " + std::to_string(stacked->input_dim()));
      }
      return g;
    }
    const std::unique_ptr<ClosedFormGeometry> c = ClosedFormGeometries().Create(metric_type, closed_form, d);
    Geometry g;
    g.metric = c->metric;
    g.decoder = c->decoder;
    g.metric->set_min_rcond(min_rcond);
    return g;
  }
};

void RequireInDomain(const Metric& metric, const VectorXd& z, const std::string& which) {
  std::string why;
  if (!z.allFinite()) throw InputError(which + " " + FormatPoint(z) + " is not finite");
  if (!metric.InDomain(z, &why)) {
    throw InputError(which + " " + FormatPoint(z) + " lies outside the metric's domain: " + why);
  }
}

// The terminal progress bar (drawn only on a tty) of a batch of items: fed from the ordered emit callback (`exp`) or
// handed to the batch layer as its progress monitors (`geodesic`, `distances`).
class BatchProgress {
 public:
  BatchProgress(std::string task, std::size_t total) : start_(std::chrono::steady_clock::now()) {
    event_.task = std::move(task);
    event_.total = total;
    monitors_.Add(std::make_shared<ProgressBar>());
  }
  void Update(std::size_t done, std::size_t failed, bool finished = false) {
    event_.done = done;
    event_.failed = failed;
    event_.finished = finished;
    event_.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    monitors_.Notify(event_);
  }
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  MonitorList<ProgressEvent>* monitors() { return &monitors_; }

 private:
  std::chrono::steady_clock::time_point start_;
  ProgressEvent event_;
  MonitorList<ProgressEvent> monitors_;
};

const int kEventWrite = EventLog::Global().Register("HDF5Write");
const int kEventGraph = EventLog::Global().Register("GraphBuild");

// Writes the curve (start point then the integrated samples) and its decoded image into flat buffers.
void StoreCurve(const Geometry& g, const VectorXd& z0, const std::vector<VectorXd>& samples, int S, double* curve,
                double* decoded) {
  const auto d = z0.size();
  for (int k = 0; k < S; ++k) {
    const VectorXd& z = k == 0 ? z0 : samples[static_cast<std::size_t>(k - 1)];
    Eigen::Map<VectorXd>(curve + k * d, d) = z;
    if (decoded) {
      const VectorXd x = g.decoder->Value(z);
      Eigen::Map<VectorXd>(decoded + k * x.size(), x.size()) = x;
    }
  }
}

struct CurveOptions {
  int curve_samples = 0;
  int threads = 0;

  void SetFromOptions(OptionsDatabase& db, bool with_curve) {
    db.SetSection("Geodesic output and parallelism");
    if (with_curve) {
      db.Int("", "curve_samples", curve_samples,
             "Write each geodesic at S equally spaced times in [0, 1] (datasets curve, and decoded_curve for a "
             "decoder); 0 = no curves",
             "CurveOptions::curve_samples", IntBounds::AtLeast(0));
      if (curve_samples == 1) throw InputError("-curve_samples 1: a curve needs 0 (none) or at least 2 samples");
    }
    db.Int("", "threads", threads, "Worker threads; 0 = all cores (results do not depend on it)",
           "CurveOptions::threads", {0, 1024});
  }
  int Workers() const {
    return threads > 0 ? threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }
};

std::string RequireString(const std::string& value, const char* option, const char* form) {
  if (value.empty()) throw InputError(std::string("-") + option + " " + form + " is required");
  return value;
}

// The end of every geodesic command: the summary's attributes (status_output.hpp), the event log, the commit, the
// brief report on stdout and the first failures on stderr. Returns the exit code.
int FinishRun(Context& ctx, OutputFile& out, const RunSummary& summary, const std::string& metric,
              const std::string& output) {
  WriteSummary(out, summary);
  out.SetAttribute("/", "event_log", EventLog::Global().Table(summary.seconds));
  out.Commit();
  ctx.out << summary.BriefReport() << ", metric " << metric << " -> " << output << "\n";
  for (const std::string& f : summary.failures) ctx.err << "  " << f << "\n";
  return summary.failed ? kExitItemsFailed : kExitSuccess;
}

// ---- Logarithm-map set-up shared by `geodesic` and `distances` -----------------------------------------------

// Serialises the -bvp_monitor lines of concurrent solves.
class LockedBvpPrinter : public BvpMonitor {
 public:
  LockedBvpPrinter(std::ostream& out, std::mutex& mutex, std::string label)
      : printer_(MakeBvpPrinter(out, std::move(label))), mutex_(mutex) {}
  void operator()(const BvpIterationEvent& e) override {
    std::lock_guard<std::mutex> lock(mutex_);
    (*printer_)(e);
  }

 private:
  std::unique_ptr<BvpMonitor> printer_;
  std::mutex& mutex_;
};

// The log-map options, the graph of the -bvp_init graph guess and the -bvp_monitor of `geodesic` and
// `distances`.
struct LogMapSetup {
  LogMapOptions bvp;
  std::string graph_points;
  GeodesicGraphOptions graph_options;
  bool monitor = false;

  void SetFromOptions(OptionsDatabase& db) {
    bvp.SetFromOptions(db);
    db.SetSection("Logarithm map (geodesic boundary-value problem)");
    db.String("", "graph_points", graph_points, "Latent points of the -bvp_init graph guess as FILE.h5:/path (N x d)",
              "LogMapSetup::graph_points");
    graph_options.SetFromOptions(db, "graph_");
    db.Bool("", "bvp_monitor", monitor,
            "Print every Levenberg-Marquardt iteration of every solve to stderr (labelled by pair)",
            "LogMapSetup::monitor");
    if (bvp.init == "graph" && graph_points.empty()) {
      throw InputError("-bvp_init graph needs -graph_points FILE.h5:/path (the latent points of the graph)");
    }
    if (bvp.init != "graph" && !graph_points.empty()) {
      throw InputError("-graph_points " + graph_points + " is only used with -bvp_init graph");
    }
  }

  // Builds the graph (once, before the workers start) when -bvp_init graph.
  void Prepare(const Metric& metric) {
    if (bvp.init != "graph") return;
    ScopedEvent event(kEventGraph);
    const DatasetName name = DatasetName::Parse(graph_points, "graph_points");
    const RowMatrixXd points = ReadMatrix(name, metric.dim(), "graph_points");
    graph_ = std::make_unique<GeodesicGraph>(metric, points, graph_options);
    graph_source_ = name.ToString();
  }

  // The batch layer's options of `geodesic` and `distances`: the -bvp_* options, the threads and the guess.
  GeodesicBatchOptions BatchOptions(int threads) const {
    GeodesicBatchOptions options;
    options.log_map = bvp;
    options.threads = threads;
    options.guess = Guess();
    return options;
  }

  // The -bvp_init graph guess for the batch layer (empty otherwise: LogMap makes its own).
  GuessProvider Guess() const {
    if (!graph_) return {};
    const GeodesicGraph* graph = graph_.get();
    return [graph](const Metric& metric, const VectorXd& z0, const VectorXd& z1) {
      return graph->ShortestPath(metric, z0, z1);
    };
  }

  // The -bvp_monitor printers of the batch layer (one per solve, labelled by pair; lines serialised), or none.
  std::function<std::unique_ptr<BvpMonitor>(const std::string&)> Monitors(std::ostream& err) {
    if (!monitor) return {};
    return [this, &err](const std::string& label) -> std::unique_ptr<BvpMonitor> {
      return std::make_unique<LockedBvpPrinter>(err, monitor_mutex_, label);
    };
  }

  void Describe(OutputFile& out) const {
    out.SetAttribute("/", "bvp_type", bvp.type);
    out.SetAttribute("/", "bvp_tol", bvp.tol);
    out.SetAttribute("/", "bvp_init", bvp.init);
    if (graph_) {
      out.SetAttribute("/", "graph_points", graph_source_);
      out.SetAttribute("/", "graph_edges", static_cast<std::int64_t>(graph_->num_edges()));
    }
  }

 private:
  std::unique_ptr<GeodesicGraph> graph_;
  std::string graph_source_;
  std::mutex monitor_mutex_;
};

// ---- pushpull geodesic --------------------------------------------------------------------------------------

class GeodesicJob : public Job {
 public:
  explicit GeodesicJob(Context& ctx) : ctx_(ctx) {
    geometry_.SetFromOptions(ctx.db);
    ctx.db.SetSection("pushpull geodesic");
    ctx.db.String("", "pairs", pairs_, "Pairs of latent points as FILE.h5:/path (P x 2 x d: pair, end, coordinate)",
                  "GeodesicJob::pairs");
    ctx.db.String("", "output", output_, "Output HDF5 file (written as FILE.partial, renamed when complete)",
                  "GeodesicJob::output");
    curve_.SetFromOptions(ctx.db, true);
    log_map_.SetFromOptions(ctx.db);
    resume_.SetFromOptions(ctx.db);
    provenance_ = Provenance::Collect(ctx.argv, &ctx.db);
  }

  int Run() override {
    geometry_.RequireSource();
    const DatasetName name = DatasetName::Parse(RequireString(pairs_, "pairs", "FILE.h5:/path"), "pairs");
    RequireString(output_, "output", "FILE.h5");
    ArraySpec spec;
    spec.ranks = {3};
    spec.shape = {-1, 2, -1};
    spec.what = "pairs";
    const Array pairs = ReadArray(name, spec);
    const std::size_t P = pairs.shape[0];
    const int d = static_cast<int>(pairs.shape[2]);
    const Geometry geometry = geometry_.Make(d);
    auto point = [&](std::size_t p, int end) {
      return VectorXd(Eigen::Map<const VectorXd>(pairs.data.data() + (2 * p + static_cast<std::size_t>(end)) * d, d));
    };
    std::vector<std::pair<VectorXd, VectorXd>> items;
    for (std::size_t p = 0; p < P; ++p) {
      for (int end = 0; end < 2; ++end) {
        RequireInDomain(*geometry.metric, point(p, end),
                        "pair " + std::to_string(p) + " (" + name.ToString() + "), end " + std::to_string(end) +
                            ": point");
      }
      items.emplace_back(point(p, 0), point(p, 1));
    }
    const int S = curve_.curve_samples;
    const bool decoded = S > 0 && geometry.decoder;
    const int D = geometry.decoder ? geometry.decoder->output_dim() : 0;
    const std::size_t ud = static_cast<std::size_t>(d), uS = static_cast<std::size_t>(S),
                      uD = static_cast<std::size_t>(D);

    log_map_.Prepare(*geometry.metric);
    std::vector<double> length(P, kNaN), energy(P, kNaN), error(P, kNaN), velocity(P * ud, kNaN);
    std::vector<double> curve(P * uS * ud, kNaN), decoded_curve(decoded ? P * uS * uD : 0, kNaN);
    std::vector<std::int64_t> iterations(P, 0);
    const ResumeSource resume = PrepareResume(resume_, output_, "geodesic", ctx_.db, P);

    OutputFile out(output_, provenance_);
    out.SetAttribute("/", "command", "geodesic");
    out.SetAttribute("/", "metric", geometry_.Describe());
    out.SetAttribute("/", "pairs", name.ToString());
    log_map_.Describe(out);
    RowDataset length_ds = out.CreateRowDataset("length", ElementType::kFloat64, P, {});
    RowDataset energy_ds = out.CreateRowDataset("energy", ElementType::kFloat64, P, {});
    RowDataset velocity_ds = out.CreateRowDataset("initial_velocity", ElementType::kFloat64, P, {ud});
    RowDataset error_ds = out.CreateRowDataset("endpoint_error", ElementType::kFloat64, P, {});
    RowDataset iterations_ds = out.CreateRowDataset("iterations", ElementType::kInt64, P, {});
    StatusDatasets status_ds(out, P);
    std::optional<RowDataset> curve_ds, decoded_ds;
    if (S > 0) curve_ds = out.CreateRowDataset("curve", ElementType::kFloat64, P, {uS, ud});
    if (decoded) decoded_ds = out.CreateRowDataset("decoded_curve", ElementType::kFloat64, P, {uS, uD});

    GeodesicBatchOptions options = log_map_.BatchOptions(curve_.Workers());
    options.curve_samples = S;
    BatchProgress progress("geodesic", P);
    GeodesicBatchHooks hooks;
    hooks.progress = progress.monitors();
    hooks.bvp_monitor = log_map_.Monitors(ctx_.err);
    auto write_rows = [&](const PairStatus* status, std::size_t first, std::size_t count) {
      ScopedEvent event(kEventWrite);
      length_ds.Write(first, count, length.data() + first);
      energy_ds.Write(first, count, energy.data() + first);
      velocity_ds.Write(first, count, velocity.data() + first * ud);
      error_ds.Write(first, count, error.data() + first);
      iterations_ds.Write(first, count, iterations.data() + first);
      status_ds.Write(first, count, status);
      if (curve_ds) curve_ds->Write(first, count, curve.data() + first * uS * ud);
      if (decoded_ds) decoded_ds->Write(first, count, decoded_curve.data() + first * uS * uD);
      out.SetCompletedRows(static_cast<std::int64_t>(first + count));
    };
    // The rows of the completed pairs, from the batch's partial result, written in order.
    hooks.items_done = [&](const GeodesicBatchResult& partial, std::size_t first, std::size_t count) {
      for (std::size_t p = first; p < first + count; ++p) {
        const LogMapResult& r = partial.solutions[p];
        error[p] = r.endpoint_error;
        iterations[p] = r.iterations;
        // Verified geodesics, and the two statuses that still carry a length: approximate (the best curve's) and
        // not_minimal (a true geodesic, but not the distance).
        if (r.usable() || r.status == GeodesicStatus::kApproximate || r.status == GeodesicStatus::kNotMinimal) {
          length[p] = r.length;
          energy[p] = r.energy;
          if (r.initial_velocity.size() == d) Eigen::Map<VectorXd>(velocity.data() + p * ud, d) = r.initial_velocity;
        }
        if (S > 0 && !partial.curves[p].empty()) {
          const auto& c = partial.curves[p];
          StoreCurve(geometry, c.front(), {c.begin() + 1, c.end()}, S, curve.data() + p * uS * ud,
                     decoded ? decoded_curve.data() + p * uS * uD : nullptr);
        }
      }
      write_rows(partial.status.data() + first, first, count);
    };
    // A resumed run: the completed rows of the partial file, copied into the new one first.
    const std::size_t K = resume.rows;
    std::vector<PairStatus> prior_status;
    if (!resume.file.empty()) {
      ResumeInto(resume, "length", 1, length);
      ResumeInto(resume, "energy", 1, energy);
      ResumeInto(resume, "initial_velocity", ud, velocity);
      ResumeInto(resume, "endpoint_error", 1, error);
      ResumeInto(resume, "iterations", 1, iterations);
      if (curve_ds) ResumeInto(resume, "curve", uS * ud, curve);
      if (decoded_ds) ResumeInto(resume, "decoded_curve", uS * uD, decoded_curve);
      prior_status = ResumeStatuses<GeodesicStatus>(resume, 1);
      if (K > 0) write_rows(prior_status.data(), 0, K);
      out.SetCompletedRows(static_cast<std::int64_t>(K));
      FinishResume(resume);
      ctx_.err << "geodesic: resuming after " << K << " of " << P << " pairs\n";
      hooks.first_item = K;
    }
    GeodesicBatchResult result;
    try {
      result = SolveGeodesics(*geometry.metric, items, options, &hooks);
    } catch (const Interrupted& e) {
      return ReportInterrupted(ctx_, "geodesic", out, P, e, true);
    }
    for (std::size_t p = 0; p < K; ++p) result.status[p] = prior_status[p];  // the resumed rows, for the summary
    RunSummary summary = result.Summary();
    summary.seconds = progress.seconds();  // the solves and the row writes
    return FinishRun(ctx_, out, summary, geometry_.Describe(), output_);
  }

 private:
  Context& ctx_;
  GeometryOptions geometry_;
  std::string pairs_, output_;
  CurveOptions curve_;
  LogMapSetup log_map_;
  ResumeOptions resume_;
  Provenance provenance_;
};

// ---- pushpull exp -------------------------------------------------------------------------------------------

class ExpJob : public Job {
 public:
  explicit ExpJob(Context& ctx) : ctx_(ctx) {
    geometry_.SetFromOptions(ctx.db);
    ctx.db.SetSection("pushpull exp");
    ctx.db.String("", "points", points_, "Start points as FILE.h5:/path (N x d)", "ExpJob::points");
    ctx.db.String("", "velocities", velocities_, "Initial velocities as FILE.h5:/path (N x d)", "ExpJob::velocities");
    ctx.db.String("", "output", output_, "Output HDF5 file (written as FILE.partial, renamed when complete)",
                  "ExpJob::output");
    curve_.SetFromOptions(ctx.db, true);
    geodesic_.SetFromOptions(ctx.db, "geo_");
    resume_.SetFromOptions(ctx.db);
    provenance_ = Provenance::Collect(ctx.argv, &ctx.db);
  }

  int Run() override {
    geometry_.RequireSource();
    const DatasetName pname = DatasetName::Parse(RequireString(points_, "points", "FILE.h5:/path"), "points");
    const DatasetName vname =
        DatasetName::Parse(RequireString(velocities_, "velocities", "FILE.h5:/path"), "velocities");
    RequireString(output_, "output", "FILE.h5");
    const RowMatrixXd Z = ReadMatrix(pname, -1, "points");
    const RowMatrixXd U = ReadMatrix(vname, Z.cols(), "velocities");
    if (U.rows() != Z.rows()) {
      throw InputError(vname.ToString() + " has " + std::to_string(U.rows()) + " rows, but " + pname.ToString() +
                       " has " + std::to_string(Z.rows()));
    }
    const std::size_t N = static_cast<std::size_t>(Z.rows());
    const int d = static_cast<int>(Z.cols());
    // One metric shared by the workers (its const methods are safe for concurrent use: geodesic_batch.hpp).
    const Geometry geometry = geometry_.Make(d);
    for (std::size_t i = 0; i < N; ++i) {
      RequireInDomain(*geometry.metric, Z.row(static_cast<Eigen::Index>(i)).transpose(),
                      "point " + std::to_string(i) + " (" + pname.ToString() + ")");
    }
    const int S = curve_.curve_samples;
    const bool decoded = S > 0 && geometry.decoder;
    const int D = geometry.decoder ? geometry.decoder->output_dim() : 0;
    const std::size_t ud = static_cast<std::size_t>(d), uS = static_cast<std::size_t>(S),
                      uD = static_cast<std::size_t>(D);
    ExpMapColumns cols(N, d);
    std::vector<double> curve(N * uS * ud, kNaN), decoded_curve(decoded ? N * uS * uD : 0, kNaN);
    std::vector<PairStatus> status(N, PairStatus::FromValue(PairStatus::kNotComputed, "not computed"));
    std::vector<OdeStats> stats(N);
    const ResumeSource resume = PrepareResume(resume_, output_, "exp", ctx_.db, N);

    OutputFile out(output_, provenance_);
    out.SetAttribute("/", "command", "exp");
    out.SetAttribute("/", "metric", geometry_.Describe());
    RowDataset end_ds = out.CreateRowDataset("endpoints", ElementType::kFloat64, N, {ud});
    RowDataset vel_ds = out.CreateRowDataset("end_velocities", ElementType::kFloat64, N, {ud});
    RowDataset length_ds = out.CreateRowDataset("length", ElementType::kFloat64, N, {});
    RowDataset energy_ds = out.CreateRowDataset("energy", ElementType::kFloat64, N, {});
    RowDataset drift_ds = out.CreateRowDataset("speed_drift", ElementType::kFloat64, N, {});
    StatusDatasets status_ds(out, N);
    std::optional<RowDataset> curve_ds, decoded_ds;
    if (S > 0) curve_ds = out.CreateRowDataset("curve", ElementType::kFloat64, N, {uS, ud});
    if (decoded) decoded_ds = out.CreateRowDataset("decoded_curve", ElementType::kFloat64, N, {uS, uD});

    const std::size_t K = resume.rows;  // rows [0, K) of a resumed run are the partial file's
    BatchProgress progress("exp", N);
    RunSummary summary;
    summary.task = "exp";
    summary.item = "point";
    auto emit_rows = [&](std::size_t first, std::size_t count) {
      for (std::size_t i = first; i < first + count; ++i) {
        summary.Count(status[i], [&] { return "point " + std::to_string(i); });
        summary.ode.Add(stats[i]);
      }
      ScopedEvent event(kEventWrite);
      end_ds.Write(first, count, cols.end_point.data() + first * ud);
      vel_ds.Write(first, count, cols.end_velocity.data() + first * ud);
      length_ds.Write(first, count, cols.length.data() + first);
      energy_ds.Write(first, count, cols.energy.data() + first);
      drift_ds.Write(first, count, cols.speed_drift.data() + first);
      status_ds.Write(first, count, status.data() + first);
      if (curve_ds) curve_ds->Write(first, count, curve.data() + first * uS * ud);
      if (decoded_ds) decoded_ds->Write(first, count, decoded_curve.data() + first * uS * uD);
      out.SetCompletedRows(static_cast<std::int64_t>(first + count));
      progress.Update(first + count, summary.failed);
    };
    if (!resume.file.empty()) {
      ResumeInto(resume, "endpoints", ud, cols.end_point);
      ResumeInto(resume, "end_velocities", ud, cols.end_velocity);
      ResumeInto(resume, "length", 1, cols.length);
      ResumeInto(resume, "energy", 1, cols.energy);
      ResumeInto(resume, "speed_drift", 1, cols.speed_drift);
      if (curve_ds) ResumeInto(resume, "curve", uS * ud, curve);
      if (decoded_ds) ResumeInto(resume, "decoded_curve", uS * uD, decoded_curve);
      const std::vector<PairStatus> prior = ResumeStatuses<GeodesicStatus>(resume, 1);
      std::copy(prior.begin(), prior.end(), status.begin());
      // The copied rows are written and counted like computed ones (their integrator statistics are not stored).
      if (K > 0) emit_rows(0, K);
      out.SetCompletedRows(static_cast<std::int64_t>(K));
      FinishResume(resume);
      ctx_.err << "exp: resuming after " << K << " of " << N << " rows\n";
    }
    ExpMapBatchOptions options;
    options.geodesic = geodesic_;
    options.threads = curve_.Workers();
    options.curve_samples = S;
    ExpMapBatchHooks hooks;
    hooks.first_item = K;
    // The rows of the completed points, from the batch's partial result, written in order.
    hooks.items_done = [&](const ExpMapBatchResult& partial, std::size_t first, std::size_t count) {
      for (std::size_t i = first; i < first + count; ++i) {
        const ExpMapResult& r = partial.solutions[i];
        stats[i] = r.stats;
        status[i] = partial.status[i];
        cols.Set(i, r);
        if (S > 0 && !partial.curves[i].empty()) {
          const auto& c = partial.curves[i];
          StoreCurve(geometry, c.front(), {c.begin() + 1, c.end()}, S, curve.data() + i * uS * ud,
                     decoded ? decoded_curve.data() + i * uS * uD : nullptr);
        }
      }
      emit_rows(first, count);
    };
    try {
      SolveExpMaps(*geometry.metric, Z, U, options, &hooks);
    } catch (const Interrupted& e) {
      return ReportInterrupted(ctx_, "exp", out, N, e, true);
    }
    progress.Update(N, summary.failed, true);
    summary.seconds = progress.seconds();
    return FinishRun(ctx_, out, summary, geometry_.Describe(), output_);
  }

 private:
  Context& ctx_;
  GeometryOptions geometry_;
  std::string points_, velocities_, output_;
  CurveOptions curve_;
  GeodesicOptions geodesic_;
  ResumeOptions resume_;
  Provenance provenance_;
};

// ---- pushpull distances -------------------------------------------------------------------------------------

class DistancesJob : public Job {
 public:
  explicit DistancesJob(Context& ctx) : ctx_(ctx) {
    geometry_.SetFromOptions(ctx.db);
    ctx.db.SetSection("pushpull distances");
    ctx.db.String("", "points", points_, "Latent points as FILE.h5:/path (N x d)", "DistancesJob::points");
    ctx.db.String("", "output", output_, "Output HDF5 file (written as FILE.partial, renamed when complete)",
                  "DistancesJob::output");
    curve_.SetFromOptions(ctx.db, false);
    log_map_.SetFromOptions(ctx.db);
    triangle_.SetFromOptions(ctx.db, "distances_");
    resume_.SetFromOptions(ctx.db);
    provenance_ = Provenance::Collect(ctx.argv, &ctx.db);
  }

  int Run() override {
    geometry_.RequireSource();
    const DatasetName pname = DatasetName::Parse(RequireString(points_, "points", "FILE.h5:/path"), "points");
    RequireString(output_, "output", "FILE.h5");
    const RowMatrixXd Z = ReadMatrix(pname, -1, "points");
    const std::size_t N = static_cast<std::size_t>(Z.rows());
    const int d = static_cast<int>(Z.cols());
    const std::size_t pairs = N * (N - (N > 0 ? 1 : 0)) / 2;
    const Geometry geometry = geometry_.Make(d);
    for (std::size_t i = 0; i < N; ++i) {
      RequireInDomain(*geometry.metric, Z.row(static_cast<Eigen::Index>(i)).transpose(),
                      "point " + std::to_string(i) + " (" + pname.ToString() + ")");
    }
    log_map_.Prepare(*geometry.metric);

    const std::size_t ud = static_cast<std::size_t>(d);
    const ResumeSource resume = PrepareResume(resume_, output_, "distances", ctx_.db, N);

    OutputFile out(output_, provenance_);
    out.SetAttribute("/", "command", "distances");
    out.SetAttribute("/", "metric", geometry_.Describe());
    log_map_.Describe(out);
    RowDataset dist_ds = out.CreateRowDataset("distances", ElementType::kFloat64, N, {N});
    StatusDatasets status_ds(out, N, {N});
    // Log_{z_i}(z_j) for i < j (NaN elsewhere and where the pair failed): what the triangle pass of a resumed run
    // starts its concatenated curves from.
    RowDataset velocity_ds = out.CreateRowDataset("initial_velocity", ElementType::kFloat64, N, {N, ud});

    GeodesicBatchOptions options = log_map_.BatchOptions(curve_.Workers());
    options.triangle = triangle_;
    BatchProgress progress("distances", pairs);
    GeodesicBatchHooks hooks;
    hooks.progress = progress.monitors();
    hooks.bvp_monitor = log_map_.Monitors(ctx_.err);
    // Rows [first, first + count) of the matrix as they complete (before the triangle pass).
    auto write_rows = [&](const DistanceMatrixResult& partial, std::size_t first, std::size_t count) {
      std::vector<double> velocity(count * N * ud, kNaN);
      for (std::size_t i = first; i < first + count; ++i) {
        for (std::size_t j = i + 1; j < N; ++j) {
          const VectorXd& v = partial.initial_velocity[i * N + j];
          if (v.size() == d) Eigen::Map<VectorXd>(velocity.data() + ((i - first) * N + j) * ud, d) = v;
        }
      }
      ScopedEvent event(kEventWrite);
      dist_ds.Write(first, count, partial.distances.data() + first * N);
      status_ds.Write(first, count, partial.status.data() + first * N);
      velocity_ds.Write(first, count, velocity.data());
      out.SetCompletedRows(static_cast<std::int64_t>(first + count));
    };
    hooks.rows_done = write_rows;

    // A resumed run: the completed rows of the partial file, copied into the new one first and given to the batch.
    DistanceMatrixResult prior;
    const std::size_t K = resume.rows;
    if (!resume.file.empty()) {
      const std::vector<double> dist = ResumeRows(resume, "distances", N);
      const std::vector<PairStatus> statuses = ResumeStatuses<GeodesicStatus>(resume, N);
      const std::vector<double> velocity = ResumeRows(resume, "initial_velocity", N * ud);
      prior.distances.setConstant(static_cast<Eigen::Index>(N), static_cast<Eigen::Index>(N), kNaN);
      prior.status.assign(N * N, PairStatus::FromValue(PairStatus::kNotComputed, "not computed"));
      prior.initial_velocity.resize(N * N);
      for (std::size_t i = 0; i < K; ++i) {
        for (std::size_t j = 0; j < N; ++j) {
          prior.distances(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = dist[i * N + j];
          prior.status[i * N + j] = statuses[i * N + j];
          const Eigen::Map<const VectorXd> v(velocity.data() + (i * N + j) * ud, d);
          if (j > i && v.allFinite()) prior.initial_velocity[i * N + j] = v;
        }
      }
      if (K > 0) write_rows(prior, 0, K);
      out.SetCompletedRows(static_cast<std::int64_t>(K));
      FinishResume(resume);
      ctx_.err << "distances: resuming after " << K << " of " << N << " rows\n";
      hooks.first_row = K;
      hooks.prior = &prior;
    }
    DistanceMatrixResult result;
    try {
      result = ComputeDistanceMatrix(*geometry.metric, Z, options, &hooks);
    } catch (const Interrupted& e) {
      return ReportInterrupted(ctx_, "distances", out, N, e, true);
    }
    const bool repaired = std::any_of(result.repairs.begin(), result.repairs.end(),
                                      [](const TriangleRepair& r) { return r.changed; });
    if (repaired && N > 0) write_rows(result, 0, N);  // the entries the triangle pass shortened

    WriteTrianglePass(out, result);
    RunSummary summary = result.Summary();
    summary.seconds = progress.seconds();
    const int code = FinishRun(ctx_, out, summary, geometry_.Describe() + ", " + std::to_string(N) + " points", output_);
    ReportTrianglePass(result);
    return code;
  }

 private:
  Context& ctx_;
  GeometryOptions geometry_;
  std::string points_, output_;
  CurveOptions curve_;
  LogMapSetup log_map_;
  TrianglePassOptions triangle_;
  ResumeOptions resume_;
  Provenance provenance_;

  // The group /triangle (docs/hdf5-layout.md): the settings, the counts, every re-solve and the violations left.
  void WriteTrianglePass(OutputFile& out, const DistanceMatrixResult& r) const {
    std::vector<std::int64_t> ri, rj, rk, round, changed, new_status, vi, vj, vk;
    std::vector<double> old_length, via_length, new_length, direct, via;
    for (const TriangleRepair& t : r.repairs) {
      ri.push_back(static_cast<std::int64_t>(t.i));
      rj.push_back(static_cast<std::int64_t>(t.j));
      rk.push_back(static_cast<std::int64_t>(t.k));
      round.push_back(t.round);
      changed.push_back(t.changed ? 1 : 0);
      new_status.push_back(static_cast<std::int64_t>(t.new_status));
      old_length.push_back(t.old_length);
      via_length.push_back(t.via_length);
      new_length.push_back(t.new_length);
    }
    for (const TriangleViolation& v : r.violations) {
      vi.push_back(static_cast<std::int64_t>(v.i));
      vj.push_back(static_cast<std::int64_t>(v.j));
      vk.push_back(static_cast<std::int64_t>(v.k));
      direct.push_back(v.direct);
      via.push_back(v.via);
    }
    out.WriteIntVector("triangle/repair_i", ri);
    out.WriteIntVector("triangle/repair_j", rj);
    out.WriteIntVector("triangle/repair_k", rk);
    out.WriteIntVector("triangle/repair_round", round);
    out.WriteIntVector("triangle/repair_changed", changed);
    out.WriteIntVector("triangle/repair_status", new_status);
    out.WriteVector("triangle/repair_old_length", old_length);
    out.WriteVector("triangle/repair_via_length", via_length);
    out.WriteVector("triangle/repair_new_length", new_length);
    out.WriteIntVector("triangle/violation_i", vi);
    out.WriteIntVector("triangle/violation_j", vj);
    out.WriteIntVector("triangle/violation_k", vk);
    out.WriteVector("triangle/violation_direct", direct);
    out.WriteVector("triangle/violation_via", via);
    out.SetAttribute("/triangle", "rtol", triangle_.rtol);
    out.SetAttribute("/triangle", "max_rounds", static_cast<std::int64_t>(triangle_.max_rounds));
    out.SetAttribute("/triangle", "rounds", static_cast<std::int64_t>(r.triangle_rounds));
    out.SetAttribute("/triangle", "resolved", static_cast<std::int64_t>(r.repairs.size()));
    out.SetAttribute("/triangle", "changed",
                     static_cast<std::int64_t>(std::count(changed.begin(), changed.end(), std::int64_t{1})));
    out.SetAttribute("/triangle", "violations", static_cast<std::int64_t>(r.violations.size()));
  }

  // One stderr line when the pass re-solved anything or violations are left, then the first violations.
  void ReportTrianglePass(const DistanceMatrixResult& r) const {
    if (r.repairs.empty() && r.violations.empty()) return;
    const auto changed = std::count_if(r.repairs.begin(), r.repairs.end(), [](const TriangleRepair& t) {
      return t.changed;
    });
    ctx_.err << "distances: triangle pass (-distances_triangle_rtol " << FormatReal(triangle_.rtol) << "): "
             << r.repairs.size() << " re-solved in " << r.triangle_rounds << " rounds, " << changed
             << " shortened, " << r.violations.size() << " violations left\n";
    for (std::size_t k = 0; k < r.violations.size() && k < 5; ++k) {
      const TriangleViolation& v = r.violations[k];
      ctx_.err << "  d(" << v.i << ", " << v.j << ") = " << FormatReal(v.direct) << " > d(" << v.i << ", " << v.k
               << ") + d(" << v.k << ", " << v.j << ") = " << FormatReal(v.via) << "\n";
    }
  }
};

}  // namespace

Command GeodesicCommand() {
  return {"geodesic", "geodesics between pairs of latent points (logarithm map by shooting): lengths, energies, "
                      "initial velocities and curves",
          "pushpull geodesic (-model M.h5 [-metric stochastic] | -metric_type NAME) -pairs P.h5:/pairs -output "
          "OUT.h5 [-curve_samples S] [-threads T]",
          [](Context& ctx) -> std::unique_ptr<Job> { return std::make_unique<GeodesicJob>(ctx); }};
}

Command ExpCommand() {
  return {"exp", "the exponential map: geodesics from start points with initial velocities",
          "pushpull exp (-model M.h5 | -metric_type NAME) -points F.h5:/z -velocities F.h5:/u -output OUT.h5 "
          "[-curve_samples S]",
          [](Context& ctx) -> std::unique_ptr<Job> { return std::make_unique<ExpJob>(ctx); }};
}

Command DistancesCommand() {
  return {"distances", "the symmetric matrix of geodesic distances between latent points",
          "pushpull distances (-model M.h5 | -metric_type NAME) -points F.h5:/path -output OUT.h5 [-threads T]",
          [](Context& ctx) -> std::unique_ptr<Job> { return std::make_unique<DistancesJob>(ctx); }};
}

}  // namespace pushpull::cli

// `pushpull density` and `pushpull sample`: log-densities of data points and samples of a continuous normalizing
// flow read from a model file. Rows are written to OUT.h5.partial as they complete; OUT.h5 appears only when the
// run finished.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>

#include "cli/commands.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/event_log.hpp"
#include "pushpull/io.hpp"
#include "pushpull/mlp.hpp"
#include "pushpull/parallel.hpp"
#include "pushpull/provenance.hpp"
#include "pushpull/pushforward.hpp"
#include "pushpull/status_output.hpp"

namespace pushpull::cli {
namespace {

struct FlowCommandOptions {
  std::string model;
  std::string model_group = "/velocity";
  std::string input;
  std::int64_t n = 1000;
  std::string output;

  void SetFromOptions(OptionsDatabase& db, bool density) {
    db.SetSection(density ? "pushpull density" : "pushpull sample");
    db.String("", "model", model, "Model file (HDF5, schema pushpull-mlp v1) holding the velocity field",
              "FlowCommandOptions::model");
    db.String("", "model_group", model_group, "Group of the velocity field in the model file",
              "FlowCommandOptions::model_group");
    if (density) {
      db.String("", "input", input, "Data points as FILE.h5:/path (N x d)", "FlowCommandOptions::input");
    } else {
      db.Int("", "n", n, "Number of samples", "FlowCommandOptions::n", IntBounds::AtLeast(1));
    }
    db.String("", "output", output, "Output HDF5 file (written as FILE.partial, renamed when complete)",
              "FlowCommandOptions::output");
  }
};

class FlowJob : public Job {
 public:
  FlowJob(Context& ctx, bool density) : ctx_(ctx), density_(density) {
    options_.SetFromOptions(ctx.db, density);
    flow_.SetFromOptions(ctx.db, "", /*monitor=*/true);
    resume_.SetFromOptions(ctx.db);
    provenance_ = Provenance::Collect(ctx.argv, &ctx.db);
  }

  int Run() override {
    if (options_.model.empty()) throw InputError("-model FILE.h5 is required");
    if (density_ && options_.input.empty()) throw InputError("-input FILE.h5:/path is required");
    if (options_.output.empty()) throw InputError("-output FILE.h5 is required");
    const Mlp mlp = ReadMlp(options_.model, options_.model_group, true);
    const auto field = MakeMlpField(mlp);
    const int d = field->dim();
    RowMatrixXd starts;
    if (density_) {
      const DatasetName name = DatasetName::Parse(options_.input, "input");
      starts = ReadMatrix(name, -1, "points");
      if (starts.cols() != d) {
        throw InputError("dataset '" + name.path + "' in file '" + name.file + "' has " +
                         std::to_string(starts.cols()) + " columns, but the model " + mlp.source + " has dimension " +
                         std::to_string(d));
      }
    } else {
      starts = DrawStandardNormal(static_cast<std::size_t>(options_.n), d, flow_.seed);
    }
    const std::size_t N = static_cast<std::size_t>(starts.rows());
    const std::size_t ud = static_cast<std::size_t>(d), T = flow_.save_times.size();
    const ResumeSource resume =
        PrepareResume(resume_, options_.output, density_ ? "density" : "sample", ctx_.db, N);

    OutputFile out(options_.output, provenance_);
    out.SetAttribute("/", "command", density_ ? "density" : "sample");
    out.SetAttribute("/", "model", mlp.source);
    out.SetAttribute("/", "base_time", mlp.base_time);
    out.SetAttribute("/", "seed", static_cast<std::int64_t>(flow_.seed));
    out.SetAttribute("/", "trace_type", flow_.trace_type);
    out.SetAttribute("/", "ode_type", flow_.ode.type);
    out.SetAttribute("/", "ode_rtol", flow_.ode.rtol);
    out.SetAttribute("/", "ode_atol", flow_.ode.atol);
    out.SetAttribute("/", "total_rows", static_cast<std::int64_t>(N));
    const std::string endpoints_name = density_ ? "latent" : "samples";
    RowDataset log_density = out.CreateRowDataset("log_density", ElementType::kFloat64, N, {});
    RowDataset endpoints = out.CreateRowDataset(endpoints_name, ElementType::kFloat64, N, {ud});
    std::optional<RowDataset> kinetic, frobenius, curl;
    if (flow_.kinetic) kinetic = out.CreateRowDataset("kinetic", ElementType::kFloat64, N, {});
    if (flow_.frobenius) frobenius = out.CreateRowDataset("frobenius", ElementType::kFloat64, N, {});
    if (flow_.curl) curl = out.CreateRowDataset("curl", ElementType::kFloat64, N, {});
    RowDataset divergence = out.CreateRowDataset("divergence_integral", ElementType::kFloat64, N, {});
    std::optional<RowDataset> logdet, logdet_difference;
    if (flow_.logdet_check) {
      logdet = out.CreateRowDataset("logdet", ElementType::kFloat64, N, {});
      logdet_difference = out.CreateRowDataset("logdet_difference", ElementType::kFloat64, N, {});
    }
    RowDataset nfe = out.CreateRowDataset("nfe", ElementType::kInt64, N, {});
    RowDataset steps = out.CreateRowDataset("steps", ElementType::kInt64, N, {});
    StatusDatasets status(out, N);  // status (-1: not computed) and status_message
    std::optional<RowDataset> trajectories;
    if (T > 0) trajectories = out.CreateRowDataset("trajectories", ElementType::kFloat64, N, {T, ud});
    static const int kEventWrite = EventLog::Global().Register("HDF5Write");

    auto write_rows = [&](const PushforwardResult& r, std::size_t first, std::size_t count) {
      ScopedEvent e(kEventWrite);
      log_density.Write(first, count, r.log_density.data() + first);
      endpoints.Write(first, count, r.endpoints.data() + first * ud);
      if (kinetic) kinetic->Write(first, count, r.kinetic.data() + first);
      if (frobenius) frobenius->Write(first, count, r.frobenius.data() + first);
      if (curl) curl->Write(first, count, r.curl.data() + first);
      divergence.Write(first, count, r.divergence_integral.data() + first);
      if (logdet) logdet->Write(first, count, r.logdet.data() + first);
      if (logdet_difference) logdet_difference->Write(first, count, r.logdet_difference.data() + first);
      nfe.Write(first, count, r.nfe.data() + first);
      steps.Write(first, count, r.steps.data() + first);
      status.Write(first, count, r.status.data() + first);
      if (trajectories) trajectories->Write(first, count, r.trajectories.data() + first * T * ud);
      out.SetCompletedRows(static_cast<std::int64_t>(first + count));
    };

    // A resumed run: the completed rows of the partial file, copied into the new one first.
    PushforwardResult prior;
    const std::size_t K = resume.rows;
    if (!resume.file.empty()) {
      auto vec = [&](const std::string& name) {
        const auto v = ResumeRows(resume, name, 1);
        return Eigen::VectorXd(Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(K)));
      };
      prior.log_density = vec("log_density");
      const auto e = ResumeRows(resume, endpoints_name, ud);
      prior.endpoints = Eigen::Map<const RowMatrixXd>(e.data(), static_cast<Eigen::Index>(K), d);
      if (kinetic) prior.kinetic = vec("kinetic");
      if (frobenius) prior.frobenius = vec("frobenius");
      if (curl) prior.curl = vec("curl");
      prior.divergence_integral = vec("divergence_integral");
      if (logdet) prior.logdet = vec("logdet");
      if (logdet_difference) prior.logdet_difference = vec("logdet_difference");
      for (const double v : ResumeRows(resume, "nfe", 1)) prior.nfe.push_back(static_cast<std::int64_t>(v));
      for (const double v : ResumeRows(resume, "steps", 1)) prior.steps.push_back(static_cast<std::int64_t>(v));
      prior.status = ResumeStatuses<OdeStatus>(resume, 1);
      if (trajectories) prior.trajectories = ResumeRows(resume, "trajectories", T * ud);
      if (K > 0) write_rows(prior, 0, K);
      out.SetCompletedRows(static_cast<std::int64_t>(K));
      FinishResume(resume);
      ctx_.err << (density_ ? "density" : "sample") << ": resuming after " << K << " of " << N << " rows\n";
    }

    PushforwardHooks hooks;
    hooks.first_row = K;
    hooks.rows_done = write_rows;
    MonitorList<ProgressEvent> progress;
    progress.Add(std::make_shared<ProgressBar>());
    hooks.progress = &progress;
    if (flow_.ode.monitor) {
      hooks.step_monitor = [this](const OdeStepEvent& e) {
        char line[160];
        std::snprintf(line, sizeof line, "ode step %6lld  t = %.10f  h = %.3e  order %d\n",
                      static_cast<long long>(e.step), e.t, e.h, e.order);
        ctx_.err << line;
      };
    }
    PushforwardResult r;
    try {
      r = density_ ? ComputeDensity(*field, mlp.base_time, starts, flow_, hooks)
                   : PushSamples(*field, mlp.base_time, starts, flow_, hooks);
    } catch (const Interrupted& e) {
      return ReportInterrupted(ctx_, density_ ? "density" : "sample", out, N, e, true);
    }
    for (std::size_t i = 0; i < K; ++i) {  // the resumed rows, for the summary below
      const auto ii = static_cast<Eigen::Index>(i);
      r.log_density(ii) = prior.log_density(ii);
      r.status[i] = prior.status[i];
      if (flow_.logdet_check) r.logdet_difference(ii) = prior.logdet_difference(ii);
    }
    if (!density_) out.WriteMatrix("base_samples", starts);
    if (T > 0) out.WriteVector("save_times", flow_.save_times);
    const RunSummary summary = density_ ? r.Summary("density", "point") : r.Summary("sample", "sample");
    WriteSummary(out, summary);
    out.SetAttribute("/", "event_log", EventLog::Global().Table(r.seconds));
    out.Commit();

    double mean = 0;
    std::size_t ok = 0;
    for (std::size_t i = 0; i < N; ++i) {
      if (r.status[i].usable()) {
        mean += r.log_density(static_cast<Eigen::Index>(i));
        ++ok;
      }
    }
    ctx_.out << summary.BriefReport() << ", mean log p " << (ok ? mean / static_cast<double>(ok) : 0.0) << " -> "
             << options_.output << "\n";
    if (flow_.logdet_check) {
      double worst = 0;
      for (std::size_t i = 0; i < N; ++i) {
        const double diff = std::abs(r.logdet_difference(static_cast<Eigen::Index>(i)));
        if (std::isfinite(diff)) worst = std::max(worst, diff);
      }
      ctx_.out << "logdet check: max |log|det| (variational equations) - divergence integral| = " << worst << "\n";
    }
    for (const std::string& f : summary.failures) ctx_.err << "  " << f << "\n";
    return summary.failed ? kExitItemsFailed : kExitSuccess;
  }

 private:
  Context& ctx_;
  bool density_;
  FlowCommandOptions options_;
  PushforwardOptions flow_;
  ResumeOptions resume_;
  Provenance provenance_;
};

}  // namespace

Command DensityCommand() {
  return {"density", "exact log-densities of data points under a continuous normalizing flow",
          "pushpull density -model M.h5 -input P.h5:/points -output OUT.h5 [-ode_type bdf] [-trace_type exact]",
          [](Context& ctx) -> std::unique_ptr<Job> { return std::make_unique<FlowJob>(ctx, true); }};
}

Command SampleCommand() {
  return {"sample", "samples of a continuous normalizing flow with their exact log-densities",
          "pushpull sample -model M.h5 -n N -seed S -output OUT.h5 [-save_times 0,0.5,1]",
          [](Context& ctx) -> std::unique_ptr<Job> { return std::make_unique<FlowJob>(ctx, false); }};
}

}  // namespace pushpull::cli

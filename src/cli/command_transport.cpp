// `pushpull transport`: optimal transport between two point sets (exact or Sinkhorn), two-sample statistics (MMD^2
// and energy distance), and the flow-versus-OT diagnostics of a continuous normalizing flow. The layouts are in
// docs/hdf5-layout.md; the mathematics in docs/transport.md. Everything is computed first, then written to
// OUT.h5.partial and renamed to OUT.h5.
#include <cmath>
#include <optional>
#include <sstream>

#include "cli/commands.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/event_log.hpp"
#include "pushpull/flow_transport.hpp"
#include "pushpull/io.hpp"
#include "pushpull/mlp.hpp"
#include "pushpull/optimal_transport.hpp"
#include "pushpull/provenance.hpp"
#include "pushpull/pushforward.hpp"
#include "pushpull/status_output.hpp"
#include "pushpull/two_sample.hpp"

namespace pushpull {
using TransportItemStatus = ItemStatus<TransportStatus>;
using TwoSampleItemStatus = ItemStatus<TwoSampleStatus>;
}  // namespace pushpull

namespace pushpull::cli {
namespace {

struct TransportCommandOptions {
  std::string mode = "auto";
  std::string source, target, source_weights, target_weights;
  std::string cost = "sqeuclidean";
  std::string ot_type = "exact";
  std::string model;
  std::string model_group = "/velocity";
  std::int64_t samples = 1000;
  std::string output;

  void SetFromOptions(OptionsDatabase& db) {
    db.SetSection("pushpull transport");
    db.Enum("", "mode", mode,
            "What to compute: ot = optimal transport between -source and -target; two_sample = MMD^2 and energy "
            "distance between -source and -target; flow = flow-versus-OT diagnostics of -model (with -target also "
            "the two-sample statistics between its samples and those points); auto = flow when -model is given, "
            "else ot",
            "TransportCommandOptions::mode", {"auto", "ot", "two_sample", "flow"});
    db.String("", "source", source, "Source points as FILE.h5:/path (n x d)", "TransportCommandOptions::source");
    db.String("", "target", target, "Target points as FILE.h5:/path (m x d)", "TransportCommandOptions::target");
    db.String("", "source_weights", source_weights,
              "Weights of the source points as FILE.h5:/path (n values, >= 0, summing to 1); default uniform",
              "TransportCommandOptions::source_weights");
    db.String("", "target_weights", target_weights,
              "Weights of the target points as FILE.h5:/path (m values, >= 0, summing to 1); default uniform",
              "TransportCommandOptions::target_weights");
    db.Enum("", "cost", cost,
            "Ground cost of -mode ot: sqeuclidean = ||x - y||^2 (the optimum is W2^2, written as w2_squared), "
            "euclidean = ||x - y|| (the optimum is W1, written as w1); sets -ot_cost and -sinkhorn_cost",
            "TransportCommandOptions::cost", {"sqeuclidean", "euclidean"});
    db.Enum("", "ot_type", ot_type,
            "Solver of -mode ot: exact (assignment or network simplex, with a certificate) or sinkhorn (entropic, "
            "log domain, debiased divergence)",
            "TransportCommandOptions::ot_type", {"exact", "sinkhorn"});
    db.String("", "model", model, "Model file (HDF5, schema pushpull-mlp v1) holding the velocity field (-mode flow)",
              "TransportCommandOptions::model");
    db.String("", "model_group", model_group, "Group of the velocity field in the model file",
              "TransportCommandOptions::model_group");
    db.Int("", "samples", samples, "Base draws pushed forward for -mode flow (seeded by -seed)",
           "TransportCommandOptions::samples", IntBounds::AtLeast(2));
    db.String("", "output", output, "Output HDF5 file (written as FILE.partial, renamed when complete)",
              "TransportCommandOptions::output");
  }
};

// Points of -source / -target.
PointMatrix ReadPoints(const std::string& spec, const std::string& option) {
  if (spec.empty()) throw InputError("-" + option + " FILE.h5:/path is required");
  const DatasetName name = DatasetName::Parse(spec, "-" + option);
  return ReadMatrix(name, -1, option + " points");
}

// Weights of -source_weights / -target_weights: `count` finite values >= 0 (the sum is checked by the solver).
Eigen::VectorXd ReadWeights(const std::string& spec, const std::string& option, Eigen::Index count) {
  if (spec.empty()) return {};
  const DatasetName name = DatasetName::Parse(spec, "-" + option);
  ArraySpec as;
  as.ranks = {1, 2};
  as.what = option;
  const Array a = ReadArray(name, as);
  if (a.rank() == 2 && a.shape[1] != 1) {
    throw InputError("-" + option + ": dataset '" + name.path + "' in file '" + name.file + "' has shape " +
                     std::to_string(a.shape[0]) + " x " + std::to_string(a.shape[1]) + "; expected " +
                     std::to_string(count) + " values");
  }
  if (static_cast<Eigen::Index>(a.size()) != count) {
    throw InputError("-" + option + ": dataset '" + name.path + "' in file '" + name.file + "' has " +
                     std::to_string(a.size()) + " values for " + std::to_string(count) + " points");
  }
  Eigen::VectorXd w(count);
  for (Eigen::Index i = 0; i < count; ++i) {
    w(i) = a.data[static_cast<std::size_t>(i)];
    if (w(i) < 0) {
      std::ostringstream s;
      s << "-" << option << ": entry " << i << " of dataset '" << name.path << "' in file '" << name.file << "' is "
        << w(i) << " (weights must be >= 0)";
      throw InputError(s.str());
    }
  }
  return w;
}

void WriteScalar(OutputFile& out, const std::string& name, double v) { out.WriteVector(name, {v}); }

// [estimate, standard error].
void WriteEstimate(OutputFile& out, const std::string& name, const MeanEstimate& e) {
  out.WriteVector(name, {e.value, e.standard_error});
}

// The exact OT result under `group` ("" = the root): cost, plan, potentials, certificate.
void WriteExact(OutputFile& out, const ExactTransportResult& r, const std::string& group) {
  const std::string g = group.empty() ? "" : group + "/";
  WriteScalar(out, g + (r.cost_type == TransportCost::kEuclidean ? "w1" : "w2_squared"), r.cost);
  out.WriteIntVector(g + "plan/rows", r.rows);
  out.WriteIntVector(g + "plan/cols", r.cols);
  out.WriteVector(g + "plan/mass", r.masses);
  out.WriteVector(g + "potentials/u", std::vector<double>(r.u.data(), r.u.data() + r.u.size()));
  out.WriteVector(g + "potentials/v", std::vector<double>(r.v.data(), r.v.data() + r.v.size()));
  const std::string c = g + "certificate/";
  WriteScalar(out, c + "primal", r.certificate.primal);
  WriteScalar(out, c + "dual", r.certificate.dual);
  WriteScalar(out, c + "duality_gap", r.certificate.duality_gap);
  WriteScalar(out, c + "max_reduced_cost_violation", r.certificate.max_reduced_cost_violation);
  WriteScalar(out, c + "max_marginal_violation", r.certificate.max_marginal_violation);
  WriteScalar(out, c + "cost_scale", r.certificate.cost_scale);
  const std::string object = group.empty() ? "/" : group;
  out.SetAttribute(object, "solver", r.solver);
  out.SetAttribute(object, "cost_name", r.cost_name);
  out.SetAttribute(object, "iterations", r.iterations);
  out.SetAttribute(object, "cost_bits_used", static_cast<std::int64_t>(r.cost_bits_used));
  out.SetAttribute(object, "transport_status", ToString(r.status));
  out.SetAttribute(object, "transport_message", r.message);
}

// The two-sample statistics under `group` ("" = the root).
void WriteTwoSample(OutputFile& out, const TwoSampleResult& r, const std::string& group) {
  const std::string g = group.empty() ? "" : group + "/";
  std::vector<double> h, value, variance, se, p;
  std::vector<std::int64_t> exceed;
  for (const auto& s : r.mmd) {
    h.push_back(s.bandwidth);
    value.push_back(s.value);
    variance.push_back(s.variance);
    se.push_back(s.standard_error);
    p.push_back(s.p_value);
    exceed.push_back(s.exceedances);
  }
  out.WriteVector(g + "mmd2/bandwidth", h);
  out.WriteVector(g + "mmd2/value", value);
  out.WriteVector(g + "mmd2/variance", variance);
  out.WriteVector(g + "mmd2/standard_error", se);
  out.WriteVector(g + "mmd2/p_value", p);
  out.WriteIntVector(g + "mmd2/exceedances", exceed);
  if (!r.energy.name.empty()) {
    WriteScalar(out, g + "energy/value", r.energy.value);
    WriteScalar(out, g + "energy/variance", r.energy.variance);
    WriteScalar(out, g + "energy/standard_error", r.energy.standard_error);
    WriteScalar(out, g + "energy/p_value", r.energy.p_value);
    out.WriteIntVector(g + "energy/exceedances", {r.energy.exceedances});
  }
  const std::string object = group.empty() ? "/" : group;
  out.SetAttribute(object, "median_distance", r.median_distance);
  out.SetAttribute(object, "median_points", r.median_points);
  out.SetAttribute(object, "permutations", static_cast<std::int64_t>(r.permutations));
  out.SetAttribute(object, "mmd_seed", static_cast<std::int64_t>(r.seed));
}

std::string Fmt(double v) {
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

class TransportJob : public Job {
 public:
  explicit TransportJob(Context& ctx) : ctx_(ctx) {
    options_.SetFromOptions(ctx.db);
    exact_.SetFromOptions(ctx.db);
    sinkhorn_.SetFromOptions(ctx.db);
    two_sample_.SetFromOptions(ctx.db);
    flow_.SetFromOptions(ctx.db, "", /*monitor=*/false);
    for (const char* name : {"ot_cost", "sinkhorn_cost"}) {
      if (ctx.db.HasValue(name) && ctx.db.RawValue(name) != options_.cost) {
        throw InputError(std::string("-") + name + " " + ctx.db.RawValue(name) +
                         ": in `pushpull transport` the ground cost is set by -cost (now " + options_.cost + ")");
      }
    }
    exact_.cost = options_.cost;
    sinkhorn_.cost = options_.cost;
    provenance_ = Provenance::Collect(ctx.argv, &ctx.db);
  }

  int Run() override {
    std::string mode = options_.mode;
    if (mode == "auto") mode = options_.model.empty() ? "ot" : "flow";
    if (options_.output.empty()) throw InputError("-output FILE.h5 is required");
    if (mode == "flow") return RunFlow();
    if (!options_.model.empty()) throw InputError("-model is used by -mode flow only (now -mode " + mode + ")");
    const PointMatrix x = ReadPoints(options_.source, "source");
    const PointMatrix y = ReadPoints(options_.target, "target");
    if (x.cols() != y.cols()) {
      throw InputError("-source " + options_.source + " has dimension " + std::to_string(x.cols()) + " but -target " +
                       options_.target + " has dimension " + std::to_string(y.cols()));
    }
    if (mode == "two_sample") {
      if (!options_.source_weights.empty() || !options_.target_weights.empty()) {
        throw InputError("-mode two_sample takes no weights (-source_weights / -target_weights)");
      }
      return RunTwoSample(x, y);
    }
    const Eigen::VectorXd a = ReadWeights(options_.source_weights, "source_weights", x.rows());
    const Eigen::VectorXd b = ReadWeights(options_.target_weights, "target_weights", y.rows());
    return options_.ot_type == "exact" ? RunExact(x, y, a, b) : RunSinkhorn(x, y, a, b);
  }

 private:
  // Solver input errors named with the files they came from.
  [[noreturn]] void Rethrow(const InputError& e) const {
    throw InputError(std::string(e.what()) + " (-source " + options_.source + ", -target " + options_.target +
                     (options_.source_weights.empty() ? "" : ", -source_weights " + options_.source_weights) +
                     (options_.target_weights.empty() ? "" : ", -target_weights " + options_.target_weights) + ")");
  }

  static void SetMode(OutputFile& out, const std::string& mode) {
    out.SetAttribute("/", "command", "transport");
    out.SetAttribute("/", "mode", mode);
  }

  void SetInputAttributes(OutputFile& out) {
    out.SetAttribute("/", "source", options_.source);
    out.SetAttribute("/", "target", options_.target);
    out.SetAttribute("/", "source_weights", options_.source_weights.empty() ? "uniform" : options_.source_weights);
    out.SetAttribute("/", "target_weights", options_.target_weights.empty() ? "uniform" : options_.target_weights);
  }

  // One status row for the single solve, and the run summary.
  template <class Code>
  bool Finish(OutputFile& out, const ItemStatus<Code>& status, const std::string& task, double seconds) {
    StatusDatasets statuses(out, 1);
    statuses.Write(0, 1, &status);
    out.SetCompletedRows(1);
    RunSummary summary;
    summary.task = task;
    summary.item = "solve";
    summary.has_ode = false;
    summary.Count(status, [] { return std::string("solve"); });
    summary.seconds = seconds;
    WriteSummary(out, summary);
    out.SetAttribute("/", "event_log", EventLog::Global().Table(seconds));
    out.Commit();
    if (!status.usable()) ctx_.err << "  " << task << ": " << status.name() << ": " << status.message << "\n";
    return status.usable();
  }

  int RunExact(const PointMatrix& x, const PointMatrix& y, const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
    ExactTransportResult r;
    try {
      r = SolveExactTransport(x, y, a, b, exact_);
    } catch (const InputError& e) {
      Rethrow(e);
    }
    OutputFile out(options_.output, provenance_);
    SetMode(out, "ot");
    SetInputAttributes(out);
    out.SetAttribute("/", "ot_type", "exact");
    out.SetAttribute("/", "cost", options_.cost);
    WriteExact(out, r, "");
    const bool ok = Finish(out, TransportItemStatus(r.status, r.message), "transport", r.seconds);
    ctx_.out << "transport: exact (" << r.solver << "), " << r.cost_name << " = " << Fmt(r.cost)
             << ", duality gap " << Fmt(r.certificate.duality_gap) << ", max reduced-cost violation "
             << Fmt(r.certificate.max_reduced_cost_violation) << ", " << r.rows.size() << " plan entries, "
             << ToString(r.status) << ", " << Fmt(r.seconds) << " s -> " << options_.output << "\n";
    return ok ? kExitSuccess : kExitItemsFailed;
  }

  int RunSinkhorn(const PointMatrix& x, const PointMatrix& y, const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
    SinkhornResult r;
    try {
      r = SolveSinkhorn(x, y, a, b, sinkhorn_);
    } catch (const InputError& e) {
      Rethrow(e);
    }
    OutputFile out(options_.output, provenance_);
    SetMode(out, "ot");
    SetInputAttributes(out);
    out.SetAttribute("/", "ot_type", "sinkhorn");
    out.SetAttribute("/", "cost", options_.cost);
    out.SetAttribute("/", "cost_name", r.cost_name);
    out.SetAttribute("/", "epsilon", r.epsilon);
    WriteScalar(out, "sinkhorn_divergence", r.divergence);
    WriteScalar(out, "entropic_cost", r.xy.entropic_cost);
    WriteScalar(out, "transport_cost", r.xy.transport_cost);
    WriteScalar(out, "marginal_violation", r.xy.marginal_violation);
    out.WriteVector("potentials/f", std::vector<double>(r.xy.f.data(), r.xy.f.data() + r.xy.f.size()));
    out.WriteVector("potentials/g", std::vector<double>(r.xy.g.data(), r.xy.g.data() + r.xy.g.size()));
    out.SetAttribute("/", "iterations", static_cast<std::int64_t>(r.xy.iterations));
    out.SetAttribute("/", "stages", static_cast<std::int64_t>(r.xy.stages));
    if (sinkhorn_.debiased) {
      WriteScalar(out, "entropic_cost_source", r.xx.entropic_cost);
      WriteScalar(out, "entropic_cost_target", r.yy.entropic_cost);
    }
    const bool ok = Finish(out, TransportItemStatus(r.status, r.message), "transport", r.seconds);
    ctx_.out << "transport: sinkhorn (eps " << Fmt(r.epsilon) << "), divergence " << Fmt(r.divergence)
             << " (approximates " << r.cost_name << "), marginal violation " << Fmt(r.xy.marginal_violation) << ", "
             << ToString(r.status) << ", " << Fmt(r.seconds) << " s -> " << options_.output << "\n";
    return ok ? kExitSuccess : kExitItemsFailed;
  }

  int RunTwoSample(const PointMatrix& x, const PointMatrix& y) {
    TwoSampleResult r;
    try {
      r = CompareSamples(x, y, two_sample_);
    } catch (const InputError& e) {
      Rethrow(e);
    }
    OutputFile out(options_.output, provenance_);
    SetMode(out, "two_sample");
    SetInputAttributes(out);
    WriteTwoSample(out, r, "");
    const bool ok = Finish(out, TwoSampleItemStatus(r.status, r.message), "two_sample", r.seconds);
    ctx_.out << "two_sample: median distance " << Fmt(r.median_distance);
    for (const auto& s : r.mmd) {
      ctx_.out << "\n  mmd2 h = " << Fmt(s.bandwidth) << ": " << Fmt(s.value) << " +- " << Fmt(s.standard_error)
               << ", p = " << Fmt(s.p_value);
    }
    if (!r.energy.name.empty()) {
      ctx_.out << "\n  energy: " << Fmt(r.energy.value) << " +- " << Fmt(r.energy.standard_error)
               << ", p = " << Fmt(r.energy.p_value);
    }
    ctx_.out << "\n-> " << options_.output << "\n";
    return ok ? kExitSuccess : kExitItemsFailed;
  }

  int RunFlow() {
    if (options_.model.empty()) throw InputError("-mode flow needs -model FILE.h5");
    if (!options_.source.empty()) throw InputError("-mode flow draws its own base points; -source is not used");
    if (options_.ot_type != "exact") throw InputError("-mode flow uses the exact solver (-ot_type exact)");
    if (options_.cost != "sqeuclidean") throw InputError("-mode flow compares with W2^2 (-cost sqeuclidean)");
    const Mlp mlp = ReadMlp(options_.model, options_.model_group, true);
    const auto field = MakeMlpField(mlp);
    const int d = field->dim();
    std::optional<PointMatrix> data;
    if (!options_.target.empty()) {
      data = ReadPoints(options_.target, "target");
      if (data->cols() != d) {
        throw InputError("-target " + options_.target + " has dimension " + std::to_string(data->cols()) +
                         " but the model " + mlp.source + " has dimension " + std::to_string(d));
      }
    }
    const RowMatrixXd z = DrawStandardNormal(static_cast<std::size_t>(options_.samples), d, flow_.seed);
    MonitorList<ProgressEvent> progress;
    progress.Add(std::make_shared<ProgressBar>());
    PushforwardHooks hooks;
    hooks.progress = &progress;
    const FlowTransportDiagnostics r = ComputeFlowTransportDiagnostics(*field, mlp.base_time, z, flow_, exact_, hooks);
    std::optional<TwoSampleResult> compare;
    if (data) {
      PointMatrix x(static_cast<Eigen::Index>(r.used), d);
      Eigen::Index k = 0;
      for (std::size_t i = 0; i < r.samples; ++i) {
        if (r.push.status[i].usable()) x.row(k++) = r.push.endpoints.row(static_cast<Eigen::Index>(i));
      }
      try {
        compare = CompareSamples(x, *data, two_sample_);
      } catch (const InputError& e) {
        throw InputError(std::string(e.what()) + " (model samples against -target " + options_.target + ")");
      }
    }

    OutputFile out(options_.output, provenance_);
    SetMode(out, "flow");
    out.SetAttribute("/", "model", mlp.source);
    out.SetAttribute("/", "base_time", mlp.base_time);
    out.SetAttribute("/", "seed", static_cast<std::int64_t>(flow_.seed));
    out.SetAttribute("/", "ode_type", flow_.ode.type);
    out.SetAttribute("/", "ode_rtol", flow_.ode.rtol);
    out.SetAttribute("/", "ode_atol", flow_.ode.atol);
    out.SetAttribute("/", "samples_used", static_cast<std::int64_t>(r.used));
    const std::size_t N = r.samples;
    out.WriteMatrix("base_samples", z);
    out.WriteMatrix("samples", r.push.endpoints);
    out.WriteVector("kinetic", std::vector<double>(r.push.kinetic.data(), r.push.kinetic.data() + N));
    out.WriteVector("displacement", std::vector<double>(r.displacement_per_sample.data(),
                                                        r.displacement_per_sample.data() + N));
    out.WriteVector("curl", std::vector<double>(r.push.curl.data(), r.push.curl.data() + N));
    StatusDatasets status(out, N);
    status.Write(0, N, r.push.status.data());
    out.SetCompletedRows(static_cast<std::int64_t>(N));
    WriteEstimate(out, "diagnostics/action", r.action);
    WriteEstimate(out, "diagnostics/displacement", r.displacement);
    WriteEstimate(out, "diagnostics/w2_squared", r.w2_squared);
    WriteEstimate(out, "diagnostics/straightness", r.straightness);
    WriteEstimate(out, "diagnostics/curl", r.curl);
    if (r.used > 0) WriteExact(out, r.transport, "transport");
    if (compare) {
      WriteTwoSample(out, *compare, "two_sample");
      out.SetAttribute("two_sample", "target", options_.target);
    }
    RunSummary summary = r.push.Summary("transport", "sample");
    summary.seconds = r.seconds;
    WriteSummary(out, summary);
    out.SetAttribute("/", "event_log", EventLog::Global().Table(r.seconds));
    out.Commit();

    auto line = [&](const char* name, const MeanEstimate& e) {
      ctx_.out << "  " << name << Fmt(e.value) << " +- " << Fmt(e.standard_error) << "\n";
    };
    ctx_.out << summary.BriefReport() << " -> " << options_.output << "\n";
    line("action E K               ", r.action);
    line("displacement E|T(z)-z|^2 ", r.displacement);
    line("W2^2 (base, samples)     ", r.w2_squared);
    line("straightness             ", r.straightness);
    line("curl int |J - J^T|_F^2   ", r.curl);
    if (compare) {
      for (const auto& s : compare->mmd) {
        ctx_.out << "  mmd2 vs -target, h = " << Fmt(s.bandwidth) << ": " << Fmt(s.value) << " +- "
                 << Fmt(s.standard_error) << ", p = " << Fmt(s.p_value) << "\n";
      }
    }
    for (const std::string& f : summary.failures) ctx_.err << "  " << f << "\n";
    bool ok = summary.failed == 0;
    if (r.used > 0 && !r.transport.usable()) {
      ctx_.err << "  exact transport: " << ToString(r.transport.status) << ": " << r.transport.message << "\n";
      ok = false;
    }
    if (compare && !compare->usable()) {
      ctx_.err << "  two-sample statistics: " << ToString(compare->status) << ": " << compare->message << "\n";
      ok = false;
    }
    return ok ? kExitSuccess : kExitItemsFailed;
  }

  Context& ctx_;
  TransportCommandOptions options_;
  ExactTransportOptions exact_;
  SinkhornOptions sinkhorn_;
  TwoSampleOptions two_sample_;
  PushforwardOptions flow_;
  Provenance provenance_;
};

}  // namespace

Command TransportCommand() {
  return {"transport",
          "optimal transport between point sets (exact with a certificate, or Sinkhorn), two-sample statistics "
          "(MMD^2, energy distance), and flow-versus-OT diagnostics of a flow",
          "pushpull transport -source F.h5:/x -target G.h5:/y -output OUT.h5 [-cost sqeuclidean|euclidean] "
          "[-ot_type exact|sinkhorn] | -mode two_sample -source F.h5:/x -target G.h5:/y -output OUT.h5 | "
          "-model M.h5 -samples N -output OUT.h5 [-target D.h5:/x]",
          [](Context& ctx) -> std::unique_ptr<Job> { return std::make_unique<TransportJob>(ctx); }};
}

}  // namespace pushpull::cli

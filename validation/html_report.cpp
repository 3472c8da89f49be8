#include "html_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace pushpull::validation {
namespace {

// ---------------------------------------------------------------------------------------------------------------
// Text helpers

// Escapes text for XML/HTML element content and attribute values. Control characters that XML 1.0 forbids are
// dropped (a stray byte from a solver message must not make the SVG ill-formed).
std::string Escape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (u < 0x20 && ch != '\n' && ch != '\t' && ch != '\r') break;
        out += ch;
    }
  }
  return out;
}

// printf into a std::string.
template <class... Args>
std::string Format(const char* fmt, Args... args) {
  char buffer[256];
  const int n = std::snprintf(buffer, sizeof buffer, fmt, args...);
  if (n < 0) return {};
  if (static_cast<size_t>(n) < sizeof buffer) return std::string(buffer, static_cast<size_t>(n));
  std::string big(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(big.data(), big.size(), fmt, args...);
  big.resize(static_cast<size_t>(n));
  return big;
}

// Table numbers: %.3g.
std::string Num(double v) { return Format("%.3g", v); }

// SVG coordinates.
std::string Coord(double v) { return Format("%.2f", v); }

// Compact scientific notation for labels: 1e-6, 2.5e-7, 1e3.
std::string ShortSci(double v) {
  if (!std::isfinite(v)) return Format("%g", v);
  if (v == 0) return "0";
  int exponent = static_cast<int>(std::floor(std::log10(std::fabs(v))));
  double mantissa = v / std::pow(10.0, exponent);
  std::string m = Format("%.2g", mantissa);
  if (m == "10" || m == "-10") {  // rounding carried into the next decade
    ++exponent;
    m = mantissa < 0 ? "-1" : "1";
  }
  return m + "e" + std::to_string(exponent);
}

// An HTML id fragment from a case name: letters, digits, '-', '_' and '.'; everything else becomes '-'.
std::string IdFragment(const std::string& name) {
  std::string out;
  for (const char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                    ch == '_' || ch == '.';
    out += ok ? ch : '-';
  }
  return out.empty() ? std::string("unnamed") : out;
}

// ---------------------------------------------------------------------------------------------------------------
// The work-precision plot

constexpr double kWidth = 560, kHeight = 380;
constexpr double kLeft = 74, kRight = 408, kTop = 40, kBottom = 318;  // the plot area
constexpr double kLegendX = 420;
constexpr double kErrorFloor = 1e-16;
constexpr const char* kPalette[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00",
                                    "#56b4e9", "#000000", "#8c564b", "#7f7f7f", "#bcbd22"};
constexpr int kPaletteSize = static_cast<int>(sizeof kPalette / sizeof kPalette[0]);
constexpr int kMarkerShapes = 5;

// A log10 axis spanning whole decades [lo, hi].
struct LogAxis {
  int lo = 0, hi = 1;
  // Decade-aligned range covering [min, max] (both > 0, finite); a single value or an empty range is padded by a
  // decade on each side.
  static LogAxis Covering(double min, double max) {
    LogAxis a;
    const double lmin = std::log10(min), lmax = std::log10(max);
    // Tolerate rounding in log10 (log10(1e-6) may come out as -5.9999999999999991).
    a.lo = static_cast<int>(std::floor(lmin + 1e-9));
    a.hi = static_cast<int>(std::ceil(lmax - 1e-9));
    if (a.hi <= a.lo || max <= min) {
      a.lo = static_cast<int>(std::floor(lmin + 1e-9)) - 1;
      a.hi = static_cast<int>(std::ceil(lmax - 1e-9)) + 1;
      if (a.hi - a.lo < 2) a.hi = a.lo + 2;
    }
    return a;
  }
  double Fraction(double v) const { return (std::log10(v) - lo) / static_cast<double>(hi - lo); }
  // Label every `step`-th decade so that labels are at least `min_spacing` pixels apart on a `length`-pixel axis.
  int LabelStep(double length, double min_spacing) const {
    const double per_decade = length / static_cast<double>(hi - lo);
    return std::max(1, static_cast<int>(std::ceil(min_spacing / per_decade)));
  }
};

double Px(const LogAxis& x, double v) { return kLeft + x.Fraction(v) * (kRight - kLeft); }
double Py(const LogAxis& y, double v) { return kBottom - y.Fraction(v) * (kBottom - kTop); }

bool Multiple(int k, int step) { return ((k % step) + step) % step == 0; }

// A marker of the given shape centred at (cx, cy); `inner` goes between the tags (e.g. a <title>).
std::string Marker(int shape, double cx, double cy, const std::string& colour, const std::string& inner) {
  const double r = 4.0;
  auto pt = [](double x, double y) { return Coord(x) + "," + Coord(y); };
  std::string tag, geometry;
  switch (shape % kMarkerShapes) {
    case 0:  // circle
      tag = "circle";
      geometry = "cx=\"" + Coord(cx) + "\" cy=\"" + Coord(cy) + "\" r=\"" + Coord(r) + "\"";
      break;
    case 1:  // square
      tag = "rect";
      geometry = "x=\"" + Coord(cx - 0.9 * r) + "\" y=\"" + Coord(cy - 0.9 * r) + "\" width=\"" + Coord(1.8 * r) +
                 "\" height=\"" + Coord(1.8 * r) + "\"";
      break;
    case 2:  // triangle up
      tag = "polygon";
      geometry = "points=\"" + pt(cx, cy - 1.2 * r) + " " + pt(cx + 1.1 * r, cy + 0.8 * r) + " " +
                 pt(cx - 1.1 * r, cy + 0.8 * r) + "\"";
      break;
    case 3:  // diamond
      tag = "polygon";
      geometry = "points=\"" + pt(cx, cy - 1.3 * r) + " " + pt(cx + 1.3 * r, cy) + " " + pt(cx, cy + 1.3 * r) + " " +
                 pt(cx - 1.3 * r, cy) + "\"";
      break;
    default:  // triangle down
      tag = "polygon";
      geometry = "points=\"" + pt(cx, cy + 1.2 * r) + " " + pt(cx + 1.1 * r, cy - 0.8 * r) + " " +
                 pt(cx - 1.1 * r, cy - 0.8 * r) + "\"";
      break;
  }
  return "<" + tag + " " + geometry + " fill=\"" + colour + "\">" + inner + "</" + tag + ">";
}

struct PlotPoint {
  double tolerance, cost, error;
};

}  // namespace

std::string RenderWorkPrecisionSvg(const CaseReport& report, bool x_is_time) {
  // The axes name the metrics of the case's tolerance-sweep rows (the first such row's; a case sweeps one error
  // and one cost metric).
  std::string error_name, cost_name;
  for (const auto& row : report.sweep) {
    if (row.in_sweep() && error_name.empty()) {
      error_name = row.error_metric;
      cost_name = row.cost_metric;
    }
  }
  const std::string x_title = x_is_time ? "wall time (s)" : (cost_name.empty() ? "cost" : FindMetric(cost_name).title);
  const std::string y_title = error_name.empty() ? "error" : FindMetric(error_name).title;

  // Methods in order of first appearance among the tolerance-sweep rows; per method, one series per dimension.
  std::vector<std::string> methods;
  std::map<std::string, std::map<int, std::vector<PlotPoint>>> series;
  std::set<double> tolerances;
  std::set<int> dimensions;
  double xmin = HUGE_VAL, xmax = -HUGE_VAL, ymin = HUGE_VAL, ymax = -HUGE_VAL;
  for (const auto& row : report.sweep) {
    if (!row.in_sweep() || row.error_metric != error_name || row.cost_metric != cost_name) continue;
    if (std::find(methods.begin(), methods.end(), row.method) == methods.end()) methods.push_back(row.method);
    auto& by_dimension = series[row.method];
    if (std::isfinite(row.tolerance) && row.tolerance > 0) tolerances.insert(row.tolerance);
    const double cost = x_is_time ? row.seconds : row.cost();
    double error = row.error();
    if (!std::isfinite(cost) || cost <= 0 || std::isnan(error) || error == HUGE_VAL) continue;
    error = std::max(error, kErrorFloor);  // also catches negative values and -inf
    by_dimension[row.dimension].push_back({row.tolerance, cost, error});
    dimensions.insert(row.dimension);
    xmin = std::min(xmin, cost);
    xmax = std::max(xmax, cost);
    ymin = std::min(ymin, error);
    ymax = std::max(ymax, error);
  }
  const bool have_points = xmin <= xmax;
  for (const double t : tolerances) {  // the tolerance reference lines are part of the picture
    ymin = std::min(ymin, t);
    ymax = std::max(ymax, t);
  }
  const LogAxis xaxis = have_points ? LogAxis::Covering(xmin, xmax) : LogAxis{0, 1};
  const LogAxis yaxis = ymin <= ymax ? LogAxis::Covering(ymin, ymax) : LogAxis{-16, -15};

  std::string s;
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"work-precision\" width=\"" + Coord(kWidth) + "\" height=\"" +
       Coord(kHeight) + "\" viewBox=\"0 0 " + Coord(kWidth) + " " + Coord(kHeight) +
       "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\" role=\"img\" aria-label=\"" +
       Escape(report.name + ": " + y_title + " vs " + x_title) + "\">\n";
  s += "<rect x=\"0\" y=\"0\" width=\"" + Coord(kWidth) + "\" height=\"" + Coord(kHeight) + "\" fill=\"#ffffff\"/>\n";
  s += "<text class=\"plot-title\" x=\"" + Coord((kLeft + kRight) / 2) + "\" y=\"22\" text-anchor=\"middle\" "
       "font-size=\"14\" font-weight=\"bold\">" +
       Escape(report.name) + "<tspan font-weight=\"normal\" font-size=\"12\" fill=\"#555555\">  " +
       Escape(y_title + " vs " + x_title) + "</tspan></text>\n";

  // Grid, ticks and tick labels.
  s += "<g class=\"axes\" stroke=\"#000000\" stroke-width=\"1\">\n";
  const bool minor_x = xaxis.hi - xaxis.lo <= 6, minor_y = yaxis.hi - yaxis.lo <= 8;
  const int xstep = xaxis.LabelStep(kRight - kLeft, 44), ystep = yaxis.LabelStep(kBottom - kTop, 18);
  for (int k = xaxis.lo; k <= xaxis.hi; ++k) {
    const double px = Px(xaxis, std::pow(10.0, k));
    const bool labelled = Multiple(k, xstep);
    if (labelled || xaxis.hi - xaxis.lo <= 40) {
      s += "<line x1=\"" + Coord(px) + "\" y1=\"" + Coord(kTop) + "\" x2=\"" + Coord(px) + "\" y2=\"" +
           Coord(kBottom) + "\" stroke=\"#e3e3e3\"/>\n";
      s += "<line x1=\"" + Coord(px) + "\" y1=\"" + Coord(kBottom) + "\" x2=\"" + Coord(px) + "\" y2=\"" +
           Coord(kBottom + (labelled ? 6 : 3)) + "\"/>\n";
    }
    if (labelled) {
      s += "<text class=\"tick-label\" x=\"" + Coord(px) + "\" y=\"" + Coord(kBottom + 19) +
           "\" text-anchor=\"middle\" stroke=\"none\">1e" + std::to_string(k) + "</text>\n";
    }
    if (minor_x && k < xaxis.hi) {
      for (int m = 2; m <= 9; ++m) {
        const double mx = Px(xaxis, m * std::pow(10.0, k));
        s += "<line x1=\"" + Coord(mx) + "\" y1=\"" + Coord(kBottom) + "\" x2=\"" + Coord(mx) + "\" y2=\"" +
             Coord(kBottom + 3) + "\"/>\n";
      }
    }
  }
  for (int k = yaxis.lo; k <= yaxis.hi; ++k) {
    const double py = Py(yaxis, std::pow(10.0, k));
    const bool labelled = Multiple(k, ystep);
    if (labelled || yaxis.hi - yaxis.lo <= 40) {
      s += "<line x1=\"" + Coord(kLeft) + "\" y1=\"" + Coord(py) + "\" x2=\"" + Coord(kRight) + "\" y2=\"" +
           Coord(py) + "\" stroke=\"#e3e3e3\"/>\n";
      s += "<line x1=\"" + Coord(kLeft - (labelled ? 6 : 3)) + "\" y1=\"" + Coord(py) + "\" x2=\"" + Coord(kLeft) +
           "\" y2=\"" + Coord(py) + "\"/>\n";
    }
    if (labelled) {
      s += "<text class=\"tick-label\" x=\"" + Coord(kLeft - 9) + "\" y=\"" + Coord(py + 4) +
           "\" text-anchor=\"end\" stroke=\"none\">1e" + std::to_string(k) + "</text>\n";
    }
    if (minor_y && k < yaxis.hi) {
      for (int m = 2; m <= 9; ++m) {
        const double my = Py(yaxis, m * std::pow(10.0, k));
        s += "<line x1=\"" + Coord(kLeft - 3) + "\" y1=\"" + Coord(my) + "\" x2=\"" + Coord(kLeft) + "\" y2=\"" +
             Coord(my) + "\"/>\n";
      }
    }
  }
  s += "<rect x=\"" + Coord(kLeft) + "\" y=\"" + Coord(kTop) + "\" width=\"" + Coord(kRight - kLeft) +
       "\" height=\"" + Coord(kBottom - kTop) + "\" fill=\"none\"/>\n";
  s += "</g>\n";
  s += "<text class=\"axis-title\" x=\"" + Coord((kLeft + kRight) / 2) + "\" y=\"" + Coord(kBottom + 42) +
       "\" text-anchor=\"middle\" font-size=\"12\">" + Escape(x_title) + "</text>\n";
  s += "<text class=\"axis-title\" x=\"0\" y=\"0\" transform=\"translate(16," + Coord((kTop + kBottom) / 2) +
       ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">" + Escape(y_title) + "</text>\n";

  // Tolerance reference lines: error = tolerance, labelled at the right end (labels that would collide skipped).
  double last_label_y = HUGE_VAL;
  for (auto it = tolerances.begin(); it != tolerances.end(); ++it) {
    const double py = Py(yaxis, *it);
    s += "<g class=\"tolerance\"><line x1=\"" + Coord(kLeft) + "\" y1=\"" + Coord(py) + "\" x2=\"" + Coord(kRight) +
         "\" y2=\"" + Coord(py) + "\" stroke=\"#888888\" stroke-width=\"1\" stroke-dasharray=\"5,4\"/>";
    if (std::fabs(last_label_y - py) >= 11) {
      s += "<text x=\"" + Coord(kRight - 4) + "\" y=\"" + Coord(py - 3) +
           "\" text-anchor=\"end\" font-size=\"10\" fill=\"#666666\">tol=" + Escape(ShortSci(*it)) + "</text>";
      last_label_y = py;
    }
    s += "</g>\n";
  }

  // The data.
  const bool label_dimensions = dimensions.size() > 1;
  for (size_t i = 0; i < methods.size(); ++i) {
    const std::string colour = kPalette[i % kPaletteSize];
    const int shape = static_cast<int>(i) % kMarkerShapes;
    s += "<g class=\"series\" data-method=\"" + Escape(methods[i]) + "\">\n";
    for (auto& [dimension, points] : series[methods[i]]) {
      std::stable_sort(points.begin(), points.end(),
                       [](const PlotPoint& a, const PlotPoint& b) { return a.tolerance > b.tolerance; });
      if (points.size() > 1) {
        s += "<polyline fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"1.8\" points=\"";
        for (size_t k = 0; k < points.size(); ++k) {
          if (k) s += ' ';
          s += Coord(Px(xaxis, points[k].cost));
          s += ',';
          s += Coord(Py(yaxis, points[k].error));
        }
        s += "\"/>\n";
      }
      for (const auto& p : points) {
        std::string tip = methods[i];
        if (std::isfinite(p.tolerance) && p.tolerance > 0) tip += ", tol=" + ShortSci(p.tolerance);
        if (label_dimensions) tip += ", d=" + std::to_string(dimension);
        tip += ": error " + Num(p.error) + ", " + (x_is_time ? "time " + Num(p.cost) + " s" : "NFE " + Num(p.cost));
        s += Marker(shape, Px(xaxis, p.cost), Py(yaxis, p.error), colour, "<title>" + Escape(tip) + "</title>") + "\n";
      }
      if (label_dimensions && !points.empty()) {
        const auto& last = points.back();
        s += "<text x=\"" + Coord(Px(xaxis, last.cost) + 6) + "\" y=\"" + Coord(Py(yaxis, last.error) + 12) +
             "\" font-size=\"9\" fill=\"" + colour + "\">d=" + std::to_string(dimension) + "</text>\n";
      }
    }
    s += "</g>\n";
  }
  if (!have_points) {
    s += "<text class=\"no-data\" x=\"" + Coord((kLeft + kRight) / 2) + "\" y=\"" + Coord((kTop + kBottom) / 2) +
         "\" text-anchor=\"middle\" font-size=\"13\" fill=\"#999999\">no tolerance-sweep data to plot</text>\n";
  }

  // Legend, right of the plot area.
  s += "<g class=\"legend\">\n";
  s += "<text x=\"" + Coord(kLegendX) + "\" y=\"" + Coord(kTop + 4) + "\" font-weight=\"bold\">method</text>\n";
  double ly = kTop + 22;
  for (size_t i = 0; i < methods.size(); ++i, ly += 18) {
    const std::string colour = kPalette[i % kPaletteSize];
    std::string shown = methods[i];
    if (shown.size() > 18) shown = shown.substr(0, 17) + "\xE2\x80\xA6";  // ellipsis; the full name in the title
    s += "<g class=\"legend-entry\"><title>" + Escape(methods[i]) + "</title><line x1=\"" + Coord(kLegendX) +
         "\" y1=\"" + Coord(ly) + "\" x2=\"" + Coord(kLegendX + 22) + "\" y2=\"" + Coord(ly) + "\" stroke=\"" + colour +
         "\" stroke-width=\"1.8\"/>" + Marker(static_cast<int>(i), kLegendX + 11, ly, colour, "") + "<text x=\"" +
         Coord(kLegendX + 28) + "\" y=\"" + Coord(ly + 4) + "\">" + Escape(shown) + "</text></g>\n";
  }
  if (!tolerances.empty()) {
    ly += 6;
    s += "<g class=\"legend-tolerance\"><line x1=\"" + Coord(kLegendX) + "\" y1=\"" + Coord(ly) + "\" x2=\"" +
         Coord(kLegendX + 22) + "\" y2=\"" + Coord(ly) + "\" stroke=\"#888888\" stroke-dasharray=\"5,4\"/><text x=\"" +
         Coord(kLegendX + 28) + "\" y=\"" + Coord(ly + 4) + "\">error = tol</text></g>\n";
    ly += 16;
    s += "<text x=\"" + Coord(kLegendX) + "\" y=\"" + Coord(ly + 4) +
         "\" font-size=\"9\" fill=\"#666666\">points: tol loose \xE2\x86\x92 tight</text>\n";
  }
  s += "</g>\n";
  s += "</svg>\n";
  return s;
}

namespace {

const char* kStyle = R"CSS(
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a; margin: 24px auto;
       max-width: 1240px; padding: 0 16px; line-height: 1.4; }
h1 { margin-bottom: 8px; }
h2 { margin-top: 0; }
.verdict { display: inline-block; font-size: 28px; font-weight: bold; padding: 6px 18px; border-radius: 6px;
           color: #ffffff; margin: 8px 0; }
.verdict.pass { background: #1e7b34; }
.verdict.fail { background: #b3261e; }
.summary-line { color: #444444; }
table { border-collapse: collapse; margin: 8px 0 16px 0; font-size: 13px; }
th, td { border: 1px solid #d0d0d0; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; font-family: Menlo, Consolas, monospace; }
span.pass, span.fail { font-weight: bold; padding: 0 6px; border-radius: 3px; color: #ffffff; }
span.pass { background: #1e7b34; }
span.fail { background: #b3261e; }
tr.fail td { background: #fdecea; }
td.bad { color: #b3261e; font-weight: bold; }
section.case { border-top: 2px solid #cccccc; margin-top: 28px; padding-top: 12px; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
.plots svg { max-width: 100%; height: auto; border: 1px solid #e0e0e0; }
details { margin-top: 32px; }
details pre { background: #f7f7f7; padding: 8px; overflow-x: auto; font-size: 12px; }
)CSS";

std::string VerdictSpan(bool passed) {
  return passed ? "<span class=\"pass\">PASS</span>" : "<span class=\"fail\">FAIL</span>";
}

std::string RelationText(const std::string& relation) {
  if (relation == "<=") return "\xE2\x89\xA4";  // ≤
  if (relation == ">=") return "\xE2\x89\xA5";  // ≥
  return relation;
}

int FailedChecks(const CaseReport& r) {
  return static_cast<int>(std::count_if(r.checks.begin(), r.checks.end(), [](const Check& c) { return !c.passed; }));
}

}  // namespace

std::string RenderHtmlReport(const std::vector<CaseReport>& reports, const std::string& title,
                             const std::vector<std::string>& provenance_lines) {
  // Unique ids for the case sections.
  std::vector<std::string> ids;
  std::set<std::string> used;
  for (const auto& r : reports) {
    std::string id = "case-" + IdFragment(r.name);
    for (int k = 2; used.count(id); ++k) id = "case-" + IdFragment(r.name) + "-" + std::to_string(k);
    used.insert(id);
    ids.push_back(id);
  }

  // No cases is not a pass, for the same reason a case without checks is not (CaseReport::passed).
  bool all_passed = !reports.empty();
  int cases_passed = 0, total_checks = 0, failed_checks = 0;
  for (const auto& r : reports) {
    all_passed = all_passed && r.passed();
    cases_passed += r.passed() ? 1 : 0;
    total_checks += static_cast<int>(r.checks.size());
    failed_checks += FailedChecks(r);
  }

  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>" + Escape(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  h += "<h1>" + Escape(title) + "</h1>\n";
  h += std::string("<div class=\"verdict ") + (all_passed ? "pass\">PASS" : "fail\">FAIL") + "</div>\n";
  h += "<p class=\"summary-line\">" + std::to_string(cases_passed) + " of " + std::to_string(reports.size()) +
       " cases passed; " + std::to_string(failed_checks) + " of " + std::to_string(total_checks) +
       " checks failed." + (reports.empty() ? " No cases were run." : "") + "</p>\n";

  // Summary table.
  h += "<table class=\"summary\">\n<thead><tr><th>case</th><th>description</th><th>checks</th><th>failed</th>"
       "<th>verdict</th></tr></thead>\n<tbody>\n";
  for (size_t i = 0; i < reports.size(); ++i) {
    const auto& r = reports[i];
    const int failed = FailedChecks(r);
    h += std::string("<tr") + (r.passed() ? "" : " class=\"fail\"") + "><td><a href=\"#" + ids[i] + "\">" +
         Escape(r.name) + "</a></td><td>" + Escape(r.description) + "</td><td class=\"num\">" +
         std::to_string(r.checks.size()) + "</td><td class=\"num" + (failed ? " bad" : "") + "\">" +
         std::to_string(failed) + "</td><td>" + VerdictSpan(r.passed()) +
         (r.checks.empty() ? " (no checks)" : "") + "</td></tr>\n";
  }
  h += "</tbody>\n</table>\n";

  // One section per case.
  for (size_t i = 0; i < reports.size(); ++i) {
    const auto& r = reports[i];
    h += "<section class=\"case\" id=\"" + ids[i] + "\">\n";
    h += "<h2>" + Escape(r.name) + " " + VerdictSpan(r.passed()) + "</h2>\n";
    h += "<p class=\"description\">" + Escape(r.description) + "</p>\n";

    h += "<h3>Sweep</h3>\n";
    if (r.sweep.empty()) {
      h += "<p>No sweep rows.</p>\n";
    } else {
      // One column per metric the case's rows carry, in KnownMetrics() order; "-" where a row lacks it.
      std::vector<const MetricInfo*> columns;
      for (const auto& info : KnownMetrics()) {
        for (const auto& row : r.sweep) {
          if (row.Has(info.name)) {
            columns.push_back(&info);
            break;
          }
        }
      }
      h += "<table class=\"sweep\">\n<thead><tr><th>method</th><th>kind</th><th>dimension</th><th>tolerance</th>";
      for (const MetricInfo* c : columns) {
        h += "<th title=\"" + Escape(c->description) + "\">" + Escape(c->title) + "</th>";
      }
      h += "<th>seconds</th><th>failed</th></tr></thead>\n<tbody>\n";
      for (const auto& row : r.sweep) {
        h += "<tr><td>" + Escape(row.method) + "</td><td>" + Escape(row.kind) + "</td><td class=\"num\">" +
             std::to_string(row.dimension) + "</td><td class=\"num\">" + Num(row.tolerance) + "</td>";
        for (const MetricInfo* c : columns) {
          h += "<td class=\"num\">" + (row.Has(c->name) ? Num(row.Get(c->name)) : std::string("-")) + "</td>";
        }
        h += "<td class=\"num\">" + Num(row.seconds) + "</td><td class=\"num" + (row.failed ? " bad" : "") +
             "\">" + std::to_string(row.failed) + "</td></tr>\n";
      }
      h += "</tbody>\n</table>\n";
    }

    h += "<h3>Checks</h3>\n";
    if (r.checks.empty()) {
      h += "<p>No checks (a case without checks does not pass).</p>\n";
    } else {
      h += "<table class=\"checks\">\n<thead><tr><th>check</th><th>method</th><th>tolerance</th><th>value</th>"
           "<th>pass if</th><th>verdict</th><th>detail</th></tr></thead>\n<tbody>\n";
      for (const auto& c : r.checks) {
        h += std::string("<tr") + (c.passed ? "" : " class=\"fail\"") + "><td>" + Escape(c.name) + "</td><td>" +
             Escape(c.method) + "</td><td class=\"num\">" + (c.tolerance == 0 ? std::string("&#8212;")
                                                                                 : Num(c.tolerance)) +
             "</td><td class=\"num\">" + Num(c.value) + "</td><td class=\"num\">" +
             Escape(RelationText(c.relation)) + " " + Num(c.threshold) + "</td><td>" + VerdictSpan(c.passed) +
             "</td><td>" + Escape(c.detail) + "</td></tr>\n";
      }
      h += "</tbody>\n</table>\n";
    }

    h += "<h3>Work&#8211;precision (tolerance sweep)</h3>\n<div class=\"plots\">\n";
    h += RenderWorkPrecisionSvg(r, false);
    h += RenderWorkPrecisionSvg(r, true);
    h += "</div>\n</section>\n";
  }

  h += "<details class=\"provenance\">\n<summary>Provenance</summary>\n<pre>";
  for (const auto& line : provenance_lines) h += Escape(line) + "\n";
  h += "</pre>\n</details>\n</body>\n</html>\n";
  return h;
}

}  // namespace pushpull::validation

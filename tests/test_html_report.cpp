#define BOOST_TEST_MODULE html_report
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "html_report.hpp"

using namespace pushpull::validation;

namespace {

const std::vector<std::string> kMethods = {"dopri5", "cvodes_adams", "cvodes_bdf"};

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A minimal XML well-formedness check: every start tag is closed in order, attribute quotes balance, no stray '<'
// or '&' in text. Enough to catch a broken SVG; `why` says what went wrong.
bool WellFormedXml(const std::string& s, std::string& why) {
  std::vector<std::string> stack;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '&') {
      const size_t semi = s.find(';', i);
      if (semi == std::string::npos || semi - i > 8) return why = "bare '&' at " + std::to_string(i), false;
      i = semi + 1;
      continue;
    }
    if (s[i] != '<') {
      ++i;
      continue;
    }
    // Find the end of the tag, skipping quoted attribute values.
    size_t j = i + 1;
    char quote = 0;
    for (; j < s.size(); ++j) {
      if (quote) {
        if (s[j] == quote) quote = 0;
        else if (s[j] == '<') return why = "'<' inside an attribute at " + std::to_string(j), false;
      } else if (s[j] == '"' || s[j] == '\'') {
        quote = s[j];
      } else if (s[j] == '<') {
        return why = "'<' inside a tag at " + std::to_string(j), false;
      } else if (s[j] == '>') {
        break;
      }
    }
    if (j >= s.size()) return why = "unterminated tag at " + std::to_string(i), false;
    const std::string tag = s.substr(i + 1, j - i - 1);
    if (tag.empty()) return why = "empty tag", false;
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) {
        return why = "</" + name + "> closes " + (stack.empty() ? std::string("nothing") : "<" + stack.back() + ">"),
               false;
      }
      stack.pop_back();
    } else if (tag.back() != '/') {
      stack.push_back(tag.substr(0, tag.find_first_of(" \t\n")));
    }
    i = j + 1;
  }
  if (!stack.empty()) return why = "<" + stack.back() + "> never closed", false;
  return true;
}

void ExpectWellFormedSvg(const std::string& svg) {
  BOOST_TEST(svg.rfind("<svg ", 0) == 0, "SVG does not start with <svg: " << svg.substr(0, 40));
  const auto end = svg.find_last_not_of(" \n");
  BOOST_TEST((end != std::string::npos && svg.compare(end - 5, 6, "</svg>") == 0), "SVG does not end with </svg>");
  BOOST_TEST(Count(svg, "<svg") == 1u);
  BOOST_TEST(Count(svg, "</svg>") == 1u);
  std::string why;
  BOOST_TEST(WellFormedXml(svg, why), "SVG not well-formed: " << why);
  // No NaN or infinity leaks into coordinates or labels.
  BOOST_TEST(!Contains(svg, "nan"));
  BOOST_TEST(!Contains(svg, "inf"));
}

// All <svg>...</svg> elements of a page.
std::vector<std::string> Svgs(const std::string& html) {
  std::vector<std::string> out;
  for (size_t pos = html.find("<svg"); pos != std::string::npos; pos = html.find("<svg", pos + 1)) {
    const size_t end = html.find("</svg>", pos);
    if (end == std::string::npos) break;
    out.push_back(html.substr(pos, end + 6 - pos));
  }
  return out;
}

// The <section class="case"> ... </section> blocks of a page.
std::vector<std::string> CaseSections(const std::string& html) {
  std::vector<std::string> out;
  const std::string open = "<section class=\"case\"";
  for (size_t pos = html.find(open); pos != std::string::npos; pos = html.find(open, pos + 1)) {
    const size_t end = html.find("</section>", pos);
    out.push_back(html.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
  }
  return out;
}

// The texts of the class="legend-entry" groups of an SVG.
std::vector<std::string> LegendEntries(const std::string& svg) {
  std::vector<std::string> out;
  const std::string open = "class=\"legend-entry\"";
  for (size_t pos = svg.find(open); pos != std::string::npos; pos = svg.find(open, pos + 1)) {
    const size_t end = svg.find("</g>", pos);
    out.push_back(svg.substr(pos, end - pos));
  }
  return out;
}

// Error ~ C tol, cost ~ tol^(-1/order): the shape of a real sweep. Rows are deliberately not in tolerance order.
CaseReport SyntheticCase(const std::string& name, bool with_failure) {
  CaseReport r;
  r.name = name;
  r.description = "synthetic affine flow <A x + b> & friends, d = 4";
  const std::vector<double> tolerances = {1e-6, 1e-4, 1e-8};
  for (size_t m = 0; m < kMethods.size(); ++m) {
    const double order = 3.0 + 2.0 * static_cast<double>(m);
    const double constant = 0.3 * static_cast<double>(m + 1);
    for (const double tol : tolerances) {
      for (const std::string trace : {"exact", "hutchinson"}) {
        SweepRow row;
        row.method = kMethods[m];
        row.kind = trace;
        if (trace == "exact") {
          row.error_metric = "max_error_logp";
          row.cost_metric = "nfe_per_sample";
        }
        row.dimension = 4;
        row.tolerance = tol;
        row.Set("max_error_logp", trace == "exact" ? constant * tol : 0.05);
        row.Set("mean_error_logp", row.Get("max_error_logp") / 3);
        row.Set("max_error_endpoint", constant * tol * 0.5);
        row.Set("mean_error_endpoint", row.Get("max_error_endpoint") / 4);
        row.Set("nfe_per_sample", 20.0 * std::pow(tol, -1.0 / order));
        row.Set("steps_per_sample", row.Get("nfe_per_sample") / 6);
        row.seconds = 1e-5 * row.Get("nfe_per_sample");
        r.sweep.push_back(row);
      }
    }
    Check c;
    c.name = "error falls with tolerance";
    c.method = kMethods[m];
    c.value = 0.95;
    c.threshold = 0.5;
    c.relation = ">=";
    c.passed = true;
    c.detail = "slope of log error vs log tol";
    r.checks.push_back(c);
  }
  Check c;
  c.name = "error <= 10 tol";
  c.method = kMethods[1];
  c.tolerance = 1e-8;
  c.value = with_failure ? 3.2e-7 : 4e-9;
  c.threshold = 1e-7;
  c.relation = "<=";
  c.passed = !with_failure;
  c.detail = with_failure ? "error exceeds 10 x tolerance" : "";
  r.checks.push_back(c);
  return r;
}

// The x coordinates of the first polyline of an SVG.
std::vector<double> FirstPolylineX(const std::string& svg) {
  std::vector<double> xs;
  const size_t pos = svg.find("<polyline");
  if (pos == std::string::npos) return xs;
  const size_t start = svg.find("points=\"", pos) + 8;
  const size_t end = svg.find('"', start);
  std::istringstream in(svg.substr(start, end - start));
  std::string pair;
  while (in >> pair) xs.push_back(std::stod(pair.substr(0, pair.find(','))));
  return xs;
}

}  // namespace

BOOST_AUTO_TEST_CASE(svg_plot_has_axes_legend_and_tolerances) {
  const CaseReport r = SyntheticCase("G1", false);
  for (const bool x_is_time : {false, true}) {
    const std::string svg = RenderWorkPrecisionSvg(r, x_is_time);
    ExpectWellFormedSvg(svg);
    BOOST_TEST(Contains(svg, "viewBox=\""));
    BOOST_TEST(Contains(svg, x_is_time ? "wall time (s)" : "NFE per sample"));
    BOOST_TEST(!Contains(svg, x_is_time ? "NFE per sample" : "wall time (s)"));
    BOOST_TEST(Contains(svg, "max |log p error|"));
    BOOST_TEST(Contains(svg, ">G1<"));  // plot title
    // Decade tick labels on the log axes (errors span 3e-9 ... 9e-5; the tolerance lines 1e-8 ... 1e-4).
    BOOST_TEST(Contains(svg, ">1e-8<"));
    BOOST_TEST(Contains(svg, ">1e-4<"));
    // One legend entry per method, each naming it; one polyline per method (exact rows only).
    const auto entries = LegendEntries(svg);
    BOOST_TEST(entries.size() == kMethods.size());
    for (size_t m = 0; m < kMethods.size() && m < entries.size(); ++m) {
      BOOST_TEST(Contains(entries[m], ">" + kMethods[m] + "<"), "legend entry " << m << ": " << entries[m]);
    }
    BOOST_TEST(Count(svg, "<polyline") == kMethods.size());
    // The three tolerances are marked.
    BOOST_TEST(Count(svg, "class=\"tolerance\"") == 3u);
    for (const char* label : {"tol=1e-4", "tol=1e-6", "tol=1e-8"}) BOOST_TEST(Contains(svg, label), label);
    // Points follow tolerance from loose to tight, i.e. rising cost: x increases along the polyline.
    const auto xs = FirstPolylineX(svg);
    BOOST_TEST(xs.size() == 3u);
    for (size_t k = 1; k < xs.size(); ++k) BOOST_TEST(xs[k] > xs[k - 1]);
    // Distinct colours per method.
    BOOST_TEST(Contains(svg, "stroke=\"#0072b2\""));
    BOOST_TEST(Contains(svg, "stroke=\"#d55e00\""));
    BOOST_TEST(Contains(svg, "stroke=\"#009e73\""));
  }
}

BOOST_AUTO_TEST_CASE(axes_and_columns_name_the_case_metrics) {
  // A geodesic-like case: log-map rows sweep the relative distance error against NFE per pair; an exp-map row
  // carries its own metrics and is not plotted.
  CaseReport r;
  r.name = "GEO-like";
  for (const double tol : {1e-6, 1e-8}) {
    SweepRow row;
    row.method = "collocation";
    row.kind = "log-map";
    row.error_metric = "max_rel_distance_error";
    row.cost_metric = "nfe_per_pair";
    row.dimension = 2;
    row.tolerance = tol;
    row.Set("max_rel_distance_error", 3 * tol);
    row.Set("nfe_per_pair", 1e3 / tol);
    row.Set("iterations_per_pair", 4);
    r.sweep.push_back(row);
  }
  SweepRow exp;
  exp.method = "exp-map (adams)";
  exp.kind = "exp-map";
  exp.tolerance = 1e-8;
  exp.Set("max_rel_speed_drift", 1e-9);
  r.sweep.push_back(exp);
  const std::string svg = RenderWorkPrecisionSvg(r, false);
  BOOST_TEST(Contains(svg, "max relative distance error vs NFE per pair"));
  BOOST_TEST(!Contains(svg, "log p"));
  BOOST_TEST(Count(svg, "class=\"legend-entry\"") == 1u);
  const std::string page = RenderHtmlReport({r}, "t", {});
  BOOST_TEST(Contains(page, ">max relative speed drift</th>"));
  BOOST_TEST(Contains(page, ">iterations per pair</th>"));
  BOOST_TEST(!Contains(page, "log p error</th>"));
}

BOOST_AUTO_TEST_CASE(svg_escapes_text) {
  CaseReport r = SyntheticCase("G<1> & \"2\"", false);
  r.sweep[0].method = "rk<4>&co";
  const std::string svg = RenderWorkPrecisionSvg(r, false);
  ExpectWellFormedSvg(svg);
  BOOST_TEST(Contains(svg, "G&lt;1&gt; &amp; &quot;2&quot;"));
  BOOST_TEST(Contains(svg, "rk&lt;4&gt;&amp;co"));
  BOOST_TEST(!Contains(svg, "<1>"));
}

BOOST_AUTO_TEST_CASE(svg_degenerate_inputs) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  SweepRow base;
  base.method = "dopri5";
  base.kind = "exact";
  base.error_metric = "max_error_logp";
  base.cost_metric = "nfe_per_sample";
  base.dimension = 2;
  base.tolerance = 1e-6;
  base.Set("max_error_logp", 1e-7);
  base.Set("nfe_per_sample", 100);
  base.seconds = 0.01;

  std::vector<CaseReport> cases;
  {
    CaseReport r;  // empty sweep, no name
    cases.push_back(r);
  }
  {
    CaseReport r;
    r.name = "one point";
    r.sweep = {base};
    cases.push_back(r);
  }
  {
    CaseReport r;
    r.name = "zero and negative error";
    r.sweep = {base, base};
    r.sweep[0].Set("max_error_logp", 0);
    r.sweep[1].Set("max_error_logp", -1);
    r.sweep[1].tolerance = 1e-8;
    cases.push_back(r);
  }
  {
    CaseReport r;
    r.name = "non-finite values";
    r.sweep = {base, base, base, base, base};
    r.sweep[0].Set("max_error_logp", nan);
    r.sweep[1].Set("max_error_logp", inf);
    r.sweep[2].Set("nfe_per_sample", nan);
    r.sweep[2].seconds = -inf;
    r.sweep[3].Set("nfe_per_sample", 0);
    r.sweep[3].seconds = 0;
    r.sweep[4].tolerance = nan;
    r.sweep[4].Set("max_error_logp", -inf);
    cases.push_back(r);
  }
  {
    CaseReport r;
    r.name = "all NaN";
    r.sweep = {base};
    r.sweep[0].Set("max_error_logp", nan);
    r.sweep[0].Set("nfe_per_sample", nan);
    r.sweep[0].seconds = nan;
    r.sweep[0].tolerance = 0;
    cases.push_back(r);
  }
  {
    CaseReport r;
    r.name = "hutchinson only";
    r.sweep = {base};
    r.sweep[0].kind = "hutchinson";
    r.sweep[0].error_metric.clear();
    r.sweep[0].cost_metric.clear();
    cases.push_back(r);
  }
  {
    CaseReport r;
    r.name = "huge range";
    r.sweep = {base, base};
    r.sweep[0].seconds = 1e-300;
    r.sweep[0].Set("max_error_logp", 1e300);
    r.sweep[1].seconds = 1e300;
    cases.push_back(r);
  }
  for (const auto& r : cases) {
    for (const bool x_is_time : {false, true}) {
      std::string svg;
      BOOST_CHECK_NO_THROW(svg = RenderWorkPrecisionSvg(r, x_is_time));
      BOOST_TEST_CONTEXT("case '" << r.name << "', x_is_time " << x_is_time) {
        ExpectWellFormedSvg(svg);
        // The y axis names the error metric of the case's sweep rows; without sweep rows there is none to name.
        bool swept = false;
        for (const auto& row : r.sweep) swept = swept || row.in_sweep();
        BOOST_TEST(Contains(svg, swept ? "max |log p error|" : "error vs"));
        BOOST_TEST(Contains(svg, "class=\"tick-label\""));  // valid axes even without a range
      }
    }
  }
  // A single point is padded to a decade each side: 1e1 ... 1e3 around NFE 100.
  const std::string one = RenderWorkPrecisionSvg(cases[1], false);
  BOOST_TEST(Contains(one, ">1e1<"));
  BOOST_TEST(Contains(one, ">1e3<"));
  BOOST_TEST(Count(one, "class=\"legend-entry\"") == 1u);
  // A zero error is clamped to 1e-16 and shown.
  BOOST_TEST(Contains(RenderWorkPrecisionSvg(cases[2], false), ">1e-16<"));

  std::string page;
  BOOST_CHECK_NO_THROW(page = RenderHtmlReport(cases, "degenerate", {}));
  BOOST_TEST(Count(page, "<section class=\"case\"") == cases.size());
  BOOST_TEST(Contains(page, "class=\"verdict fail\""));  // cases without checks do not pass
  for (const auto& svg : Svgs(page)) ExpectWellFormedSvg(svg);
  BOOST_CHECK_NO_THROW(page = RenderHtmlReport({}, "nothing", {}));
  BOOST_TEST(page.rfind("<!DOCTYPE html>", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(html_page_structure_and_verdict) {
  const std::vector<CaseReport> reports = {SyntheticCase("G1", false), SyntheticCase("G7", true)};
  const std::string html = RenderHtmlReport(reports, "pushpull validation <quick> & co",
                                            {"pushpull 0.1.0 (commit abc)", "command: pushpull validate <script>"});
  BOOST_TEST(html.rfind("<!DOCTYPE html>", 0) == 0u);
  BOOST_TEST(!Contains(html, "<script"));
  // No external resources: the only URIs are the SVG namespace declarations.
  BOOST_TEST(Count(html, "http") == Count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
  BOOST_TEST(!Contains(html, "<link"));
  BOOST_TEST(!Contains(html, "<img"));
  BOOST_TEST(Contains(html, "<style>"));
  BOOST_TEST(Contains(html, "</html>"));
  BOOST_TEST(Contains(html, "<title>pushpull validation &lt;quick&gt; &amp; co</title>"));

  // The overall verdict: one check of G7 failed.
  BOOST_TEST(Contains(html, "class=\"verdict fail\">FAIL<"));
  BOOST_TEST(!Contains(html, "class=\"verdict pass\""));
  BOOST_TEST(Contains(html, "1 of 2 cases passed"));

  // Summary table: one row per case, linking to its section.
  BOOST_TEST(Contains(html, "<a href=\"#case-G1\">G1</a>"));
  BOOST_TEST(Contains(html, "<a href=\"#case-G7\">G7</a>"));

  const auto sections = CaseSections(html);
  BOOST_TEST(sections.size() == reports.size());
  BOOST_TEST(Count(html, "<section class=\"case\"") == reports.size());
  BOOST_TEST(Contains(html, "<section class=\"case\" id=\"case-G1\">"));
  BOOST_TEST(Contains(html, "<section class=\"case\" id=\"case-G7\">"));
  for (size_t i = 0; i < sections.size(); ++i) {
    const std::string& sec = sections[i];
    BOOST_TEST_CONTEXT("section " << i) {
      BOOST_TEST(Count(sec, "<svg") == 2u);
      BOOST_TEST(Contains(sec, "synthetic affine flow &lt;A x + b&gt; &amp; friends"));
      BOOST_TEST(Contains(sec, "NFE per sample"));
      BOOST_TEST(Contains(sec, "wall time (s)"));
      BOOST_TEST(Contains(sec, "<table class=\"sweep\">"));
      BOOST_TEST(Contains(sec, "<table class=\"checks\">"));
      BOOST_TEST(Count(sec, "<tr><td>dopri5</td><td>exact</td>") == 3u);     // sweep rows
      BOOST_TEST(Count(sec, "<tr><td>dopri5</td><td>hutchinson</td>") == 3u);
      BOOST_TEST(Contains(sec, "1e-06"));                                      // %.3g numbers
      const auto svgs = Svgs(sec);
      for (const auto& svg : svgs) {
        ExpectWellFormedSvg(svg);
        BOOST_TEST(LegendEntries(svg).size() == kMethods.size());
        BOOST_TEST(Count(svg, "class=\"tolerance\"") == 3u);
        BOOST_TEST(Contains(svg, "max |log p error|"));
      }
    }
  }
  // G1 passes every check; G7 has exactly one failed check row.
  BOOST_TEST(Count(sections[0], "<span class=\"fail\">FAIL</span>") == 0u);
  BOOST_TEST(Count(sections[1], "<tr class=\"fail\">") == 1u);
  BOOST_TEST(Contains(sections[1], "error exceeds 10 x tolerance"));
  BOOST_TEST((Contains(sections[1], "&#8804;") || Contains(sections[1], "\xE2\x89\xA4")));  // the relation

  // Provenance at the end, escaped.
  const size_t details = html.find("<details");
  BOOST_TEST(details != std::string::npos);
  BOOST_TEST(details > html.rfind("</section>"));
  BOOST_TEST(Contains(html, "command: pushpull validate &lt;script&gt;"));

  // When every check passes, the verdict is PASS.
  const std::string ok = RenderHtmlReport({SyntheticCase("G1", false), SyntheticCase("G2", false)}, "ok", {});
  BOOST_TEST(Contains(ok, "class=\"verdict pass\">PASS<"));
  BOOST_TEST(!Contains(ok, "class=\"verdict fail\""));
  BOOST_TEST(!Contains(ok, "<span class=\"fail\">"));
}

BOOST_AUTO_TEST_CASE(duplicate_case_names_get_unique_ids) {
  const std::string html =
      RenderHtmlReport({SyntheticCase("G 1", false), SyntheticCase("G 1", false)}, "dup", {});
  BOOST_TEST(Contains(html, "id=\"case-G-1\""));
  BOOST_TEST(Contains(html, "id=\"case-G-1-2\""));
}

// Realistic numbers (the shapes of a quick `pushpull validate` run) written for a person to look at:
// /tmp/pushpull_report_example.html.
BOOST_AUTO_TEST_CASE(example_page_for_inspection) {
  struct Method {
    const char* name;
    double order, error_constant, nfe_constant, seconds_per_nfe;
  };
  const std::vector<Method> methods = {{"dopri5", 5, 2.0, 9.0, 2.1e-6},
                                       {"cvodes_adams", 6, 8.0, 6.0, 3.4e-6},
                                       {"cvodes_bdf", 3, 30.0, 4.0, 5.5e-6},
                                       {"arkode_erk", 4, 0.6, 11.0, 2.4e-6}};
  const std::vector<double> tolerances = {1e-4, 1e-6, 1e-8, 1e-10};
  std::vector<CaseReport> reports;
  for (const auto& [name, description, stiffness] :
       std::vector<std::tuple<std::string, std::string, double>>{
           {"G1", "constant affine field v = A x + b (non-symmetric A, tr A != 0), d = 8, base at t = 0", 1.0},
           {"G7", "stiff affine field, eigenvalues -1 ... -1e4, d = 6", 40.0}}) {
    CaseReport r;
    r.name = name;
    r.description = description;
    for (const auto& m : methods) {
      for (const double tol : tolerances) {
        for (const char* trace : {"exact", "hutchinson"}) {
          SweepRow row;
          row.method = m.name;
          row.kind = trace;
          if (std::string(trace) == "exact") {
            row.error_metric = "max_error_logp";
            row.cost_metric = "nfe_per_sample";
          }
          row.dimension = name == "G1" ? 8 : 6;
          row.tolerance = tol;
          const double stiff = std::string(m.name) == "cvodes_bdf" ? 1.0 : stiffness;
          row.Set("max_error_logp", m.error_constant * tol * (name == "G7" && tol < 1e-8 ? 30.0 : 1.0));
          if (std::string(trace) == "hutchinson") row.Set("max_error_logp", 0.08);
          row.Set("mean_error_logp", row.Get("max_error_logp") / 4.2);
          row.Set("max_error_endpoint", row.Get("max_error_logp") / 3);
          row.Set("mean_error_endpoint", row.Get("max_error_endpoint") / 5);
          row.Set("nfe_per_sample", m.nfe_constant * stiff * std::pow(tol, -1.0 / m.order));
          row.Set("steps_per_sample", row.Get("nfe_per_sample") / 6);
          row.seconds = 1000 * m.seconds_per_nfe * row.Get("nfe_per_sample");
          r.sweep.push_back(row);
        }
      }
      Check slope{"error falls with tolerance", m.name, 0, 0.93, 0.5, ">=", true, "log-log slope, exact trace"};
      r.checks.push_back(slope);
      Check bound{"max log p error <= 100 tol", m.name, 1e-10, m.error_constant * 1e-10, 1e-8, "<=", true, ""};
      if (name == "G7") bound.value *= 30.0;
      bound.passed = bound.value <= bound.threshold;
      if (!bound.passed) bound.detail = "error at the tightest tolerance exceeds the bound (roundoff floor?)";
      r.checks.push_back(bound);
    }
    reports.push_back(r);
  }
  const std::string html = RenderHtmlReport(
      reports, "pushpull validate: quick",
      {"pushpull 0.1.0 (commit 0123abcd, dirty)", "command line: pushpull validate -level quick -report_html r.html",
       "SUNDIALS 7.1.1, Eigen 3.4.0, HDF5 1.14.3", "threads: 8, seed: 20261122"});
  std::ofstream("/tmp/pushpull_report_example.html") << html;
  BOOST_TEST(Contains(html, "class=\"verdict fail\""));
  for (const auto& svg : Svgs(html)) ExpectWellFormedSvg(svg);
}

// MMD^2 with Gaussian kernels on a bandwidth grid and the energy distance: unbiased U-statistics, variance estimates
// and permutation p-values (two_sample.hpp).
//
// One pass over the pooled sample Z = (X, Y), N = n + m points with labels (0 = X, 1 = Y), computes for every row i
// and every kernel (the bandwidth levels, then energy) the row sums over columns j != i of k_ij split by the column's
// label, and the same for k_ij^2:  RX_i, RY_i, QX_i, QY_i. Everything below comes from these.
//
// Statistic (U-statistic of degree (2, 2) with the symmetrised kernel
//   h((x1, x2), (y1, y2)) = k(x1, x2) + k(y1, y2) - (k(x1, y1) + k(x1, y2) + k(x2, y1) + k(x2, y2)) / 2):
//   U = S_XX / (n(n-1)) + S_YY / (m(m-1)) - 2 S_XY / (nm), S_XX = sum_{i in X} RX_i, S_YY = sum_{j in Y} RY_j,
//   S_XY = sum_{i in X} RY_i.
//
// Variance (Lehmann; Hoeffding's decomposition of a two-sample U-statistic):
//   Var U = sum_{(c, d) != (0, 0)} [C(2, c) C(n-2, 2-c) / C(n, 2)] [C(2, d) C(m-2, 2-d) / C(m, 2)] sigma2_cd,
//   sigma2_cd = Var of E[h | c of the x's and d of the y's fixed]. We keep (1,0), (0,1), (1,1), (2,0), (0,2); the
//   neglected (2,1), (1,2), (2,2) terms have coefficients O(n^-3). With mX(x) = E k(x, X'), g(x) = E k(x, Y),
//   mY(y) = E k(y, Y'), e(y) = E k(X, y):
//   h10(x) = mX(x) - g(x) + const,  h01(y) = mY(y) - e(y) + const,
//   h11(x, y) = mX(x) - g(x)/2 + mY(y) - e(y)/2 - k(x, y)/2 + const,
//   h20(x1, x2) = k(x1, x2) - g(x1) - g(x2) + const,  h02 likewise with e.
//   Each conditional mean is estimated by the row mean (mX(x_i) ~ RX_i / (n-1), g(x_i) ~ RY_i / m, ...), and each
//   sigma2 by the empirical variance of the plug-in h over i (pairs: expanded into sums of RX, RY, QX, QY). The
//   first-order terms are corrected for the noise of the row means (its variance, from QX and QY, is subtracted), so
//   the estimate stays close to unbiased also under the null, where sigma2_10 = sigma2_01 = 0.
//
// Determinism: rows are processed in fixed blocks (one work item each, through ParallelForOrdered); every total is
// summed over the rows in index order afterwards: the result does not depend on the thread count.
#include "pushpull/two_sample.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <string>

#include <Eigen/Dense>

#include "pushpull/errors.hpp"
#include "pushpull/options.hpp"
#include "pushpull/parallel.hpp"

namespace pushpull {

namespace {

constexpr std::int64_t kRowBlock = 64;   // rows per work item
constexpr std::int64_t kChunk = 512;     // columns per vectorised chunk (stays in L1)
// Eight doubles as one value (GCC / Clang vector extension): the compiler maps it to the widest registers it has.
constexpr int kLanes = 8;
typedef double Lanes __attribute__((vector_size(kLanes * sizeof(double))));

using Eigen::ArrayXd;

// Per kernel q (levels 0..L-1 in ascending bandwidth, then energy): row sums over j != i.
struct RowSums {
  std::int64_t n_points = 0;
  int kernels = 0;
  std::vector<double> rx, ry, qx, qy;  // [q * N + i]
  double& at(std::vector<double>& v, int q, std::int64_t i) { return v[static_cast<std::size_t>(q * n_points + i)]; }
};

// zt: d x N row-major (coordinate k of every point contiguous). label: 0 (X) or 1 (Y).
//
// Symmetric tiles: every unordered pair i < j is evaluated once. Rows are split into fixed items (the split depends
// only on N); item b evaluates its rows i against the columns j > i, adds each value to row i's sums (split by
// label_j) and to a per-item column buffer (split by label_i) for row j. The buffers are added to the column totals
// by the ordered emit, in item order, so the sums do not depend on the thread count.
// Channels per pair: the Gaussian powers v_s = exp(-d2 coef)^(2^(L-1-s)), s = L-1 (widest bandwidth) down to 0, and
// s = -1 (the square of level 0) when squares are wanted: level q's sums are those of v_q, its sums of squares those
// of v_{q-1}; then energy -sqrt(d2) and, with squares, d2.
// The points are ordered X first: columns [0, n_x) are X, [n_x, N) are Y (a permutation reorders the columns).
void ComputeRowSums(const PointMatrix& zt, std::int64_t n_x, const std::vector<double>& bandwidths, bool energy,
                    bool squares, int threads, RowSums& out) {
  const std::int64_t d = zt.rows(), n_points = zt.cols();
  const int levels = static_cast<int>(bandwidths.size());
  const int kernels = levels + (energy ? 1 : 0);
  const int gauss_channels = levels > 0 ? levels + (squares ? 1 : 0) : 0;
  const int channels = gauss_channels + (energy ? (squares ? 2 : 1) : 0);
  auto gauss_channel = [&](int s) { return squares ? s + 1 : s; };  // s in [-1 or 0, levels)
  const int energy_channel = gauss_channels, energy_square_channel = gauss_channels + 1;
  out.n_points = n_points;
  out.kernels = kernels;
  const std::size_t N = static_cast<std::size_t>(n_points);
  // Sums per channel c and point i over partners in X ([0]) and in Y ([1]): `own` over the partners j > i (written
  // by the item owning row i, nothing else touches it), `acc` over the partners j < i (added by the ordered emit
  // only). The total own + acc is formed at the end: a fixed order of summation for every thread count.
  std::vector<double> own[2] = {std::vector<double>(static_cast<std::size_t>(channels) * N, 0.0),
                                std::vector<double>(static_cast<std::size_t>(channels) * N, 0.0)};
  std::vector<double> acc[2] = {own[0], own[1]};
  const double coef = levels > 0 ? 1.0 / (2.0 * bandwidths.back() * bandwidths.back()) : 0.0;
  const std::int64_t rows_per_item = std::max<std::int64_t>(kRowBlock, (n_points + 63) / 64);
  const std::int64_t items = (n_points + rows_per_item - 1) / rows_per_item;
  std::vector<std::vector<double>> column_buffers(static_cast<std::size_t>(items));
  auto work = [&](int, std::size_t item) {
    const std::int64_t i0 = static_cast<std::int64_t>(item) * rows_per_item;
    const std::int64_t i1 = std::min(n_points, i0 + rows_per_item);
    const std::int64_t width = n_points - i0;  // columns j >= i0
    // [label_i][channel][j - i0]
    std::vector<double>& buffer = column_buffers[item];
    buffer.assign(2 * static_cast<std::size_t>(channels) * static_cast<std::size_t>(width), 0.0);
    auto column = [&](int li, int c) {
      return buffer.data() + (static_cast<std::size_t>(li) * channels + static_cast<std::size_t>(c)) *
                                 static_cast<std::size_t>(width);
    };
    ArrayXd d2(kChunk), k(kChunk);
    const std::size_t C = static_cast<std::size_t>(channels);
    std::vector<Lanes> lanes(static_cast<std::size_t>(gauss_channels));
    std::vector<double*> columns(lanes.size());
    std::vector<double> tails(lanes.size());
    // Row sums of the item's rows: [row - i0][channel], over partners in X (sx) and Y (sy).
    std::vector<double> sx(static_cast<std::size_t>(i1 - i0) * C, 0.0), sy(sx.size(), 0.0);
    // Column chunks outermost, so that a chunk of the column buffer stays in cache for all rows of the item.
    // Chunks also break at n_x, so that every chunk's columns have one label.
    for (std::int64_t c0 = i0 + 1, c1 = 0; c0 < n_points; c0 = c1) {
      c1 = std::min(n_points, c0 + kChunk);
      if (c0 < n_x && n_x < c1) c1 = n_x;
      const bool column_y = c0 >= n_x;
      for (std::int64_t i = i0; i < std::min(i1, c1 - 1); ++i) {
        const std::int64_t j0 = std::max(c0, i + 1), w = c1 - j0;
        const int li = i >= n_x ? 1 : 0;
        double* row_x = sx.data() + static_cast<std::size_t>(i - i0) * C;
        double* row_y = sy.data() + static_cast<std::size_t>(i - i0) * C;
        auto dd = d2.head(w);
        dd.setZero();
        for (std::int64_t c = 0; c < d; ++c) {
          const double zi = zt(c, i);
          const double* zc = zt.data() + c * n_points + j0;
          double* out_d = dd.data();
          for (std::int64_t j = 0; j < w; ++j) {
            const double t = zi - zc[j];
            out_d[j] += t * t;
          }
        }
        const std::int64_t offset = j0 - i0;
        double* row = column_y ? row_y : row_x;
        auto accumulate = [&](int c, const auto& values) {
          row[c] += values.sum();
          Eigen::Map<ArrayXd>(column(li, c) + offset, w) += values;
        };
        auto kk = k.head(w);
        if (levels > 0) {
          kk = (-coef * dd).exp();
          // All Gaussian channels in one pass over the chunk: 8 lanes at a time, the value squared from one
          // channel to the next, each channel's lane sums kept apart (a fixed summation order).
          for (int g = 0; g < gauss_channels; ++g) {
            lanes[static_cast<std::size_t>(g)] = Lanes{};
            columns[static_cast<std::size_t>(g)] = column(li, gauss_channel(levels - 1 - g)) + offset;
          }
          std::int64_t j = 0;
          const int G = gauss_channels;  // locals: the stores below cannot alias them
          Lanes* const lane = lanes.data();
          double* const* const cols = columns.data();
          const double* const values = kk.data();
          // Two vectors at a time: two independent squaring chains hide the multiply latency.
          for (; j + 2 * kLanes <= w; j += 2 * kLanes) {
            Lanes v, u;
            std::memcpy(&v, values + j, sizeof v);
            std::memcpy(&u, values + j + kLanes, sizeof u);
            for (int g = 0; g < G; ++g) {
              lane[g] += v;
              lane[g] += u;
              double* b = cols[g] + j;
              Lanes bv, bu;
              std::memcpy(&bv, b, sizeof bv);
              std::memcpy(&bu, b + kLanes, sizeof bu);
              bv += v;
              bu += u;
              std::memcpy(b, &bv, sizeof bv);
              std::memcpy(b + kLanes, &bu, sizeof bu);
              v *= v;
              u *= u;
            }
          }
          for (; j + kLanes <= w; j += kLanes) {
            Lanes v;
            std::memcpy(&v, values + j, sizeof v);
            for (int g = 0; g < G; ++g) {
              lane[g] += v;
              double* b = cols[g] + j;
              Lanes bv;
              std::memcpy(&bv, b, sizeof bv);
              bv += v;
              std::memcpy(b, &bv, sizeof bv);
              v *= v;
            }
          }
          for (int g = 0; g < gauss_channels; ++g) {
            double sum = 0;
            for (int l = 0; l < kLanes; ++l) sum += lanes[static_cast<std::size_t>(g)][l];
            tails[static_cast<std::size_t>(g)] = sum;
          }
          for (; j < w; ++j) {
            double v = kk[j];
            for (int g = 0; g < gauss_channels; ++g) {
              tails[static_cast<std::size_t>(g)] += v;
              columns[static_cast<std::size_t>(g)][j] += v;
              v *= v;
            }
          }
          for (int g = 0; g < gauss_channels; ++g) row[gauss_channel(levels - 1 - g)] += tails[static_cast<std::size_t>(g)];
        }
        if (energy) {
          kk = -dd.sqrt();
          accumulate(energy_channel, kk);
          if (squares) accumulate(energy_square_channel, dd);
        }
      }
    }
    for (std::int64_t i = i0; i < i1; ++i) {
      for (std::size_t c = 0; c < C; ++c) {
        own[0][c * N + static_cast<std::size_t>(i)] = sx[static_cast<std::size_t>(i - i0) * C + c];
        own[1][c * N + static_cast<std::size_t>(i)] = sy[static_cast<std::size_t>(i - i0) * C + c];
      }
    }
  };
  // Rows of item b are written by item b only (above); the columns j >= i0 of every item are added here, in order.
  auto emit = [&](std::size_t first, std::size_t count) {
    for (std::size_t item = first; item < first + count; ++item) {
      const std::int64_t i0 = static_cast<std::int64_t>(item) * rows_per_item;
      const std::size_t width = static_cast<std::size_t>(n_points - i0);
      const std::vector<double>& buffer = column_buffers[item];
      for (int li = 0; li < 2; ++li) {
        for (int c = 0; c < channels; ++c) {
          const double* src = buffer.data() + (static_cast<std::size_t>(li) * channels + static_cast<std::size_t>(c)) * width;
          double* dst = acc[li].data() + static_cast<std::size_t>(c) * N + static_cast<std::size_t>(i0);
          for (std::size_t j = 0; j < width; ++j) dst[j] += src[j];
        }
      }
      std::vector<double>().swap(column_buffers[item]);
    }
  };
  ParallelForOrdered(static_cast<std::size_t>(items), threads, work, emit);
  const std::size_t size = static_cast<std::size_t>(kernels) * N;
  out.rx.assign(size, 0.0);
  out.ry.assign(size, 0.0);
  out.qx.assign(squares ? size : 0, 0.0);
  out.qy.assign(squares ? size : 0, 0.0);
  auto copy = [&](std::vector<double>& dst, int q, int li, int c) {
    const std::size_t from = static_cast<std::size_t>(c) * N, to = static_cast<std::size_t>(q) * N;
    for (std::size_t i = 0; i < N; ++i) dst[to + i] = own[li][from + i] + acc[li][from + i];
  };
  for (int q = 0; q < levels; ++q) {
    copy(out.rx, q, 0, gauss_channel(q));
    copy(out.ry, q, 1, gauss_channel(q));
    if (squares) {
      copy(out.qx, q, 0, gauss_channel(q - 1));
      copy(out.qy, q, 1, gauss_channel(q - 1));
    }
  }
  if (energy) {
    copy(out.rx, levels, 0, energy_channel);
    copy(out.ry, levels, 1, energy_channel);
    if (squares) {
      copy(out.qx, levels, 0, energy_square_channel);
      copy(out.qy, levels, 1, energy_square_channel);
    }
  }
}

// The U-statistic of kernel q from row sums.
double Statistic(RowSums& r, int q, const std::vector<double>& label, double n, double m) {
  double sxx = 0, syy = 0, sxy = 0;
  for (std::int64_t i = 0; i < r.n_points; ++i) {
    if (label[static_cast<std::size_t>(i)] == 0.0) {
      sxx += r.at(r.rx, q, i);
      sxy += r.at(r.ry, q, i);
    } else {
      syy += r.at(r.ry, q, i);
    }
  }
  return sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2.0 * sxy / (n * m);
}

// The variance estimate of the U-statistic of kernel q (see the top of this file). Points 0..n-1 are X, n..N-1 Y.
double Variance(RowSums& r, int q, std::int64_t n_int, std::int64_t m_int) {
  const double n = static_cast<double>(n_int), m = static_cast<double>(m_int);
  // Per-point plug-in conditional means and the variances of those row means (noise).
  ArrayXd a(n_int), g(n_int), b(m_int), e(m_int), noise_x(n_int), noise_y(m_int);
  double q_xx = 0, q_yy = 0, q_xy = 0, s_xx = 0, s_yy = 0;
  for (std::int64_t i = 0; i < n_int; ++i) {
    a[i] = r.at(r.rx, q, i) / (n - 1);
    g[i] = r.at(r.ry, q, i) / m;
    const double var_a = std::max(0.0, r.at(r.qx, q, i) / (n - 1) - a[i] * a[i]) / (n - 2);
    const double var_g = std::max(0.0, r.at(r.qy, q, i) / m - g[i] * g[i]) / (m - 1);
    noise_x[i] = var_a + var_g;
    q_xx += r.at(r.qx, q, i);
    q_xy += r.at(r.qy, q, i);
    s_xx += r.at(r.rx, q, i);
  }
  for (std::int64_t j = 0; j < m_int; ++j) {
    const std::int64_t p = n_int + j;
    b[j] = r.at(r.ry, q, p) / (m - 1);
    e[j] = r.at(r.rx, q, p) / n;
    const double var_b = std::max(0.0, r.at(r.qy, q, p) / (m - 1) - b[j] * b[j]) / (m - 2);
    const double var_e = std::max(0.0, r.at(r.qx, q, p) / n - e[j] * e[j]) / (n - 1);
    noise_y[j] = var_b + var_e;
    q_yy += r.at(r.qy, q, p);
    s_yy += r.at(r.ry, q, p);
  }
  auto variance = [](const ArrayXd& v) { return (v - v.mean()).square().sum() / static_cast<double>(v.size() - 1); };
  // First order, corrected for the noise of the plug-in row means.
  const double s10 = std::max(0.0, variance(a - g) - noise_x.mean());
  const double s01 = std::max(0.0, variance(b - e) - noise_y.mean());
  // (2, 0): T_ij = k_ij - g_i - g_j over ordered pairs i != j of X.
  auto pair_variance = [](double pairs, double count, double s_k, double q_k, const ArrayXd& gv,
                          const ArrayXd& row_k) {
    const double sg = gv.sum(), sg2 = gv.square().sum();
    const double sum_t = s_k - 2.0 * (count - 1) * sg;
    const double sum_t2 = q_k - 4.0 * (gv * row_k).sum() + 2.0 * (count - 1) * sg2 + 2.0 * (sg * sg - sg2);
    const double mean = sum_t / pairs;
    return std::max(0.0, sum_t2 / pairs - mean * mean);
  };
  ArrayXd rx_x(n_int), ry_y(m_int), ry_x(n_int), rx_y(m_int);
  for (std::int64_t i = 0; i < n_int; ++i) {
    rx_x[i] = r.at(r.rx, q, i);
    ry_x[i] = r.at(r.ry, q, i);
  }
  for (std::int64_t j = 0; j < m_int; ++j) {
    ry_y[j] = r.at(r.ry, q, n_int + j);
    rx_y[j] = r.at(r.rx, q, n_int + j);
  }
  const double s20 = pair_variance(n * (n - 1), n, s_xx, q_xx, g, rx_x);
  const double s02 = pair_variance(m * (m - 1), m, s_yy, q_yy, e, ry_y);
  // (1, 1): A_i + B_j - k_ij / 2 over (i, j) in X x Y, A = a - g/2, B = b - e/2.
  const ArrayXd A = a - 0.5 * g, B = b - 0.5 * e;
  const double s_xy = ry_x.sum();
  const double mean11 = A.mean() + B.mean() - 0.5 * s_xy / (n * m);
  const double second11 = A.square().mean() + B.square().mean() + 2.0 * A.mean() * B.mean() + 0.25 * q_xy / (n * m) -
                          ((A * ry_x).sum() + (B * rx_y).sum()) / (n * m);
  const double s11 = std::max(0.0, second11 - mean11 * mean11);
  auto coefficients = [](double size) {
    const double pairs = size * (size - 1) / 2;
    return std::array<double, 3>{(size - 2) * (size - 3) / 2 / pairs, 2 * (size - 2) / pairs, 1 / pairs};
  };
  const auto cx = coefficients(n), cy = coefficients(m);
  return cx[1] * cy[0] * s10 + cx[0] * cy[1] * s01 + cx[1] * cy[1] * s11 + cx[2] * cy[0] * s20 + cx[0] * cy[2] * s02;
}

double MedianDistance(const PointMatrix& z, std::int64_t max_points, std::uint64_t seed, std::int64_t& used) {
  const std::int64_t total = z.rows();
  std::vector<std::int64_t> index(static_cast<std::size_t>(total));
  for (std::int64_t i = 0; i < total; ++i) index[static_cast<std::size_t>(i)] = i;
  used = std::min(total, max_points);
  if (used < total) {  // partial Fisher-Yates with a seeded generator
    std::mt19937_64 rng(seed);
    for (std::int64_t i = 0; i < used; ++i) {
      const std::uint64_t span = static_cast<std::uint64_t>(total - i);
      const std::int64_t j = i + static_cast<std::int64_t>(rng() % span);
      std::swap(index[static_cast<std::size_t>(i)], index[static_cast<std::size_t>(j)]);
    }
  }
  std::vector<double> dist;
  dist.reserve(static_cast<std::size_t>(used * (used - 1) / 2));
  for (std::int64_t i = 0; i < used; ++i) {
    for (std::int64_t j = i + 1; j < used; ++j) {
      dist.push_back((z.row(index[static_cast<std::size_t>(i)]) - z.row(index[static_cast<std::size_t>(j)])).norm());
    }
  }
  if (dist.empty()) return 0.0;
  const std::size_t mid = dist.size() / 2;
  std::nth_element(dist.begin(), dist.begin() + static_cast<std::ptrdiff_t>(mid), dist.end());
  double med = dist[mid];
  if (dist.size() % 2 == 0) med = 0.5 * (med + *std::max_element(dist.begin(), dist.begin() + static_cast<std::ptrdiff_t>(mid)));
  return med;
}

}  // namespace

const char* ToString(TwoSampleStatus status) {
  return status == TwoSampleStatus::kSuccess ? "success" : "numerical_failure";
}
bool Usable(TwoSampleStatus status) { return status == TwoSampleStatus::kSuccess; }

void TwoSampleOptions::SetFromOptions(OptionsDatabase& db, std::string_view prefix) {
  const std::string p(prefix);
  db.SetSection("Two-sample statistics (MMD, energy distance)" + (p.empty() ? std::string() : " (prefix '" + p + "')"));
  db.Int(prefix, "mmd_bandwidth_levels", bandwidth_levels,
         "Gaussian-kernel bandwidth grid h^2 = h_c^2 2^l, l = -L..L (2 L + 1 bandwidths around the centre h_c)",
         "TwoSampleOptions::bandwidth_levels", IntBounds{0, 20});
  db.Real(prefix, "mmd_bandwidth_scale", bandwidth_scale,
          "The centre h_c is this times the median pairwise distance of the pooled sample (median heuristic)",
          "TwoSampleOptions::bandwidth_scale", RealBounds::Positive());
  db.Real(prefix, "mmd_bandwidth", bandwidth,
          "Centre bandwidth h_c given directly (then the median heuristic is still reported); 0 = median heuristic",
          "TwoSampleOptions::bandwidth", RealBounds::NonNegative());
  db.Int(prefix, "mmd_median_subsample", median_subsample,
         "The median heuristic uses at most this many pooled points (a subsample drawn with -mmd_seed beyond)",
         "TwoSampleOptions::median_subsample", IntBounds::AtLeast(2));
  db.Int(prefix, "mmd_permutations", permutations,
         "Permutations for the p-values (each costs one more O((n + m)^2) pass); 0 = no p-values",
         "TwoSampleOptions::permutations", IntBounds::AtLeast(0));
  db.Int(prefix, "mmd_seed", seed, "Seed of the std::mt19937_64 behind the median subsample and the permutations",
         "TwoSampleOptions::seed", IntBounds::AtLeast(0));
  db.Bool(prefix, "mmd_energy", energy, "Also compute the energy distance", "TwoSampleOptions::energy");
  db.Int(prefix, "mmd_threads", threads, "Worker threads; 0 = all cores (results do not depend on it)",
         "TwoSampleOptions::threads", IntBounds::AtLeast(0));
}

std::string TwoSampleOptions::Validate() const {
  TwoSampleOptions copy = *this;
  return CheckDeclared([&](OptionsDatabase& db) { copy.SetFromOptions(db); });
}

TwoSampleResult CompareSamples(const PointMatrix& x, const PointMatrix& y, const TwoSampleOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (const std::string problem = options.Validate(); !problem.empty()) throw InputError(problem);
  const std::int64_t n = x.rows(), m = y.rows();
  if (n < 4 || m < 4) {
    throw InputError("two-sample statistics need at least 4 points per set (got " + std::to_string(n) + " and " +
                     std::to_string(m) + ")");
  }
  if (x.cols() != y.cols()) {
    throw InputError("two-sample statistics: the sets have dimensions " + std::to_string(x.cols()) + " and " +
                     std::to_string(y.cols()));
  }
  if (!x.allFinite() || !y.allFinite()) throw InputError("two-sample statistics: non-finite point coordinates");
  TwoSampleResult r;
  r.seed = static_cast<std::uint64_t>(options.seed);
  r.permutations = options.permutations;
  PointMatrix z(n + m, x.cols());
  z.topRows(n) = x;
  z.bottomRows(m) = y;
  r.median_distance = MedianDistance(z, options.median_subsample, r.seed, r.median_points);
  const double centre = options.bandwidth > 0 ? options.bandwidth : options.bandwidth_scale * r.median_distance;
  if (!(centre > 0)) {
    r.status = TwoSampleStatus::kNumericalFailure;
    r.message = "the median pairwise distance is 0 (repeated points); give -mmd_bandwidth";
    return r;
  }
  std::vector<double> bandwidths;
  for (int l = -options.bandwidth_levels; l <= options.bandwidth_levels; ++l) {
    bandwidths.push_back(centre * std::sqrt(std::ldexp(1.0, l)));
  }
  const int levels = static_cast<int>(bandwidths.size());
  const PointMatrix zt = z.transpose();
  std::vector<double> label(static_cast<std::size_t>(n + m), 0.0);
  std::fill(label.begin() + n, label.end(), 1.0);
  RowSums sums;
  ComputeRowSums(zt, n, bandwidths, options.energy, true, options.threads, sums);
  const double nd = static_cast<double>(n), md = static_cast<double>(m);
  auto fill = [&](TwoSampleStatistic& s, int q) {
    s.value = Statistic(sums, q, label, nd, md);
    s.variance = Variance(sums, q, n, m);
    s.standard_error = std::sqrt(std::max(0.0, s.variance));
  };
  r.mmd.resize(static_cast<std::size_t>(levels));
  for (int q = 0; q < levels; ++q) {
    r.mmd[static_cast<std::size_t>(q)].name = "mmd2";
    r.mmd[static_cast<std::size_t>(q)].bandwidth = bandwidths[static_cast<std::size_t>(q)];
    fill(r.mmd[static_cast<std::size_t>(q)], q);
  }
  if (options.energy) {
    r.energy.name = "energy";
    fill(r.energy, levels);
  }
  if (options.permutations > 0) {
    std::mt19937_64 rng(r.seed);
    std::vector<double> permuted = label;
    std::vector<std::int64_t> order_x, order_y;
    PointMatrix zt_perm(zt.rows(), zt.cols());
    RowSums perm;
    for (int p = 0; p < options.permutations; ++p) {
      // Fisher-Yates from the previous permutation (a uniform permutation each time) of the labels; the points
      // relabelled X are then moved first (in index order), those relabelled Y after them.
      for (std::int64_t i = n + m - 1; i > 0; --i) {
        const std::int64_t j = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(i + 1));
        std::swap(permuted[static_cast<std::size_t>(i)], permuted[static_cast<std::size_t>(j)]);
      }
      std::int64_t kx = 0, ky = n;
      for (std::int64_t i = 0; i < n + m; ++i) {
        zt_perm.col(permuted[static_cast<std::size_t>(i)] == 0.0 ? kx++ : ky++) = zt.col(i);
      }
      ComputeRowSums(zt_perm, n, bandwidths, options.energy, false, options.threads, perm);
      for (int q = 0; q < levels; ++q) {
        if (Statistic(perm, q, label, nd, md) >= r.mmd[static_cast<std::size_t>(q)].value) {
          ++r.mmd[static_cast<std::size_t>(q)].exceedances;
        }
      }
      if (options.energy && Statistic(perm, levels, label, nd, md) >= r.energy.value) ++r.energy.exceedances;
    }
    const double denom = 1.0 + options.permutations;
    for (auto& s : r.mmd) s.p_value = (1.0 + static_cast<double>(s.exceedances)) / denom;
    if (options.energy) r.energy.p_value = (1.0 + static_cast<double>(r.energy.exceedances)) / denom;
  }
  bool finite = std::isfinite(r.energy.value);
  for (const auto& s : r.mmd) finite = finite && std::isfinite(s.value) && std::isfinite(s.variance);
  if (!finite) {
    r.status = TwoSampleStatus::kNumericalFailure;
    r.message = "non-finite kernel sums";
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

double GaussianKernelMean(const Eigen::VectorXd& mu, const Eigen::MatrixXd& sigma, double h) {
  const Eigen::Index d = mu.size();
  const Eigen::MatrixXd a = h * h * Eigen::MatrixXd::Identity(d, d) + sigma;
  const Eigen::LLT<Eigen::MatrixXd> llt(a);
  const double logdet = 2.0 * llt.matrixL().toDenseMatrix().diagonal().array().log().sum();
  const double quad = mu.dot(llt.solve(mu));
  return std::exp(static_cast<double>(d) * std::log(h) - 0.5 * logdet - 0.5 * quad);
}

double GaussianMmd2(const Eigen::VectorXd& m1, const Eigen::MatrixXd& s1, const Eigen::VectorXd& m2,
                    const Eigen::MatrixXd& s2, double h) {
  const Eigen::VectorXd zero = Eigen::VectorXd::Zero(m1.size());
  return GaussianKernelMean(zero, 2.0 * s1, h) + GaussianKernelMean(zero, 2.0 * s2, h) -
         2.0 * GaussianKernelMean(m1 - m2, s1 + s2, h);
}

}  // namespace pushpull

// The discovery core (discover.h): few-shot ranking, anomaly scores, what to
// label next, and the ranking metrics the benchmarks report.
#include "astrofm/discover.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "astrofm/error.h"
#include "astrofm/knn.h"
#include "astrofm/probe.h"

namespace astrofm {
namespace {

std::vector<double> mean_cosine_scores(const Features& cat, const Features& pos, const Features& neg, const Scaler& s, double neg_weight) {
  const int64_t d = cat.d;
  std::vector<double> q(d, 0.0);
  auto accumulate = [&](const Features& ex, double sign) {
    auto z = s.transform(ex);
    for (int64_t i = 0; i < z.n; ++i) {
      double norm = 0;
      for (int64_t j = 0; j < d; ++j) norm += double(z.row(i)[j]) * z.row(i)[j];
      norm = std::sqrt(std::max(norm, 1e-30));
      for (int64_t j = 0; j < d; ++j) q[j] += sign * z.row(i)[j] / norm / z.n;
    }
  };
  accumulate(pos, 1);
  if (neg.n > 0) accumulate(neg, -neg_weight);
  // Row by row, so that a catalogue of millions is not copied.
  std::vector<double> out(cat.n);
  const bool z = !s.mean.empty();
  for (int64_t i = 0; i < cat.n; ++i) {
    const float* r = cat.row(i);
    double dot = 0, norm = 0;
    for (int64_t j = 0; j < d; ++j) {
      double v = z ? (r[j] - s.mean[j]) / s.scale[j] : r[j];
      dot += v * q[j], norm += v * v;
    }
    out[i] = dot / std::sqrt(std::max(norm, 1e-30));
  }
  return out;
}

std::vector<double> pu_scores(const Features& cat, const Features& pos, const Features& neg, const std::vector<int64_t>& labelled,
                              const SimilarOptions& o, const Scaler& s) {
  std::vector<char> skip(cat.n, 0);
  for (auto r : labelled)
    if (r >= 0 && r < cat.n) skip[r] = 1;
  std::vector<int64_t> bg;
  for (int64_t i = 0; i < cat.n; ++i)
    if (!skip[i]) bg.push_back(i);
  if (static_cast<int64_t>(bg.size()) > o.background) {
    std::mt19937_64 rng(o.seed);
    std::shuffle(bg.begin(), bg.end(), rng);
    bg.resize(o.background);
    std::sort(bg.begin(), bg.end());
  }
  if (bg.empty()) fail_input("discover: every catalogue object is an example; nothing is left to rank against");
  // Training rows: examples (class 1), counter-examples and the background (class 0).
  Features t{0, cat.d, {}};
  std::vector<double> y, w;
  const double npos = static_cast<double>(pos.n), nbg = static_cast<double>(bg.size());
  auto add = [&](const float* r, double label, double weight) {
    t.x.insert(t.x.end(), r, r + cat.d);
    y.push_back(label), w.push_back(weight), ++t.n;
  };
  // Balanced: the examples together weigh as much as the background; a
  // counter-example weighs negative_weight examples.
  for (int64_t i = 0; i < pos.n; ++i) add(pos.row(i), 1, nbg / npos);
  for (int64_t i = 0; i < neg.n; ++i) add(neg.row(i), 0, o.negative_weight * nbg / npos);
  for (auto r : bg) add(cat.row(r), 0, 1);
  auto model = fit_weighted_logistic(s.transform(t), y, w, o.C);
  // Fold the standardisation into the weights: score the raw rows.
  if (!s.mean.empty())
    for (int64_t j = 0; j < cat.d; ++j) {
      model.beta[j] /= s.scale[j];
      model.intercept -= model.beta[j] * s.mean[j];
    }
  return model.decision(cat);
}

}  // namespace

void SimilarOptions::check() const {
  if (method != "pu" && method != "mean") fail_usage("discover: --method {}: pu or mean", method);
  if (!(C > 0)) fail_usage("discover: C must be positive, not {}", C);
  if (!(negative_weight >= 0)) fail_usage("discover: the counter-example weight must be at least 0, not {}", negative_weight);
  if (!(mean_negative_weight >= 0)) fail_usage("discover: the counter-examples' weight must be at least 0, not {}", mean_negative_weight);
  if (background < 1) fail_usage("discover: the background must hold at least 1 object, not {}", background);
}

std::vector<double> rank_similar(const Features& catalogue, const Features& positives, const Features& negatives,
                                 const std::vector<int64_t>& labelled, const SimilarOptions& o) {
  o.check();
  if (catalogue.n == 0) fail_input("discover: the catalogue is empty");
  if (positives.n == 0) fail_input("discover: no examples (positives) to rank by");
  for (const auto* f : {&positives, &negatives})
    if (f->n > 0 && f->d != catalogue.d)
      fail_input("discover: the {} have {} dimensions, the catalogue {} (another embedding model?)",
                 f == &positives ? "examples" : "counter-examples", f->d, catalogue.d);
  check_finite(catalogue, "catalogue");
  check_finite(positives, "examples");
  check_finite(negatives, "counter-examples");
  Scaler s;
  if (o.standardize) s.fit(catalogue);
  if (o.method == "mean") return mean_cosine_scores(catalogue, positives, negatives, s, o.mean_negative_weight);
  return pu_scores(catalogue, positives, negatives, labelled, o, s);
}

namespace {
// Each value's rank fraction in [0, 1] (the lowest 0, the highest 1); ties share their mean rank.
std::vector<double> rank_fractions(const std::vector<double>& v) {
  const int64_t n = static_cast<int64_t>(v.size());
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return v[a] < v[b]; });
  std::vector<double> r(n, 0.0);
  for (int64_t i = 0; i < n;) {
    int64_t j = i;
    while (j + 1 < n && v[order[j + 1]] == v[order[i]]) ++j;
    const double mean_rank = n > 1 ? 0.5 * double(i + j) / double(n - 1) : 1.0;
    for (int64_t k = i; k <= j; ++k) r[order[k]] = mean_rank;
    i = j + 1;
  }
  return r;
}
}  // namespace

std::vector<double> blend_with_prior(const std::vector<double>& scores, const std::vector<double>& prior, double prior_weight) {
  if (!(prior_weight >= 0 && prior_weight <= 1)) fail_usage("discover: the prior's weight must lie in [0, 1], not {}", prior_weight);
  if (scores.size() != prior.size())
    fail_input("discover: {} prior scores for a catalogue of {} objects", prior.size(), scores.size());
  for (size_t i = 0; i < prior.size(); ++i)
    if (!std::isfinite(prior[i])) fail_input("discover: the prior score of row {} is {}", i, prior[i]);
  auto a = rank_fractions(scores), b = rank_fractions(prior);
  for (size_t i = 0; i < a.size(); ++i) a[i] = (1 - prior_weight) * a[i] + prior_weight * b[i];
  return a;
}

void AnomalyOptions::check() const {
  if (method != "lof" && method != "knn") fail_usage("discover: --method {}: lof or knn (isolation forests: Python, astrofm.discover)", method);
  if (k < 1) fail_usage("discover: k must be at least 1, not {}", k);
  IndexOptions i = index;
  if (i.kind == "auto") i.kind = "flat";
  i.check();
  if (index.metric != "l2") fail_usage("discover: anomaly scores need the l2 metric, not {}", index.metric);
}

std::vector<double> anomaly_scores(const Features& x, const AnomalyOptions& o, const std::function<void(int64_t)>& progress) {
  o.check();
  if (x.n == 0) fail_input("discover: the catalogue is empty");
  check_finite(x, "catalogue");
  if (x.n <= o.k) fail_input("discover: {} neighbours asked of a catalogue of {} objects", o.k, x.n);
  Scaler s;
  if (o.standardize) s.fit(x);
  const Features z = s.transform(x);
  const int k = o.k;
  // Each row's k nearest other rows: the exact search (knn.h, equal to a
  // double-precision scan) or an index for large catalogues. The row itself
  // is dropped by index, as scikit-learn does, so duplicates stay neighbours.
  std::vector<int64_t> nn(x.n * k);
  std::vector<double> dist(x.n * k);
  const int64_t block = 4096;
  std::unique_ptr<VectorIndex> index;
  IndexOptions io = o.index;
  if (io.kind == "auto") io.kind = x.n <= o.exact_limit ? "flat" : "ivfsq8";
  if (io.kind != "flat") {
    // IVF: 4 sqrt(n) lists, at most 4096, unless set; k-means on 64 objects a list, taken at an even stride
    // (a catalogue sorted by sky position would otherwise train on one region).
    if (io.kind.rfind("ivf", 0) == 0 && io.nlist <= 0)
      io.nlist = std::clamp<int64_t>(static_cast<int64_t>(4 * std::sqrt(static_cast<double>(z.n))), 1, 4096);
    index = VectorIndex::create(z.d, io);
    const int64_t train_rows = std::min<int64_t>(z.n, 64 * std::max<int64_t>(io.nlist, 1));
    std::vector<float> sample;
    if (train_rows < z.n) {
      sample.reserve(train_rows * z.d);
      for (int64_t i = 0; i < train_rows; ++i) {
        const float* r = z.row(i * z.n / train_rows);
        sample.insert(sample.end(), r, r + z.d);
      }
    }
    index->train(sample.empty() ? z.x.data() : sample.data(), train_rows);
    index->reserve(z.n);
    index->add(z.x.data(), z.n);
  }
  std::vector<int64_t> bi;
  std::vector<double> bd;
  std::vector<float> fs;
  for (int64_t r0 = 0; r0 < z.n; r0 += block) {
    const int64_t nb = std::min(block, z.n - r0);
    Features q{nb, z.d, std::vector<float>(z.x.begin() + r0 * z.d, z.x.begin() + (r0 + nb) * z.d)};
    if (index) {
      bi.assign(nb * (k + 1), -1);
      fs.assign(nb * (k + 1), 0);
      index->search(q.x.data(), nb, k + 1, fs.data(), bi.data());
      bd.assign(fs.begin(), fs.end());
      for (auto& v : bd) v = std::sqrt(std::max(0.0, v));  // squared L2 from the index
    } else {
      knn_search(z, q, k + 1, &bi, &bd);
    }
    for (int64_t i = 0; i < nb; ++i) {
      int64_t out = 0;
      for (int j = 0; j <= k && out < k; ++j) {
        int64_t nbr = bi[i * (k + 1) + j];
        if (nbr == r0 + i || nbr < 0) continue;
        nn[(r0 + i) * k + out] = nbr, dist[(r0 + i) * k + out] = bd[i * (k + 1) + j], ++out;
      }
      for (; out < k; ++out)  // an approximate index that returned too few: repeat the farthest found
        nn[(r0 + i) * k + out] = nn[(r0 + i) * k + out - 1], dist[(r0 + i) * k + out] = dist[(r0 + i) * k + out - 1];
    }
    if (progress) progress(r0 + nb);
  }
  std::vector<double> score(x.n);
  if (o.method == "knn") {
    for (int64_t i = 0; i < x.n; ++i) score[i] = std::accumulate(dist.begin() + i * k, dist.begin() + (i + 1) * k, 0.0) / k;
    return score;
  }
  // LOF: reach(p, o) = max(k-distance(o), d(p, o)); lrd(p) = 1 / mean reach(p, .);
  // LOF(p) = mean over neighbours o of lrd(o) / lrd(p). The 1e-10 is scikit-learn's guard.
  std::vector<double> lrd(x.n);
  for (int64_t i = 0; i < x.n; ++i) {
    double sum = 0;
    for (int j = 0; j < k; ++j) sum += std::max(dist[nn[i * k + j] * k + k - 1], dist[i * k + j]);
    lrd[i] = 1.0 / (sum / k + 1e-10);
  }
  for (int64_t i = 0; i < x.n; ++i) {
    double sum = 0;
    for (int j = 0; j < k; ++j) sum += lrd[nn[i * k + j]];
    score[i] = sum / k / lrd[i];
  }
  return score;
}

std::vector<std::string> acquisition_kinds() { return {"top", "uncertain", "mix"}; }

std::vector<int64_t> next_to_label(const std::vector<double>& scores, const std::vector<int8_t>& labels, int64_t n,
                                   const std::string& acquisition) {
  auto kinds = acquisition_kinds();
  if (std::find(kinds.begin(), kinds.end(), acquisition) == kinds.end())
    fail_usage("discover: acquisition {}: top, uncertain or mix", acquisition);
  if (labels.size() != scores.size()) fail_input("discover: {} labels for {} scores", labels.size(), scores.size());
  std::vector<int64_t> free;
  double sum[3] = {0, 0, 0};
  int64_t count[3] = {0, 0, 0};
  for (size_t i = 0; i < scores.size(); ++i) {
    int c = labels[i] == 1 ? 1 : labels[i] == 0 ? 0 : 2;
    sum[c] += scores[i], ++count[c];
    if (c == 2) free.push_back(static_cast<int64_t>(i));
  }
  n = std::min<int64_t>(n, static_cast<int64_t>(free.size()));
  auto by_score = [&](int64_t a, int64_t b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); };
  std::vector<int64_t> top = free;
  std::sort(top.begin(), top.end(), by_score);
  if (acquisition == "top") return {top.begin(), top.begin() + n};
  const double hi = count[1] ? sum[1] / count[1] : top.empty() ? 0 : scores[top.front()];
  const double lo = count[0] ? sum[0] / count[0] : count[2] ? sum[2] / count[2] : 0;
  const double boundary = (hi + lo) / 2;
  std::vector<int64_t> near = free;
  std::sort(near.begin(), near.end(), [&](int64_t a, int64_t b) {
    double da = std::abs(scores[a] - boundary), db = std::abs(scores[b] - boundary);
    return da < db || (da == db && a < b);
  });
  if (acquisition == "uncertain") return {near.begin(), near.begin() + n};
  std::vector<int64_t> out;
  std::vector<char> taken(scores.size(), 0);
  size_t it = 0, iu = 0;
  while (static_cast<int64_t>(out.size()) < n) {  // alternate: top first
    auto& src = out.size() % 2 == 0 ? top : near;
    auto& pos = out.size() % 2 == 0 ? it : iu;
    while (pos < src.size() && taken[src[pos]]) ++pos;
    if (pos == src.size()) {
      auto& other = out.size() % 2 == 0 ? near : top;
      auto& opos = out.size() % 2 == 0 ? iu : it;
      while (opos < other.size() && taken[other[opos]]) ++opos;
      if (opos == other.size()) break;
      taken[other[opos]] = 1, out.push_back(other[opos]);
      continue;
    }
    taken[src[pos]] = 1, out.push_back(src[pos]);
  }
  return out;
}

nlohmann::json RankingMetrics::to_json() const {
  return {{"average_precision", average_precision}, {"precision_at_20", precision_at_20}, {"ndcg_at_10", ndcg_at_10},
          {"recall_at_100", recall_at_100}, {"positives", positives}, {"objects", objects}};
}

RankingMetrics ranking_metrics(const std::vector<double>& scores, const std::vector<int8_t>& truth) {
  if (scores.size() != truth.size()) fail_input("ranking metrics: {} scores for {} labels", scores.size(), truth.size());
  RankingMetrics m;
  m.objects = static_cast<int64_t>(scores.size());
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); });
  for (auto t : truth) m.positives += t == 1;
  if (m.positives == 0) return m;
  int64_t hits = 0;
  double ap = 0, dcg = 0, idcg = 0;
  for (size_t r = 0; r < order.size(); ++r) {
    bool pos = truth[order[r]] == 1;
    if (pos) ++hits, ap += static_cast<double>(hits) / (r + 1);
    if (r < 10) {
      if (pos) dcg += 1 / std::log2(r + 2.0);
      if (static_cast<int64_t>(r) < m.positives) idcg += 1 / std::log2(r + 2.0);
    }
    if (r + 1 == 20) m.precision_at_20 = hits / 20.0;
    if (r + 1 == 100) m.recall_at_100 = static_cast<double>(hits) / m.positives;
  }
  if (order.size() < 20) m.precision_at_20 = static_cast<double>(hits) / 20.0;
  if (order.size() < 100) m.recall_at_100 = 1;
  m.average_precision = ap / m.positives;
  m.ndcg_at_10 = dcg / idcg;
  return m;
}

}  // namespace astrofm

namespace astrofm {

Features canonical_pixels(const Features& images, int64_t C, int64_t H, int64_t W) {
  if (C < 1 || H < 2 || W < 2 || images.d != C * H * W)
    fail_input("canonical pixels: rows of {} values are not cutouts of {} x {} x {}", images.d, C, H, W);
  Features out{images.n, images.d, std::vector<float>(images.x.size())};
  const double cy = (H - 1) / 2.0, cx = (W - 1) / 2.0;
  std::vector<double> L(H * W), tmp;
  for (int64_t n = 0; n < images.n; ++n) {
    const float* im = images.row(n);
    float* o = out.x.data() + n * images.d;
    // Light above the median of the summed bands, its centroid and second moments.
    for (int64_t p = 0; p < H * W; ++p) {
      double s = 0;
      for (int64_t c = 0; c < C; ++c) s += im[c * H * W + p];
      L[p] = s;
    }
    tmp = L;
    std::nth_element(tmp.begin(), tmp.begin() + tmp.size() / 2, tmp.end());
    const double med = tmp[tmp.size() / 2];
    double w = 0, mx = 0, my = 0;
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        double v = std::max(0.0, L[y * W + x] - med);
        w += v, mx += v * (x - cx), my += v * (y - cy);
      }
    double theta = 0;
    if (w > 0) {
      mx /= w, my /= w;
      double cxx = 0, cyy = 0, cxy = 0;
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          double v = std::max(0.0, L[y * W + x] - med), dx = x - cx - mx, dy = y - cy - my;
          cxx += v * dx * dx, cyy += v * dy * dy, cxy += v * dx * dy;
        }
      theta = 0.5 * std::atan2(2 * cxy, cxx - cyy);  // the major axis' angle from x
    }
    // Output pixel (x, y) samples the input at its position rotated by theta about the centre.
    const double c = std::cos(theta), s = std::sin(theta);
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        double u = x - cx, v = y - cy;
        double sx = std::clamp(cx + c * u - s * v, 0.0, W - 1.0), sy = std::clamp(cy + s * u + c * v, 0.0, H - 1.0);
        int64_t x0 = std::min<int64_t>(static_cast<int64_t>(sx), W - 2), y0 = std::min<int64_t>(static_cast<int64_t>(sy), H - 2);
        double fx = sx - x0, fy = sy - y0;
        for (int64_t ch = 0; ch < C; ++ch) {
          const float* b = im + ch * H * W;
          o[ch * H * W + y * W + x] = static_cast<float>((1 - fy) * ((1 - fx) * b[y0 * W + x0] + fx * b[y0 * W + x0 + 1]) +
                                                         fy * ((1 - fx) * b[(y0 + 1) * W + x0] + fx * b[(y0 + 1) * W + x0 + 1]));
        }
      }
    // Mirror: the brighter half left, then the brighter half on top.
    double left = 0, right = 0, top = 0, bottom = 0;
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          double v = o[ch * H * W + y * W + x];
          if (x < W / 2) left += v;
          else if (x >= W - W / 2) right += v;
          if (y < H / 2) top += v;
          else if (y >= H - H / 2) bottom += v;
        }
    if (right > left)
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t y = 0; y < H; ++y) std::reverse(o + ch * H * W + y * W, o + ch * H * W + (y + 1) * W);
    if (bottom > top)
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t y = 0; y < H / 2; ++y)
          std::swap_ranges(o + ch * H * W + y * W, o + ch * H * W + (y + 1) * W, o + ch * H * W + (H - 1 - y) * W);
    // Unit total light: a faint merger and a bright one look alike.
    double total = 0;
    for (int64_t i = 0; i < images.d; ++i) total += o[i];
    if (total > 0)
      for (int64_t i = 0; i < images.d; ++i) o[i] = static_cast<float>(o[i] / total);
  }
  return out;
}

}  // namespace astrofm

// SPDX-License-Identifier: MIT
// Clique enumeration of the interaction graph with exact verification of every clique.
//
// Every minimum's support is a clique of the graph with edges ||xi_mu - xi_nu|| < 2R, and a
// pattern closer than R to c_S is within 2R of every member: the non-member test only needs
// the common neighbourhood C(S) of the clique. Each clique is visited once, from its smallest
// member (the anchor), by a DFS that adds members in increasing order. Inside an anchor the
// vertices are renumbered 0..L-1 (the anchor's neighbourhood, in global order), sets are
// bitsets and the distances ||c_S - y_nu||^2 = q/k^2 - 2 t_nu/k + g_nu come from running Gram
// sums, so a DFS node costs O(|C(S)| + |S|) plus one bitset AND.
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

#include "denseam/error.hpp"
#include "engine/distance.hpp"
#include "engine/parallel.hpp"
#include "minima/lsr_common.hpp"

namespace denseam::minima_detail {

namespace {

constexpr double edge_slack = 1e-9;

// ---- interaction graph ------------------------------------------------------------------

}  // namespace

std::unique_ptr<detail::range_index<double>> pattern_index(const pattern_set& ps,
                                                           const exec_options& exec) {
    // Automatic: the k-d tree up to d = 16 (its range searches of radius 2R and the basin
    // radii's nearest/farthest searches beat the O(n^2 d) pairs there: bench/bench_index).
    const index_kind kind = exec.index != index_kind::automatic ? exec.index
                            : ps.n >= 1024 && ps.dim <= 16      ? index_kind::kdtree
                                                                : index_kind::brute;
    if (kind == index_kind::brute) return nullptr;
    return std::make_unique<detail::range_index<double>>(
        matrix_view<const double>(ps.x.data(), ps.n, ps.dim), kind, exec);
}

std::vector<std::vector<std::int32_t>> interaction_graph(const pattern_set& ps,
                                                         double r2,
                                                         const exec_options& exec,
                                                         bool* interrupted,
                                                         const detail::range_index<double>* index,
                                                         const anchor_share& share) {
    const std::int64_t n = ps.n, d = ps.dim;
    const double thr = 4.0 * r2 * (1.0 + edge_slack);
    std::vector<std::vector<std::int32_t>> adj(static_cast<std::size_t>(n));
    // Rows are independent (each writes its own list), in fixed blocks of `rows_per_block`;
    // long rows (O(n d) each) poll the interrupt between rows.
    detail::parallel_options opt;
    opt.max_threads = n < 256 ? 1 : 0;  // tiny graphs are not worth a thread team
    opt.throw_on_interrupt = interrupted == nullptr;
    auto rows = [&](std::int64_t rows_per_block, bool poll_rows, auto&& row_fn) {
        const std::int64_t n_blocks = (n + rows_per_block - 1) / rows_per_block;
        const auto st = detail::parallel_for(
            n_blocks, exec, opt, [&](std::int64_t b, detail::loop_control& ctl) {
                const std::int64_t end = std::min(n, (b + 1) * rows_per_block);
                for (std::int64_t i = b * rows_per_block; i < end; ++i) {
                    if (!share.owns(i)) continue;  // another process builds this row
                    if (poll_rows && ctl.poll()) return;
                    row_fn(i);
                }
            });
        if (interrupted != nullptr) *interrupted = st == detail::loop_status::interrupted;
    };
    if (index != nullptr) {
        // One range search per row: the index reports sq_dist(xi_i, xi_j) < thr, the same
        // test as the scan below.
        rows(64, false, [&](std::int64_t i) {
            std::vector<std::int64_t> cand;
            index->within(ps.row(i), thr, cand, nullptr);
            auto& row = adj[static_cast<std::size_t>(i)];
            for (std::int64_t j : cand)
                if (j != i) row.push_back(static_cast<std::int32_t>(j));
        });
    } else {
        // Full rows (not half): each row is computed independently, and (a-b)^2 = (b-a)^2
        // exactly, so the graph is symmetric.
        rows(16, true, [&](std::int64_t i) {
            auto& row = adj[i];
            const double* xi = ps.row(i);
            for (std::int64_t j = 0; j < n; ++j)
                if (j != i && detail::sq_dist(xi, ps.row(j), d) < thr)
                    row.push_back(static_cast<std::int32_t>(j));
        });
    }
    if (share.complete_graph) share.complete_graph(adj);
    return adj;
}

std::int64_t count_cliques_capped(const std::vector<std::vector<std::int32_t>>& adj,
                                  std::int64_t cap) {
    const std::size_t n = adj.size();
    if (n > 64) return cap + 1;
    std::vector<std::uint64_t> a(n, 0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::int32_t j : adj[i]) a[i] |= std::uint64_t{1} << j;
    std::int64_t count = 0;
    // Explicit stack of candidate sets (bits above the last member).
    std::vector<std::uint64_t> stack;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t above = i + 1 >= 64 ? 0 : (~std::uint64_t{0} << (i + 1));
        stack.push_back(a[i] & above);
        ++count;
        while (!stack.empty()) {
            if (count > cap) return cap + 1;
            std::uint64_t& top = stack.back();
            if (top == 0) {
                stack.pop_back();
                continue;
            }
            const int p = std::countr_zero(top);
            top &= top - 1;
            const std::uint64_t cur = top;  // remaining candidates above p at this level
            ++count;
            stack.push_back(cur & a[p]);
        }
    }
    return count;
}

namespace {

struct anchor_output {
    std::vector<std::int64_t> offsets{0};
    std::vector<std::int64_t> indices;
    std::int64_t candidates = 0;
    bool complete = false;
};

class anchor_search {
  public:
    anchor_search(const pattern_set& ps,
                  const std::vector<std::vector<std::int32_t>>& adj,
                  double r2,
                  std::int64_t budget,
                  int row_cache_limit)
        : ps_(ps), adj_(adj), r2_(r2), budget_(budget), row_cache_limit_(row_cache_limit) {}

    void run(std::int64_t anchor, anchor_output& out, detail::loop_control& ctl) {
        out_ = &out;
        ctl_ = &ctl;
        aborted_ = false;
        setup(anchor);
        // Root: S = {anchor}; y_anchor = 0, so t = 0 and q = 0.
        ensure_depth(0);
        std::fill(t_[0].begin(), t_[0].end(), 0.0);
        std::fill(c_[0].begin(), c_[0].end(), 0);
        for (int l = 0; l < L_; ++l)
            if (l != pa_) c_[0][l >> 6] |= std::uint64_t{1} << (l & 63);
        members_.assign(1, pa_);
        dfs(0, pa_, wl_[pa_], 0.0);
        out.complete = !aborted_;
    }

  private:
    void setup(std::int64_t a) {
        const auto& nb = adj_[a];
        v_.clear();
        v_.reserve(nb.size() + 1);
        bool placed = false;
        for (std::int32_t j : nb) {
            if (!placed && j > a) {
                pa_ = static_cast<int>(v_.size());
                v_.push_back(a);
                placed = true;
            }
            v_.push_back(j);
        }
        if (!placed) {
            pa_ = static_cast<int>(v_.size());
            v_.push_back(a);
        }
        L_ = static_cast<int>(v_.size());
        W_ = (L_ + 63) / 64;
        const std::int64_t d = ps_.dim;
        y_.resize(static_cast<std::size_t>(L_) * d);
        gd_.resize(static_cast<std::size_t>(L_));
        wl_.resize(static_cast<std::size_t>(L_));
        const double* xa = ps_.row(a);
        gmax_ = 0.0;
        for (int l = 0; l < L_; ++l) {
            const double* xl = ps_.row(v_[l]);
            double s = 0.0;
            for (std::int64_t j = 0; j < d; ++j) {
                const double t = xl[j] - xa[j];
                y_[l * d + j] = t;
                s += t * t;
            }
            gd_[l] = s;
            gmax_ = std::max(gmax_, s);
            wl_[l] = ps_.w[v_[l]];
        }
        cache_rows_ = L_ <= row_cache_limit_;
        if (cache_rows_) {
            g_.resize(static_cast<std::size_t>(L_) * L_);
            g_done_.assign(static_cast<std::size_t>(L_), 0);
            adjb_.resize(static_cast<std::size_t>(L_) * W_);
            adj_done_.assign(static_cast<std::size_t>(L_), 0);
        }
        tol_ = recheck_tol(r2_, gmax_);
        for (auto& t : t_) t.resize(static_cast<std::size_t>(L_));
        for (auto& c : c_) c.resize(static_cast<std::size_t>(W_));
        scratch_g_.clear();  // per-level rows, only without the cache (sized on first use)
        scratch_adj_.clear();
    }

    void ensure_depth(int depth) {
        while (static_cast<int>(t_.size()) <= depth) {
            t_.emplace_back(static_cast<std::size_t>(L_));
            c_.emplace_back(static_cast<std::size_t>(W_));
        }
    }

    void fill_gram_row(int p, double* row) const {
        const std::int64_t d = ps_.dim;
        const double* yp = y_.data() + static_cast<std::size_t>(p) * d;
        for (int l = 0; l < L_; ++l) {
            const double* yl = y_.data() + static_cast<std::size_t>(l) * d;
            double s = 0.0;
            for (std::int64_t j = 0; j < d; ++j) s += yp[j] * yl[j];
            row[l] = s;
        }
    }

    // Local adjacency of p: the global neighbour list of v[p] intersected with v (both sorted).
    void fill_adj_row(int p, std::uint64_t* row) const {
        std::fill(row, row + W_, 0);
        const auto& nb = adj_[v_[p]];
        std::size_t i = 0;
        for (int l = 0; l < L_ && i < nb.size(); ++l) {
            while (i < nb.size() && nb[i] < v_[l]) ++i;
            if (i < nb.size() && nb[i] == v_[l]) row[l >> 6] |= std::uint64_t{1} << (l & 63);
        }
    }

    const double* gram_row(int p, int depth) {
        if (cache_rows_) {
            double* row = g_.data() + static_cast<std::size_t>(p) * L_;
            if (!g_done_[p]) {
                fill_gram_row(p, row);
                g_done_[p] = 1;
            }
            return row;
        }
        if (static_cast<int>(scratch_g_.size()) <= depth) scratch_g_.resize(depth + 1);
        scratch_g_[depth].resize(static_cast<std::size_t>(L_));
        fill_gram_row(p, scratch_g_[depth].data());
        return scratch_g_[depth].data();
    }

    const std::uint64_t* adj_row(int p, int depth) {
        if (cache_rows_) {
            std::uint64_t* row = adjb_.data() + static_cast<std::size_t>(p) * W_;
            if (!adj_done_[p]) {
                fill_adj_row(p, row);
                adj_done_[p] = 1;
            }
            return row;
        }
        if (static_cast<int>(scratch_adj_.size()) <= depth) scratch_adj_.resize(depth + 1);
        scratch_adj_[depth].resize(static_cast<std::size_t>(W_));
        fill_adj_row(p, scratch_adj_[depth].data());
        return scratch_adj_[depth].data();
    }

    void verify(int depth, double k, double q) {
        const double ik = 1.0 / k;
        const double base = q * ik * ik;
        const double c2 = 2.0 * ik;
        const double* t = t_[depth].data();
        bool ambiguous = false;
        if (depth > 0) {
            for (int i = 0; i <= depth; ++i) {
                const int mu = members_[i];
                const double v = base - c2 * t[mu] + gd_[mu];
                if (v >= r2_ + tol_) return;
                if (v > r2_ - tol_) ambiguous = true;
            }
        }
        const std::uint64_t* c = c_[depth].data();
        for (int wd = 0; wd < W_; ++wd) {
            std::uint64_t bits = c[wd];
            while (bits) {
                const int nu = (wd << 6) + std::countr_zero(bits);
                bits &= bits - 1;
                const double v = base - c2 * t[nu] + gd_[nu];
                if (v <= r2_ - tol_) return;
                if (v < r2_ + tol_) ambiguous = true;
            }
        }
        subset_.clear();
        for (int i = 0; i <= depth; ++i) subset_.push_back(v_[members_[i]]);
        if (ambiguous && !direct_is_minimum(ps_, subset_, r2_)) return;
        out_->indices.insert(out_->indices.end(), subset_.begin(), subset_.end());
        out_->offsets.push_back(static_cast<std::int64_t>(out_->indices.size()));
    }

    void dfs(int depth, int last, double k, double q) {
        ++out_->candidates;
        if ((out_->candidates & 4095) == 0 && ctl_->poll()) {
            aborted_ = true;
            return;
        }
        if (budget_ > 0 && out_->candidates > budget_) {
            aborted_ = true;
            return;
        }
        verify(depth, k, q);
        ensure_depth(depth + 1);
        const std::uint64_t* c = c_[depth].data();
        const double* t = t_[depth].data();
        const int first_word = (last + 1) >> 6;
        for (int wd = first_word; wd < W_; ++wd) {
            std::uint64_t bits = c[wd];
            if (wd == first_word) {
                const int sh = (last + 1) & 63;
                bits = sh == 0 ? bits : (bits & (~std::uint64_t{0} << sh));
            }
            while (bits) {
                const int p = (wd << 6) + std::countr_zero(bits);
                bits &= bits - 1;
                const std::uint64_t* ap = adj_row(p, depth + 1);
                std::uint64_t* cn = c_[depth + 1].data();
                int pop = 0;
                for (int w2 = 0; w2 < W_; ++w2) {
                    cn[w2] = c[w2] & ap[w2];
                    pop += std::popcount(cn[w2]);
                }
                const double* gp = gram_row(p, depth + 1);
                const double wp = wl_[p];
                double* tn = t_[depth + 1].data();
                if (pop * 8 > L_) {
                    for (int l = 0; l < L_; ++l) tn[l] = t[l] + wp * gp[l];
                } else {
                    for (int w2 = 0; w2 < W_; ++w2) {
                        std::uint64_t b2 = cn[w2];
                        while (b2) {
                            const int nu = (w2 << 6) + std::countr_zero(b2);
                            b2 &= b2 - 1;
                            tn[nu] = t[nu] + wp * gp[nu];
                        }
                    }
                    for (int i = 0; i <= depth; ++i) {
                        const int mu = members_[i];
                        tn[mu] = t[mu] + wp * gp[mu];
                    }
                    tn[p] = t[p] + wp * gp[p];
                }
                const double qn = q + 2.0 * wp * t[p] + wp * wp * gd_[p];
                members_.push_back(p);
                dfs(depth + 1, p, k + wp, qn);
                members_.pop_back();
                if (aborted_) return;
            }
        }
    }

    const pattern_set& ps_;
    const std::vector<std::vector<std::int32_t>>& adj_;
    double r2_;
    std::int64_t budget_;
    int row_cache_limit_;
    detail::loop_control* ctl_ = nullptr;
    bool aborted_ = false;
    anchor_output* out_ = nullptr;

    std::vector<std::int64_t> v_;  // local -> global (distinct) index
    int L_ = 0, W_ = 0, pa_ = 0;
    std::vector<double> y_, gd_, wl_;
    double gmax_ = 0.0, tol_ = 0.0;
    bool cache_rows_ = true;
    std::vector<double> g_;
    std::vector<char> g_done_;
    std::vector<std::uint64_t> adjb_;
    std::vector<char> adj_done_;
    std::vector<std::vector<double>> t_;
    std::vector<std::vector<std::uint64_t>> c_;
    std::vector<std::vector<double>> scratch_g_;
    std::vector<std::vector<std::uint64_t>> scratch_adj_;
    std::vector<int> members_;
    std::vector<std::int64_t> subset_;
};

}  // namespace

clique_pass_result clique_pass(const pattern_set& ps,
                               double r2,
                               const std::vector<std::vector<std::int32_t>>& adj,
                               std::int64_t max_candidates,
                               const minima_progress& progress,
                               const exec_options& exec,
                               int row_cache_limit,
                               const anchor_share& share) {
    const std::int64_t n = ps.n;
    std::vector<anchor_output> outs(static_cast<std::size_t>(n));
    // Ordered completion tracking, so that a candidate limit cuts a deterministic prefix of
    // the anchors whatever the thread count: the limit stops the run only once the anchors
    // before the cut have all completed.
    std::mutex mu;
    std::vector<char> finished(static_cast<std::size_t>(n), 0);
    std::int64_t prefix = 0, prefix_candidates = 0;
    bool limit_hit = false;
    // Progress in completed anchors; an interrupt returns the anchors completed so far.
    detail::parallel_options opt;
    opt.max_threads = n < 32 ? 1 : 0;  // tiny graphs are not worth a thread team
    opt.progress = progress;
    opt.progress_total = n;
    opt.throw_on_interrupt = false;
    const detail::loop_status st = detail::parallel_for(
        n,
        exec,
        opt,
        [&] { return anchor_search(ps, adj, r2, max_candidates, row_cache_limit); },
        [&](anchor_search& search, std::int64_t a, detail::loop_control& ctl) {
            if (share.owns(a))
                search.run(a, outs[a], ctl);
            else
                outs[a].complete = true;  // another process examines this anchor
            if (outs[a].complete) ctl.add_done(1);
            std::lock_guard<std::mutex> lock(mu);
            finished[a] = 1;
            while (prefix < n && finished[prefix] && !limit_hit) {
                const anchor_output& o = outs[prefix];
                if (!o.complete) {
                    // Aborted: by its own budget (it is the cut) or by a stop request.
                    if (max_candidates > 0 && o.candidates > max_candidates) {
                        limit_hit = true;
                        ctl.request_stop();
                    }
                    break;
                }
                if (max_candidates > 0 && prefix_candidates + o.candidates > max_candidates) {
                    limit_hit = true;
                    ctl.request_stop();
                    break;
                }
                prefix_candidates += o.candidates;
                ++prefix;
            }
        });

    clique_pass_result res;
    res.candidates = prefix_candidates;
    if (prefix < n) {
        // Stopped: the minima are those of the completed prefix of anchors (deterministic). The
        // count is the real one: at a candidate limit, the limit (the anchors in order examined
        // that many, whatever the thread count); at an interrupt, every candidate examined on
        // every thread.
        std::int64_t examined = 0;
        for (const auto& o : outs) examined += o.candidates;
        res.candidates = limit_hit ? max_candidates : examined;
        if (limit_hit)
            res.status = minima_status::candidate_limit;
        else if (st == detail::loop_status::interrupted)
            res.status = minima_status::interrupted;
        else
            throw backend_error("minima enumeration stopped unexpectedly (out of memory?)");
    }
    for (std::int64_t a = 0; a < prefix; ++a) {
        const auto& o = outs[a];
        const std::int64_t base = static_cast<std::int64_t>(res.indices.size());
        res.indices.insert(res.indices.end(), o.indices.begin(), o.indices.end());
        for (std::size_t s = 1; s < o.offsets.size(); ++s)
            res.offsets.push_back(base + o.offsets[s]);
    }
    return res;
}

}  // namespace denseam::minima_detail

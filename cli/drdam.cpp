// SPDX-License-Identifier: MIT
// `denseam drdam`: the distributed memory (DrDAM) from the command line: build it from patterns
// (or load a saved one), remove patterns, save it, and compute approximate energies, gradients
// or gradient-descent retrievals of queries.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <optional>

#include "common.hpp"
#include "denseam/features.hpp"
#include "denseam/retrieval.hpp"
#include "io/files.hpp"
#include "io/format.hpp"
#include "io/json.hpp"
#include "retrieval/methods.hpp"
#include "retrieval_output.hpp"

namespace denseam::cli {

namespace {

using clock_type = std::chrono::steady_clock;

// Runs f(), naming the retrieval options in the library's messages as this command spells them.
template <class F>
auto with_retrieval_names(F&& f) -> decltype(f()) {
    return with_option_names({{"max_steps", "--steps"},
                              {"tol must", "--tol must"},
                              {"step size schedule", "--lr/--lr-end"},
                              {"noise schedule", "--noise"},
                              {"clamped coordinate", "--clamp coordinate"}},
                             std::forward<F>(f));
}

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

struct drdam_cli {
    // Files.
    std::string memories, load, remove, save, queries, out, grad, status_out, energy_out, json_out;
    // The feature map.
    std::string features = std::string(to_string(feature_params{}.kind));
    std::int64_t n_features = feature_params{}.n_features;
    double beta = 0.0;
    std::string beta_text;  // --beta as typed, for messages
    std::uint64_t seed = feature_params{}.seed;
    bool orthogonal = false, cache_projections = false;
    // Retrieval (the options of `denseam retrieve --method gradient`).
    bool retrieve = false;
    std::int64_t steps = retrieve_options{}.max_steps;
    double lr = retrieve_options{}.step_size.start;
    double lr_end = 0.0;
    double tol = retrieve_options{}.tol;
    double noise = retrieve_options{}.noise.start;
    std::uint64_t noise_seed = retrieve_options{}.seed;
    std::vector<std::int64_t> clamp;
    // Execution.
    std::string dtype = "auto";
    int threads = 0;
    bool progress = false, no_progress = false;

    // Which options were given on the command line.
    bool given_features = false, given_y = false, given_beta = false, given_seed = false,
         given_steps = false, given_lr = false, given_lr_end = false, given_tol = false,
         given_noise = false, given_noise_seed = false, given_clamp = false;

    // The map as given (defaults for what is not); beta = 1 stands in when it comes from --load.
    feature_params given_params() const {
        feature_params p;
        p.kind = with_option_names({{"feature map", "--features"}},
                                   [&] { return parse_feature_kind(features); });
        p.n_features = n_features;
        p.beta = given_beta ? beta : 1.0;
        p.seed = seed;
        p.orthogonal = orthogonal;
        with_option_names(
            {{"Y must", "--Y must"}, {"beta must", "--beta must"}, {"beta =", "--beta ="}},
            [&] { validate(p, 1); });
        return p;
    }

    retrieve_options retrieval() const {
        retrieve_options ro;
        ro.method = retrieval_method::gradient;
        ro.max_steps = steps;
        ro.tol = tol;
        ro.step_size = given_lr_end ? schedule::cosine(lr, lr_end) : schedule::constant(lr);
        ro.noise = schedule::constant(noise);
        ro.seed = noise_seed;
        ro.clamp = clamp;
        return ro;
    }

    // Every combination of options that cannot do what it says is refused before any file is
    // read.
    void check_combinations() const {
        if (memories.empty() && load.empty())
            throw invalid_argument(
                "give the patterns to store (--memories X.npy) or a saved memory (--load "
                "M.safetensors)");
        if (load.empty() && !given_beta)
            throw invalid_argument(
                "--beta is required to build a memory from --memories (it is part of the "
                "feature map)");
        const auto useless = [](const char* opt, const char* why) {
            throw invalid_argument(std::string(opt) + " has no effect " + why);
        };
        if (queries.empty()) {
            const char* why = "without --queries";
            if (!out.empty()) useless("--out", why);
            if (!grad.empty()) useless("--grad", why);
            if (!status_out.empty()) useless("--status", why);
            if (!energy_out.empty()) useless("--energy", why);
            if (retrieve) useless("--retrieve", why);
        }
        if (retrieve) {
            if (out.empty())
                throw invalid_argument("--retrieve needs --out (the retrieved states, .npy)");
            if (!grad.empty())
                useless("--grad", "with --retrieve (gradients are for the queries' energies)");
            if (given_noise_seed && !(noise != 0.0))
                useless("--noise-seed", "without --noise (it seeds the noise)");
        } else {
            const char* why = "without --retrieve";
            if (!energy_out.empty())
                useless("--energy", "without --retrieve (the queries' energies go to --out)");
            if (given_steps) useless("--steps", why);
            if (given_lr) useless("--lr", why);
            if (given_lr_end) useless("--lr-end", why);
            if (given_tol) useless("--tol", why);
            if (given_noise) useless("--noise", why);
            if (given_noise_seed) useless("--noise-seed", why);
            if (given_clamp) useless("--clamp", why);
        }
        if (dtype != "auto" && dtype != "float32" && dtype != "float64")
            throw invalid_argument("unknown --dtype '" + dtype + "' (auto, float32, float64)");
    }
};

// The memory described for the summary: the map, the count and the bytes of each design.
nlohmann::json describe(const distributed_memory& m) {
    const auto& p = m.params();
    const memory_footprint fp = footprint(m.size(), m.dim(), p);
    return {{"features", std::string(to_string(p.kind))},
            {"Y", p.n_features},
            {"n_projections", n_projections(p)},
            {"beta", p.beta},
            {"seed", p.seed},
            {"orthogonal", p.orthogonal},
            {"cache_projections", m.options().cache_projections},
            {"dim", m.dim()},
            {"size", m.size()},
            {"bytes",
             {{"held", m.bytes()},
              {"distributed", fp.distributed_bytes},
              {"explicit", fp.explicit_bytes},
              {"reference", fp.reference_bytes},
              {"break_even_patterns", fp.break_even_patterns}}}};
}

// Refuses a map option that contradicts the loaded memory's (one line naming both values).
void check_against_loaded(const drdam_cli& o,
                          const feature_params& given,
                          const distributed_memory& m) {
    const auto& p = m.params();
    const std::string file = "--load " + detail::in_quotes(o.load);
    const auto conflict = [&](const std::string& opt,
                              const std::string& ours,
                              const std::string& theirs) {
        throw invalid_argument(opt + " " + ours + " conflicts with " + file + ", whose map has " +
                               theirs + " (leave the option out to use the file's)");
    };
    if (o.given_features && given.kind != p.kind)
        conflict("--features", std::string(to_string(given.kind)), std::string(to_string(p.kind)));
    if (o.given_y && given.n_features != p.n_features)
        conflict("--Y", std::to_string(given.n_features), "Y = " + std::to_string(p.n_features));
    if (o.given_beta && given.beta != p.beta)
        conflict("--beta", o.beta_text, "beta = " + detail::shortest(p.beta));
    if (o.given_seed && given.seed != p.seed)
        conflict("--seed", std::to_string(given.seed), "seed = " + std::to_string(p.seed));
    if (o.orthogonal && !p.orthogonal)
        throw invalid_argument("--orthogonal conflicts with " + file +
                               ", whose map has i.i.d. (not orthogonal) projections (leave the "
                               "option out to use the file's)");
}

// Energies (and gradients, statuses) of the queries.
template <class T>
nlohmann::json run_energies(const drdam_cli& o,
                            const distributed_memory& m,
                            const loaded_matrix& qry,
                            detail::file_plan& files,
                            const exec_options& ex) {
    const std::vector<T> q = as_vector<T>(qry);
    const std::int64_t n = qry.rows(), d = qry.cols();
    std::vector<T> e(static_cast<std::size_t>(n)),
        g(o.grad.empty() ? 0 : static_cast<std::size_t>(n * d));
    std::vector<energy_status> st(static_cast<std::size_t>(n));
    const auto t0 = clock_type::now();
    m.energy_and_grad(make_matrix_view<const T>(q.data(), n, d),
                      std::span<T>(e),
                      o.grad.empty() ? matrix_view<T>{} : make_matrix_view(g.data(), n, d),
                      std::span(st),
                      ex);
    const double secs = seconds_since(t0);
    const std::int64_t shape_e[] = {n}, shape_g[] = {n, d};
    if (!o.out.empty()) files.set(o.out, to_npy_bytes(std::span<const T>(e), shape_e));
    if (!o.grad.empty()) files.set(o.grad, to_npy_bytes(std::span<const T>(g), shape_g));
    if (!o.status_out.empty()) {
        std::vector<std::uint8_t> s(st.size());
        for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(st[i]);
        files.set(o.status_out, to_npy_bytes(std::span<const std::uint8_t>(s), shape_e));
    }
    std::int64_t unsupported = 0, finite = 0;
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (std::size_t i = 0; i < e.size(); ++i) {
        unsupported += st[i] == energy_status::unsupported;
        if (std::isfinite(e[i])) {
            lo = std::min(lo, double(e[i]));
            hi = std::max(hi, double(e[i]));
            sum += e[i];
            ++finite;
        }
    }
    const auto num = [&](double v) { return finite ? nlohmann::json(v) : nlohmann::json(nullptr); };
    nlohmann::json j = {{"n_queries", n},
                        {"dtype", sizeof(T) == 4 ? "float32" : "float64"},
                        {"unsupported", unsupported},
                        {"energy_min", num(lo)},
                        {"energy_mean", num(finite ? sum / static_cast<double>(finite) : 0.0)},
                        {"energy_max", num(hi)},
                        {"seconds", secs}};
    if (!o.out.empty()) j["out"] = o.out;
    if (!o.grad.empty()) j["grad"] = o.grad;
    if (!o.status_out.empty()) j["status"] = o.status_out;
    return j;
}

// Gradient-descent retrieval from the queries.
template <class T>
nlohmann::json run_retrieval(const drdam_cli& o,
                             const distributed_memory& m,
                             const loaded_matrix& qry,
                             detail::file_plan& files,
                             const exec_options& ex) {
    const retrieve_options ro = o.retrieval();
    const std::vector<T> q = as_vector<T>(qry);
    const std::int64_t n = qry.rows(), d = qry.cols();
    const auto t0 = clock_type::now();
    auto r = with_retrieval_names(
        [&] { return m.retrieve<T>(make_matrix_view<const T>(q.data(), n, d), ro, ex); });
    const double secs = seconds_since(t0);
    const nlohmann::json counts =
        set_retrieval_outputs(r, n, d, o.out, o.energy_out, o.status_out, files);
    nlohmann::json j = {{"n_queries", n},
                        {"dtype", sizeof(T) == 4 ? "float32" : "float64"},
                        {"method", "gradient"},
                        {"steps", ro.max_steps},
                        {"status_counts", counts["status_counts"]},
                        {"mean_steps", counts["mean_steps"]},
                        {"seconds", secs},
                        {"out", o.out}};
    if (!o.energy_out.empty()) j["energy"] = o.energy_out;
    if (!o.status_out.empty()) j["status"] = o.status_out;
    return j;
}

int run(drdam_cli& o) {
    const auto t_start = clock_type::now();
    o.check_combinations();
    const feature_params given = o.given_params();
    if (o.retrieve) {
        // The options alone, before any file is read (the clamp's upper bound needs the
        // dimension: checked once it is known).
        for (auto c : o.clamp)
            if (c < 0)
                throw invalid_argument("--clamp coordinate " + std::to_string(c) + " is negative");
        with_retrieval_names([&] {
            detail::check_retrieve_options(o.retrieval(), std::numeric_limits<std::int64_t>::max());
        });
    }
    exec_options ex = make_exec(o.threads);

    // Every file is checked before anything is read, computed or written.
    detail::file_plan files;
    if (!o.memories.empty()) files.input("--memories", o.memories);
    if (!o.load.empty()) files.input("--load", o.load);
    if (!o.remove.empty()) files.input("--remove", o.remove);
    if (!o.queries.empty()) files.input("--queries", o.queries);
    if (!o.out.empty()) files.output("--out", o.out);
    if (!o.grad.empty()) files.output("--grad", o.grad);
    if (!o.status_out.empty()) files.output("--status", o.status_out);
    if (!o.energy_out.empty()) files.output("--energy", o.energy_out);
    if (!o.save.empty()) files.output("--save", o.save);
    if (!o.json_out.empty()) files.output("--json", o.json_out);

    // Read and check every input before the work.
    std::optional<loaded_matrix> mem, rem, qry;
    if (!o.memories.empty()) mem = load_matrix(o.memories, "memories");
    if (!o.remove.empty()) rem = load_matrix(o.remove, "--remove patterns");
    if (!o.queries.empty()) qry = load_matrix(o.queries, "queries");
    distributed_options dopt;
    dopt.cache_projections = o.cache_projections;
    const auto t_build = clock_type::now();
    std::optional<distributed_memory> m;
    if (!o.load.empty()) {
        m.emplace(distributed_memory::load(o.load, dopt));
        check_against_loaded(o, given, *m);
    }
    const std::int64_t dim = m ? m->dim() : mem->cols();
    const std::string dim_source =
        m ? "the memory " + detail::in_quotes(o.load) : "memories " + detail::in_quotes(o.memories);
    const auto check_dim = [&](const std::optional<loaded_matrix>& x, const char* what) {
        if (x && x->cols() != dim)
            throw invalid_argument(std::string(what) + " " + detail::in_quotes(x->path) +
                                   " have dimension " + std::to_string(x->cols()) + " but " +
                                   dim_source + " has dimension " + std::to_string(dim));
    };
    check_dim(mem, "memories");
    check_dim(rem, "--remove patterns");
    check_dim(qry, "queries");
    for (auto c : o.clamp)
        if (c >= dim)
            throw invalid_argument("--clamp coordinate " + std::to_string(c) +
                                   " is out of range for dimension " + std::to_string(dim));
    const bool float32 =
        o.dtype == "float32" ||
        (o.dtype == "auto" && qry && qry->array.is_float32 && (!mem || mem->array.is_float32));

    const int n_stages = std::max(1, (mem ? 1 : 0) + (rem ? 1 : 0) + (qry ? 1 : 0));
    const bool show = !o.no_progress && (o.progress || isatty(STDERR_FILENO));
    progress_bar bar(show, n_stages, "stages");
    int stage = 0;
    std::string stage_name;
    const auto begin_stage = [&](std::string what) {
        stage_name = std::move(what);
        bar.update(stage, stage_name, true);
    };
    ex.interrupt = [&] {
        bar.update(stage, stage_name);
        return false;
    };

    std::int64_t added = 0, removed = 0;
    double build_secs = 0;
    nlohmann::json j, timings;
    try {
        if (!m)
            m.emplace(
                dim,
                [&] {
                    feature_params p = given;
                    p.beta = o.beta;
                    return p;
                }(),
                dopt);
        if (mem) {
            begin_stage("adding " + std::to_string(mem->rows()) + " patterns");
            const std::string name = "memories " + detail::in_quotes(mem->path);
            with_option_names({{"patterns", name}}, [&] {
                if (mem->array.is_float32)
                    m->add(mem->array.matrix_f32(name), ex);
                else
                    m->add(mem->array.matrix_f64(name), ex);
            });
            added = mem->rows();
            ++stage;
        }
        if (rem) {
            if (rem->rows() > m->size())
                throw invalid_argument("--remove " + detail::in_quotes(rem->path) + " has " +
                                       std::to_string(rem->rows()) +
                                       " patterns but the memory holds " +
                                       std::to_string(m->size()));
            begin_stage("removing " + std::to_string(rem->rows()) + " patterns");
            const std::string name = "--remove " + detail::in_quotes(rem->path);
            with_option_names({{"patterns", name}}, [&] {
                if (rem->array.is_float32)
                    m->remove(rem->array.matrix_f32(name), ex);
                else
                    m->remove(rem->array.matrix_f64(name), ex);
            });
            removed = rem->rows();
            ++stage;
        }
        build_secs = seconds_since(t_build);

        j = describe(*m);
        j["mode"] = qry ? (o.retrieve ? "retrieve" : "energy") : "build";
        if (mem) j["memories"] = o.memories;
        if (!o.load.empty()) j["load"] = o.load;
        if (rem) j["remove"] = o.remove;
        j["added"] = added;
        j["removed"] = removed;
        timings = {{"build", build_secs}};
        if (qry) {
            begin_stage(o.retrieve ? "retrieving " + std::to_string(qry->rows()) + " queries"
                                   : "energies of " + std::to_string(qry->rows()) + " queries");
            nlohmann::json r = o.retrieve
                                   ? (float32 ? run_retrieval<float>(o, *m, *qry, files, ex)
                                              : run_retrieval<double>(o, *m, *qry, files, ex))
                                   : (float32 ? run_energies<float>(o, *m, *qry, files, ex)
                                              : run_energies<double>(o, *m, *qry, files, ex));
            timings[o.retrieve ? "retrieve" : "energy"] = r["seconds"];
            r.erase("seconds");
            j["queries"] = o.queries;
            j.update(r);
            ++stage;
        }
        if (!o.save.empty()) {
            const auto t_save = clock_type::now();
            files.set(o.save, m->to_bytes());
            timings["save"] = seconds_since(t_save);
            j["save"] = o.save;
        }
    } catch (...) {
        bar.clear_line();  // the error message gets the line
        throw;
    }
    bar.update(stage, "done", true);
    bar.finish();
    timings["total"] = seconds_since(t_start);
    j["timings"] = timings;
    if (!o.json_out.empty()) files.set(o.json_out, j.dump(2) + "\n");
    files.commit();  // every output, or none
    print_json(j);
    return exit_ok;
}

}  // namespace

run_fn add_drdam(CLI::App& sub) {
    auto o = std::make_shared<drdam_cli>();
    sub.add_option("--memories,-m", o->memories, "Patterns to store, .npy (M x d)");
    sub.add_option("--load",
                   o->load,
                   "A saved distributed memory (.safetensors from --save) to start from; "
                   "--memories are then added to it");
    sub.add_option(
        "--remove", o->remove, "Patterns to remove after adding, .npy (R x d): T -= sum phi(r)");
    sub.add_option("--save", o->save, "Write the memory (T and its map) here, .safetensors");
    auto* o_features =
        sub.add_option("--features",
                       o->features,
                       "Random-feature map: fourier ((cos, sin) pairs), fourier-phase (cos with "
                       "random phases) or positive (exp, Performer)")
            ->capture_default_str();
    auto* o_y = sub.add_option("--Y,--n-features",
                               o->n_features,
                               "Number of features Y, the length of T (fourier: even)")
                    ->capture_default_str();
    auto* o_beta = sub.add_option("--beta,-b",
                                  o->beta,
                                  "Inverse temperature beta > 0 of the Gaussian kernel (required "
                                  "unless --load)");
    auto* o_seed =
        sub.add_option("--seed", o->seed, "Seed of the random projections")->capture_default_str();
    sub.add_flag("--orthogonal",
                 o->orthogonal,
                 "Orthogonal random features (groups of d orthogonal projections)");
    sub.add_flag("--cache-projections",
                 o->cache_projections,
                 "Keep the projections in memory (4 d Y bytes, half for fourier) instead of "
                 "regenerating them; same results");
    sub.add_option("--queries,-q", o->queries, "Queries / start states, .npy (B x d)");
    sub.add_flag("--retrieve",
                 o->retrieve,
                 "Retrieve by gradient descent on the approximate energy (else: energies)");
    sub.add_option("--out,-o",
                   o->out,
                   "Energies of the queries, .npy (B,); with --retrieve the retrieved states, "
                   ".npy (B x d)");
    sub.add_option("--grad,-g", o->grad, "Gradients of the queries' energies, .npy (B x d)");
    sub.add_option("--status",
                   o->status_out,
                   "Per-query status, .npy uint8: energies 0 ok, 1 unsupported (<phi(x), T> <= "
                   "0, energy inf); --retrieve 0 converged, 1 max-steps, 2 out-of-support, 3 "
                   "non-finite");
    sub.add_option(
        "--energy", o->energy_out, "--retrieve: energies of the retrieved states, .npy (B,)");
    auto* o_steps =
        sub.add_option("--steps", o->steps, "--retrieve: gradient steps")->capture_default_str();
    auto* o_lr = sub.add_option("--lr",
                                o->lr,
                                "--retrieve: step size (start of the cosine schedule with "
                                "--lr-end)")
                     ->capture_default_str();
    auto* o_lr_end = sub.add_option(
        "--lr-end", o->lr_end, "--retrieve: final step size of a cosine-decay schedule");
    auto* o_tol =
        sub.add_option("--tol", o->tol, "--retrieve: stop a query when max |dE/dx_i| < tol")
            ->capture_default_str();
    auto* o_noise =
        sub.add_option("--noise", o->noise, "--retrieve: noise sigma: x -= lr (grad + sigma n)")
            ->capture_default_str();
    auto* o_noise_seed =
        sub.add_option(
               "--noise-seed", o->noise_seed, "--retrieve: seed of the noise (--seed is the map's)")
            ->capture_default_str();
    auto* o_clamp = sub.add_option("--clamp",
                                   o->clamp,
                                   "--retrieve: clamped coordinates (pattern completion), e.g. "
                                   "0,1,2")
                        ->delimiter(',');
    sub.add_option("--dtype",
                   o->dtype,
                   "Precision of the queries' arithmetic: auto (float32 if the queries and "
                   "--memories are float32), float32, float64 (T is always float64)")
        ->capture_default_str();
    sub.add_option("--json", o->json_out, "Also write the JSON summary to this file");
    sub.add_option("--threads", o->threads, "OpenMP threads (0: all cores)")->capture_default_str();
    sub.add_flag("--progress", o->progress, "Progress on stderr even when it is not a terminal");
    sub.add_flag("--no-progress", o->no_progress, "No progress on stderr");
    sub.footer(
        "Prints a JSON summary on stdout (the map, size, bytes held vs explicit patterns vs a "
        "stored projection, timings, and the energies' or retrieval's summary). Exit codes: 0 "
        "ok, 1 runtime error, 2 bad input.\nExamples:\n"
        "  denseam drdam --memories X.npy --features fourier --Y 65536 --beta 2 --queries Q.npy "
        "--out E.npy\n"
        "  denseam drdam --memories X.npy --beta 2 --save M.safetensors\n"
        "  denseam drdam --load M.safetensors --queries Q.npy --retrieve --steps 500 --lr 0.1 "
        "--clamp 0,1 --out R.npy");
    return [o,
            o_features,
            o_y,
            o_beta,
            o_seed,
            o_steps,
            o_lr,
            o_lr_end,
            o_tol,
            o_noise,
            o_noise_seed,
            o_clamp]() {
        o->given_features = o_features->count() > 0;
        o->given_y = o_y->count() > 0;
        o->given_beta = o_beta->count() > 0;
        if (o->given_beta) o->beta_text = o_beta->results().back();
        o->given_seed = o_seed->count() > 0;
        o->given_steps = o_steps->count() > 0;
        o->given_lr = o_lr->count() > 0;
        o->given_lr_end = o_lr_end->count() > 0;
        o->given_tol = o_tol->count() > 0;
        o->given_noise = o_noise->count() > 0;
        o->given_noise_seed = o_noise_seed->count() > 0;
        o->given_clamp = o_clamp->count() > 0;
        return run(*o);
    };
}

}  // namespace denseam::cli

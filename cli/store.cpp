// SPDX-License-Identifier: MIT
// `denseam store`: a live memory store file (include/denseam/store.hpp): create it, add and
// remove patterns (stable ids), describe it, retrieve from it.
#include "denseam/store.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "denseam/index.hpp"
#include "io/files.hpp"
#include "retrieval_output.hpp"

namespace denseam::cli {

namespace {

constexpr const char* store_option = "STORE";

/// A progress bar for save()/load() in MiB, on stderr when asked or when stderr is a terminal.
struct io_progress {
    progress_bar bar;
    std::string what;
    io_progress(bool on, std::string label)
        : bar(on || isatty(STDERR_FILENO) != 0, 0, "MiB"), what(std::move(label)) {}
    store_progress callback() {
        return [this](std::int64_t done, std::int64_t total) {
            bar.set_total((total + (1 << 20) - 1) >> 20);
            bar.update(static_cast<double>(done) / (1 << 20), what, done == total);
        };
    }
    ~io_progress() { bar.clear_line(); }
};

memory_store load_store(const std::string& path, bool progress, const exec_options& ex) {
    io_progress p(progress, "loading " + path);
    return memory_store::load(path, p.callback(), ex);
}

void save_store(const memory_store& s, const std::string& path, bool progress) {
    io_progress p(progress, "saving " + path);
    s.save(path, p.callback());
}

/// The store path of add/remove/info/retrieve, declared as an input so that no output of the
/// command may be it. `written`: it is also replaced (add, remove), so it must be a regular file
/// (a link to one is followed: the path to write is returned), never a directory, FIFO or device.
std::string declare_store(detail::file_plan& files, const std::string& path, bool written) {
    const std::string target = written ? detail::resolve_output_path(store_option, path) : path;
    files.input(store_option, path);
    return target;
}

/// The library's invalid_argument for an update, with the store it was refused for.
template <class F>
auto naming_store(const std::string& path, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const invalid_argument& e) {
        throw invalid_argument("store '" + path + "': " + e.what());
    }
}

/// Everything store_info says, with the file's size when it exists.
nlohmann::json info_json(const memory_store& s, const std::string& path) {
    const store_info i = s.info();
    nlohmann::json j = {{"path", path},
                        {"size", i.size},
                        {"dim", i.dim},
                        {"next_id", i.next_id},
                        {"dtype", std::string(to_string(i.dtype))},
                        {"kernel", std::string(to_string(i.params.kernel))},
                        {"beta", i.params.beta},
                        {"eps", i.params.eps},
                        {"q", std::string(to_string(resolved_q(i.params)))},
                        {"index", std::string(to_string(i.index))},
                        {"index_used", std::string(to_string(i.index_used))},
                        {"bytes", i.bytes}};
    if (i.params.kernel == kernel_kind::poly) j["degree"] = i.params.degree;
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    j["file_bytes"] = ec ? nlohmann::json(nullptr) : nlohmann::json(size);
    return j;
}

/// Adds the rows of `x` (already checked: 2-D, finite) to `s`; returns their ids.
std::vector<std::int64_t> add_rows(memory_store& s,
                                   const loaded_matrix& x,
                                   const std::string& store_path,
                                   const exec_options& ex) {
    if (x.cols() != s.dim())
        throw invalid_argument("patterns '" + x.path + "' have dimension " +
                               std::to_string(x.cols()) + " but store '" + store_path +
                               "' has dimension " + std::to_string(s.dim()));
    return naming_store(store_path, [&] {
        if (x.array.is_float32) return s.add(x.array.matrix_f32("patterns"), ex);
        return s.add(x.array.matrix_f64("patterns"), ex);
    });
}

/// Ids from an integer .npy file (1-D).
std::vector<std::int64_t> read_ids(const std::string& path) {
    const npy_array a = read_npy(path);
    const char kind = a.descr.size() > 1 ? a.descr[1] : '?';
    if (kind != 'i' && kind != 'u')
        throw invalid_argument("--ids-file '" + path + "' must hold integer ids, got dtype '" +
                               a.descr + "'");
    if (a.shape.size() != 1)
        throw invalid_argument("--ids-file '" + path + "' must be a 1-D array of ids");
    std::vector<std::int64_t> ids;
    ids.reserve(a.f64.size());
    for (const double v : a.f64) {
        // Integers convert exactly below 2^53; no store reaches that many ids.
        if (!(std::abs(v) < 9007199254740992.0))
            throw invalid_argument("--ids-file '" + path + "' holds an id out of range");
        ids.push_back(static_cast<std::int64_t>(v));
    }
    return ids;
}

run_fn add_create(CLI::App& sub) {
    struct opts {
        std::string out, patterns, dtype, index = std::string(to_string(index_kind::automatic));
        std::int64_t dim = 0;
        energy_cli_options energy;
        int threads = 0;
        bool progress = false;
    };
    auto o = std::make_shared<opts>();
    sub.add_option("--out,-o", o->out, "The store file to write (.dstore)")->required();
    auto* o_dim = sub.add_option("--dim", o->dim, "Dimension d of an empty store");
    auto* o_pat = sub.add_option(
        "--patterns", o->patterns, "First patterns, .npy (n x d): ids 0..n-1 in row order");
    o->energy.add_to(sub);
    sub.add_option("--dtype",
                   o->dtype,
                   "Element type of the stored patterns: float32 or float64 (default: that of "
                   "--patterns, else float64)");
    sub.add_option("--index",
                   o->index,
                   "Range index the store keeps (compact kernels): auto, brute, kdtree or ball")
        ->capture_default_str();
    sub.add_option("--threads", o->threads, "OpenMP threads (0: all cores)")->capture_default_str();
    sub.add_flag("--progress", o->progress, "Progress on stderr even when it is not a terminal");
    sub.footer(
        "Prints a JSON summary (size, dim, next_id, dtype, kernel, beta, index) on stdout.\n"
        "Examples:\n  denseam store create --out S.dstore --patterns X.npy --kernel lsr --beta 2\n"
        "  denseam store create --out S.dstore --dim 64 --kernel lsr --beta 2 --dtype float32");
    return [o, o_dim, o_pat]() {
        const energy_params p = o->energy.to_params();
        const exec_options ex = make_exec(o->threads);
        const index_kind kind = parse_index_flag(o->index);
        const bool has_dim = o_dim->count() > 0, has_patterns = o_pat->count() > 0;
        if (has_dim == has_patterns)
            throw invalid_argument(
                "store create needs exactly one of --dim D (an empty store) and --patterns "
                "X.npy");
        if (has_dim && o->dim < 1)
            throw invalid_argument("--dim must be >= 1, got " + std::to_string(o->dim));
        std::optional<store_dtype> dtype;
        if (!o->dtype.empty()) {
            try {
                dtype = parse_store_dtype(o->dtype);
            } catch (const invalid_argument& e) {
                throw invalid_argument(std::string("--dtype: ") + e.what());
            }
        }
        detail::file_plan files;
        if (has_patterns) files.input("--patterns", o->patterns);
        files.output("--out", o->out);
        std::optional<loaded_matrix> x;
        if (has_patterns) x = load_matrix(o->patterns, "patterns");
        const std::int64_t dim = x ? x->cols() : o->dim;
        if (!dtype) dtype = x && x->array.is_float32 ? store_dtype::float32 : store_dtype::float64;
        memory_store s(dim, p, *dtype, kind);
        if (x) add_rows(s, *x, o->out, ex);
        save_store(s, files.target(o->out), o->progress);
        print_json(info_json(s, o->out));
        return exit_ok;
    };
}

run_fn add_add(CLI::App& sub) {
    struct opts {
        std::string store, patterns, ids_out;
        int threads = 0;
        bool progress = false;
    };
    auto o = std::make_shared<opts>();
    sub.add_option("store", o->store, "The store file (updated in place, crash-safely)")
        ->required();
    sub.add_option("--patterns", o->patterns, "Patterns to add, .npy (n x d)")->required();
    sub.add_option("--ids-out", o->ids_out, "Write the new ids here, .npy int64 (n,)");
    sub.add_option("--threads", o->threads, "OpenMP threads (0: all cores)")->capture_default_str();
    sub.add_flag("--progress", o->progress, "Progress on stderr even when it is not a terminal");
    sub.footer(
        "The new patterns get the ids next_id, next_id + 1, ... in row order. Prints a JSON "
        "summary (added, first_id, last_id and the store's info) on stdout.\nExample:\n  "
        "denseam store add S.dstore --patterns X2.npy --ids-out ids.npy");
    return [o]() {
        const exec_options ex = make_exec(o->threads);
        detail::file_plan files;
        const std::string target = declare_store(files, o->store, true);
        files.input("--patterns", o->patterns);
        if (!o->ids_out.empty()) files.output("--ids-out", o->ids_out);
        const loaded_matrix x = load_matrix(o->patterns, "patterns");
        memory_store s = load_store(o->store, o->progress, ex);
        const std::vector<std::int64_t> ids = add_rows(s, x, o->store, ex);
        // The ids first: if saving the store fails, the store is unchanged and a second run
        // gives the same ids again.
        if (!o->ids_out.empty()) {
            const std::int64_t shape[] = {static_cast<std::int64_t>(ids.size())};
            files.set(o->ids_out, to_npy_bytes(std::span<const std::int64_t>(ids), shape));
            files.commit();
        }
        save_store(s, target, o->progress);
        nlohmann::json j = {
            {"added", ids.size()}, {"first_id", ids.front()}, {"last_id", ids.back()}};
        j.update(info_json(s, o->store));
        if (!o->ids_out.empty()) j["ids_out"] = o->ids_out;
        print_json(j);
        return exit_ok;
    };
}

run_fn add_remove(CLI::App& sub) {
    struct opts {
        std::string store, ids_file;
        std::vector<std::int64_t> ids;
        int threads = 0;
        bool progress = false;
    };
    auto o = std::make_shared<opts>();
    sub.add_option("store", o->store, "The store file (updated in place, crash-safely)")
        ->required();
    auto* o_ids = sub.add_option("--ids", o->ids, "Ids to remove, e.g. 3,5,7")->delimiter(',');
    auto* o_file = sub.add_option("--ids-file", o->ids_file, "Ids to remove, .npy integers (n,)");
    sub.add_option("--threads", o->threads, "OpenMP threads (0: all cores)")->capture_default_str();
    sub.add_flag("--progress", o->progress, "Progress on stderr even when it is not a terminal");
    sub.footer(
        "All or nothing: an unknown, removed or repeated id is an error (exit 2) naming it, and "
        "the store file is left as it was. The other patterns keep their ids.\nExample:\n  "
        "denseam store remove S.dstore --ids 3,5,7");
    return [o, o_ids, o_file]() {
        const exec_options ex = make_exec(o->threads);
        if ((o_ids->count() > 0) == (o_file->count() > 0))
            throw invalid_argument("store remove needs exactly one of --ids and --ids-file");
        detail::file_plan files;
        const std::string target = declare_store(files, o->store, true);
        if (o_file->count() > 0) files.input("--ids-file", o->ids_file);
        const std::vector<std::int64_t> ids = o_file->count() > 0 ? read_ids(o->ids_file) : o->ids;
        memory_store s = load_store(o->store, o->progress, ex);
        naming_store(o->store, [&] { s.remove(ids, ex); });
        save_store(s, target, o->progress);
        nlohmann::json j = {{"removed", ids.size()}};
        j.update(info_json(s, o->store));
        print_json(j);
        return exit_ok;
    };
}

run_fn add_info_cmd(CLI::App& sub) {
    struct opts {
        std::string store;
        bool progress = false;
    };
    auto o = std::make_shared<opts>();
    sub.add_option("store", o->store, "The store file")->required();
    sub.add_flag("--progress", o->progress, "Progress on stderr even when it is not a terminal");
    sub.footer(
        "Prints the store's summary as JSON: size (live patterns), dim, next_id, dtype, the "
        "energy (kernel, beta, eps, q), index (requested) and index_used, bytes (in memory) and "
        "file_bytes.\nExample:\n  denseam store info S.dstore");
    return [o]() {
        detail::file_plan files;
        declare_store(files, o->store, false);
        const memory_store s = load_store(o->store, o->progress, {});
        print_json(info_json(s, o->store));
        return exit_ok;
    };
}

run_fn add_retrieve_cmd(CLI::App& sub) {
    struct opts {
        std::string store, queries;
        retrieval_cli_options retrieval;
        bool progress = false;
    };
    auto o = std::make_shared<opts>();
    sub.add_option("store", o->store, "The store file")->required();
    sub.add_option("--queries,-q", o->queries, "Start states, .npy (B x d)")->required();
    o->retrieval.add_to(sub,
                        "LSR fixed point: support sets as JSON {offsets, ids} (CSR; the ids of "
                        "the stored patterns)",
                        false);
    sub.add_flag("--progress", o->progress, "Progress on stderr even when it is not a terminal");
    sub.footer(
        "The options of `denseam retrieve`, with the store's energy; computed in float64. "
        "Prints a JSON summary (status counts, mean steps) on stdout.\nExample:\n  denseam store "
        "retrieve S.dstore --queries Q.npy --out R.npy --supports S.json");
    return [o]() {
        const exec_options ex = o->retrieval.exec();
        detail::file_plan files;
        declare_store(files, o->store, false);
        files.input("--queries", o->queries);
        o->retrieval.declare_outputs(files);
        const memory_store s = load_store(o->store, o->progress, ex);
        const retrieve_options ro = o->retrieval.options(s.params());
        const loaded_matrix qry = load_matrix(o->queries, "queries");
        if (qry.cols() != s.dim())
            throw invalid_argument("queries '" + o->queries + "' have dimension " +
                                   std::to_string(qry.cols()) + " but store '" + o->store +
                                   "' has dimension " + std::to_string(s.dim()));
        const std::vector<double> q = as_f64(qry);
        const std::int64_t n = qry.rows(), d = qry.cols();
        const auto t0 = std::chrono::steady_clock::now();
        const retrieve_result<double> r = naming_store(
            o->store, [&] { return s.retrieve(make_matrix_view(q.data(), n, d), ro, ex); });
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const retrieval_cli_options& r_o = o->retrieval;
        const nlohmann::json counts =
            set_retrieval_outputs(r, n, d, r_o.out, r_o.energy_out, r_o.status_out, files);
        if (!r_o.supports_out.empty()) {
            const nlohmann::json js = {{"offsets", r.support.offsets}, {"ids", r.support.indices}};
            files.set(r_o.supports_out, js.dump() + "\n");
        }
        files.commit();
        const energy_params& p = s.params();
        print_json({{"store", o->store},
                    {"n_queries", n},
                    {"n_memories", s.size()},
                    {"dim", d},
                    {"dtype", "float64"},
                    {"kernel", std::string(to_string(p.kernel))},
                    {"beta", p.beta},
                    {"method", std::string(to_string(ro.method))},
                    {"status_counts", counts["status_counts"]},
                    {"mean_steps", counts["mean_steps"]},
                    {"seconds", secs},
                    {"out", r_o.out}});
        return exit_ok;
    };
}

}  // namespace

run_fn add_store(CLI::App& sub) {
    sub.require_subcommand(1);
    std::vector<std::pair<CLI::App*, run_fn>> subs;
    auto add = [&](const char* name, const char* help, run_fn (*setup)(CLI::App&)) {
        CLI::App* s = sub.add_subcommand(name, help);
        subs.emplace_back(s, setup(*s));
    };
    add("create", "Write a new store: empty (--dim) or with patterns (--patterns)", add_create);
    add("add", "Add patterns to a store (new ids), saving it in place", add_add);
    add("remove", "Remove patterns by id from a store, saving it in place", add_remove);
    add("info", "Describe a store as JSON", add_info_cmd);
    add("retrieve",
        "Retrieve from queries with a store's energy (the options of denseam retrieve)",
        add_retrieve_cmd);
    sub.footer(
        "A store file holds patterns with stable ids (0, 1, 2, ... in order of addition, never "
        "reused), the energy and the index; saves are crash-safe (docs/cli.md, \"denseam "
        "store\").\nExample:\n  denseam store create --out S.dstore --patterns X.npy --kernel "
        "lsr --beta 2\n  denseam store add S.dstore --patterns X2.npy\n  denseam store remove "
        "S.dstore --ids 3,5\n  denseam store retrieve S.dstore --queries Q.npy --out R.npy");
    return [subs]() -> int {
        for (const auto& [s, run] : subs)
            if (s->parsed()) return run();
        return exit_usage;
    };
}

}  // namespace denseam::cli

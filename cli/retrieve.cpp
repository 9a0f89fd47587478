// SPDX-License-Identifier: MIT
// `denseam retrieve`: retrieval from queries by fixed point or gradient descent.
#include <chrono>
#include <cstdio>
#include <map>

#include "common.hpp"
#include "denseam/retrieval.hpp"
#include "io/files.hpp"
#include "retrieval_output.hpp"

namespace denseam::cli {

namespace {

struct retrieve_cli {
    std::string memories, queries;
    energy_cli_options energy;
    retrieval_cli_options retrieval;
    std::string dtype = "auto";
};

template <class T>
nlohmann::json run_retrieve(const retrieve_cli& o,
                            detail::file_plan& files,
                            const loaded_matrix& mem,
                            const loaded_matrix& qry) {
    const energy_params p = o.energy.to_params();
    const retrieval_cli_options& r_o = o.retrieval;
    const retrieve_options ro = r_o.options(p);
    const std::vector<T> m = as_vector<T>(mem), q = as_vector<T>(qry);
    const exec_options ex = r_o.exec();
    const std::int64_t n = qry.rows(), d = qry.cols();
    const auto t0 = std::chrono::steady_clock::now();
    auto r = retrieve<T>(make_matrix_view<const T>(m.data(), mem.rows(), mem.cols()),
                         make_matrix_view<const T>(q.data(), n, d),
                         p,
                         ro,
                         ex);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // Every output, or none.
    const nlohmann::json counts =
        set_retrieval_outputs(r, n, d, r_o.out, r_o.energy_out, r_o.status_out, files);
    if (!r_o.supports_out.empty()) {
        nlohmann::json js = {{"offsets", r.support.offsets}, {"indices", r.support.indices}};
        files.set(r_o.supports_out, js.dump() + "\n");
    }
    files.commit();
    return {{"n_queries", n},
            {"n_memories", mem.rows()},
            {"dim", d},
            {"dtype", sizeof(T) == 4 ? "float32" : "float64"},
            {"kernel", std::string(to_string(p.kernel))},
            {"beta", p.beta},
            {"method", std::string(to_string(ro.method))},
            {"index", std::string(to_string(ex.index))},
            {"status_counts", counts["status_counts"]},
            {"mean_steps", counts["mean_steps"]},
            {"seconds", secs},
            {"out", r_o.out}};
}

}  // namespace

run_fn add_retrieve(CLI::App& sub) {
    auto o = std::make_shared<retrieve_cli>();
    sub.add_option("--memories,-m", o->memories, "Stored patterns, .npy (M x d)")->required();
    sub.add_option("--queries,-q", o->queries, "Start states, .npy (B x d)")->required();
    o->energy.add_to(sub);
    o->retrieval.add_to(sub, "LSR fixed point: support sets as JSON {offsets, indices} (CSR)");
    sub.add_option("--dtype", o->dtype, "auto, float32 or float64")->capture_default_str();
    sub.footer(
        "Prints a JSON summary (status counts, mean steps) on stdout.\nExample:\n  denseam "
        "retrieve --memories X.npy --queries Q.npy --kernel lsr --beta 2.5 --method fixed-point "
        "--out R.npy");
    return [o]() {
        // Validate before reading large files.
        (void)o->retrieval.options(o->energy.to_params());
        (void)o->retrieval.exec();
        // Every file is checked before anything is read, computed or written.
        detail::file_plan files;
        files.input("--memories", o->memories);
        files.input("--queries", o->queries);
        o->retrieval.declare_outputs(files);
        const auto in = load_memories_queries(o->memories, o->queries, o->dtype);
        const auto& mem = in.memories;
        const auto& qry = in.queries;
        print_json(in.float32 ? run_retrieve<float>(*o, files, mem, qry)
                              : run_retrieve<double>(*o, files, mem, qry));
        return exit_ok;
    };
}

}  // namespace denseam::cli

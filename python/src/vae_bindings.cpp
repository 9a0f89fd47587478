// SPDX-License-Identifier: MIT
// Bindings of include/denseam/vae.hpp (BetaVAE: fit / encode / decode / loss / save / load) and of
// run_qbvae (qbvae).
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <memory>

#include "bindings.hpp"
#include "denseam/experiments.hpp"
#include "denseam/vae.hpp"

namespace denseam::python {

namespace {

/// A float32 C-contiguous copy of a 2-D array-like with `cols` columns (0: any).
py::array_t<float, py::array::c_style | py::array::forcecast> float_rows(const py::handle& obj,
                                                                         const char* what,
                                                                         std::int64_t cols) {
    auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(obj);
    if (!a || a.ndim() != 2) throw invalid_argument(std::string(what) + ": expected a 2-D array");
    if (cols > 0 && a.shape(1) != cols)
        throw invalid_argument(std::string(what) + ": expected " + std::to_string(cols) +
                               " columns, got " + std::to_string(a.shape(1)));
    return a;
}

struct py_vae {
    std::unique_ptr<beta_vae> model;
};

}  // namespace

void register_vae(py::module_& m) {
    py::class_<py_vae>(
        m,
        "BetaVAE",
        "The reference's beta-VAE (paper.md 3.7), trained on the CPU: encoder "
        "input-hidden-hidden (LeakyReLU 0.2, BatchNorm), heads mu/logvar, decoder "
        "latent-hidden-hidden-input with a sigmoid; loss BCE(sum) + beta_kl KL(sum).")
        .def(py::init([](std::int64_t input_dim,
                         std::int64_t hidden,
                         std::int64_t latent,
                         double beta_kl,
                         std::uint64_t seed) {
                 vae_config c;
                 c.input_dim = input_dim;
                 c.hidden = hidden;
                 c.latent = latent;
                 c.beta_kl = beta_kl;
                 return py_vae{std::make_unique<beta_vae>(c, seed)};
             }),
             py::kw_only(),
             py::arg("input_dim") = 784,
             py::arg("hidden") = 512,
             py::arg("latent") = 10,
             py::arg("beta_kl") = 4.0,
             py::arg("seed") = 0)
        .def(
            "fit",
            [](py_vae& self,
               const py::handle& x,
               std::int64_t epochs,
               std::int64_t batch,
               double lr,
               std::uint64_t seed,
               int n_threads) {
                const auto a = float_rows(x, "x", self.model->config().input_dim);
                vae_train_options o;
                o.epochs = epochs;
                o.batch = batch;
                o.lr = lr;
                o.seed = seed;
                vae_history h;
                call_without_gil(n_threads, [&](const exec_options& exec) {
                    h = self.model->fit({a.data(), a.shape(0), a.shape(1)}, o, exec);
                });
                return py::array_t<double>(static_cast<py::ssize_t>(h.epoch_loss.size()),
                                           h.epoch_loss.data());
            },
            "fit(x, *, epochs=50, batch=128, lr=1e-3, seed=0, n_threads=0) -> per-epoch mean loss",
            py::arg("x"),
            py::kw_only(),
            py::arg("epochs") = 50,
            py::arg("batch") = 128,
            py::arg("lr") = 1e-3,
            py::arg("seed") = 0,
            py::arg("n_threads") = 0)
        .def(
            "encode",
            [](const py_vae& self, const py::handle& x, int n_threads) {
                const auto& c = self.model->config();
                const auto a = float_rows(x, "x", c.input_dim);
                const py::ssize_t n = a.shape(0);
                py::array_t<float> mu({n, static_cast<py::ssize_t>(c.latent)}),
                    lv({n, static_cast<py::ssize_t>(c.latent)});
                call_without_gil(n_threads, [&](const exec_options& exec) {
                    self.model->encode({a.data(), n, c.input_dim},
                                       {mu.mutable_data(), n, c.latent},
                                       {lv.mutable_data(), n, c.latent},
                                       exec);
                });
                return py::make_tuple(mu, lv);
            },
            "encode(x, *, n_threads=0) -> (mu, logvar), evaluation mode",
            py::arg("x"),
            py::kw_only(),
            py::arg("n_threads") = 0)
        .def(
            "decode",
            [](const py_vae& self, const py::handle& z, int n_threads) {
                const auto& c = self.model->config();
                const auto a = float_rows(z, "z", c.latent);
                const py::ssize_t n = a.shape(0);
                py::array_t<float> out({n, static_cast<py::ssize_t>(c.input_dim)});
                call_without_gil(n_threads, [&](const exec_options& exec) {
                    self.model->decode(
                        {a.data(), n, c.latent}, {out.mutable_data(), n, c.input_dim}, exec);
                });
                return out;
            },
            "decode(z, *, n_threads=0) -> images (sigmoid outputs), evaluation mode",
            py::arg("z"),
            py::kw_only(),
            py::arg("n_threads") = 0)
        .def(
            "loss",
            [](const py_vae& self, const py::handle& x, std::uint64_t noise_seed) {
                const auto a = float_rows(x, "x", self.model->config().input_dim);
                return self.model->loss({a.data(), a.shape(0), a.shape(1)}, false, noise_seed);
            },
            "loss(x, *, noise_seed=0) -> mean negative ELBO per image (evaluation mode)",
            py::arg("x"),
            py::kw_only(),
            py::arg("noise_seed") = 0)
        .def(
            "save",
            [](const py_vae& self, const std::string& path) { save_vae(path, *self.model); },
            "save(path): safetensors (PyTorch: safetensors.torch.load_file)",
            py::arg("path"))
        .def_static(
            "load",
            [](const std::string& path) {
                return py_vae{std::make_unique<beta_vae>(load_vae(path))};
            },
            "load(path) -> BetaVAE saved by save() or `denseam vae train`",
            py::arg("path"))
        .def_property_readonly("latent", [](const py_vae& s) { return s.model->config().latent; })
        .def_property_readonly("input_dim",
                               [](const py_vae& s) { return s.model->config().input_dim; });

    const qbvae_options qd{};
    m.def(
        "qbvae",
        [](const py::handle& latents,
           std::int64_t n_mems,
           std::uint64_t seed,
           double target_k,
           std::optional<double> beta,
           std::int64_t lse_steps,
           double lse_lr,
           std::int64_t lse_random,
           int n_threads) {
            const input_array in = as_input(latents, "latents", "(n_latents, dim)");
            const matrix_arg<double> z = as_matrix<double>(in);
            qbvae_options o;
            o.n_mems = n_mems;
            o.seed = seed;
            o.target_k = target_k;
            if (beta) {
                if (!(*beta > 0.0))
                    throw invalid_argument("beta must be finite and > 0 (None: choose_beta)");
                o.beta = *beta;
            }
            o.lse_steps = lse_steps;
            o.lse_step_size = lse_lr;
            o.lse_search_random = lse_random;
            qbvae_result r;
            std::string text;
            call_without_gil(n_threads, [&](const exec_options& exec) {
                r = run_qbvae(z.view, o, exec);
                text = to_json(r);
            });
            py::dict d = py::module_::import("json").attr("loads")(text).cast<py::dict>();
            const auto k = static_cast<py::ssize_t>(r.indices.size());
            const auto dim = static_cast<py::ssize_t>(r.dim);
            py::array_t<double> pat({k, dim}), lse({k, dim});
            std::copy(r.patterns.begin(), r.patterns.end(), pat.mutable_data());
            std::copy(r.lse_states.begin(), r.lse_states.end(), lse.mutable_data());
            py::array_t<double> mins({static_cast<py::ssize_t>(r.lsr.minima.size()), dim});
            const std::vector<double> flat = positions_of(r.lsr.minima);
            std::copy(flat.begin(), flat.end(), mins.mutable_data());
            d["patterns"] = pat;
            d["lsr_positions"] = mins;
            d["lse_states"] = lse;
            return d;
        },
        R"doc(qbvae(latents, *, n_mems=24, seed=8, target_k=5.0, beta=None, lse_steps=8000, lse_lr=0.02, lse_random=1000, n_threads=0) -> dict

QBVAE3 (paper.md 3.7) on latent codes: the fields of `denseam qbvae`'s qbvae.json plus arrays
patterns (the stored latents), lsr_positions (every LSR minimum, in lsr_minima order) and
lse_states (the LSE descents' end states). Decode them with BetaVAE.decode.)doc",
        py::arg("latents"),
        py::kw_only(),
        py::arg("n_mems") = qd.n_mems,
        py::arg("seed") = qd.seed,
        py::arg("target_k") = qd.target_k,
        py::arg("beta") = py::none(),
        py::arg("lse_steps") = qd.lse_steps,
        py::arg("lse_lr") = qd.lse_step_size,
        py::arg("lse_random") = qd.lse_search_random,
        py::arg("n_threads") = 0);
}

}  // namespace denseam::python

// SPDX-License-Identifier: MIT
// Random-feature maps of the Gaussian kernel and the distributed memory (DrDAM):
// denseam.DistributedMemory, feature_map, random_projections, feature_phases, memory_footprint.
// Thin bindings over include/denseam/features.hpp.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "denseam/error.hpp"
#include "denseam/features.hpp"
#include "denseam/retrieval.hpp"

namespace denseam::python {

namespace {

feature_params make_feature_params(const std::string& kind,
                                   std::int64_t n_features,
                                   double beta,
                                   std::uint64_t seed,
                                   bool orthogonal) {
    feature_params p;
    p.kind = parse_feature_kind(kind);
    p.n_features = n_features;
    p.beta = beta;
    p.seed = seed;
    p.orthogonal = orthogonal;
    return p;
}

/// The keywords that define a feature map, after `*`: kind, n_features, beta (required, as
/// everywhere an energy parameter is), seed, orthogonal; the C++ parameters that receive them
/// are (const std::string&, std::int64_t, double, std::uint64_t, bool).
auto feature_kwarg_args() {
    const feature_params d{};
    return std::make_tuple(py::arg("kind") = std::string(to_string(d.kind)),
                           py::arg("n_features") = d.n_features,
                           py::arg("beta"),
                           py::arg("seed") = d.seed,
                           py::arg("orthogonal") = d.orthogonal);
}

/// The map keywords of the functions whose result does not depend on beta (projections, phases,
/// footprints): kind, n_features, seed, orthogonal.
auto feature_kwarg_args_without_beta() {
    const feature_params d{};
    return std::make_tuple(py::arg("kind") = std::string(to_string(d.kind)),
                           py::arg("n_features") = d.n_features,
                           py::arg("seed") = d.seed,
                           py::arg("orthogonal") = d.orthogonal);
}

/// The keywords of retrieve_kwarg_args() with method defaulting to "gradient" (the only method
/// of a distributed memory).
auto gradient_retrieve_kwarg_args() {
    auto all = retrieve_kwarg_args();
    return std::apply(
        [](const auto&, const auto&... rest) {
            return std::make_tuple(
                py::arg("method") = std::string(to_string(retrieval_method::gradient)), rest...);
        },
        all);
}

// ---- DistributedMemory ----------------------------------------------------------------------

/// The memory and the lock that makes it safe to share between Python threads: add, remove and
/// clear take it exclusively, everything else shared. Locks are taken with the GIL released
/// (inside call_without_gil), so a thread waiting for one never blocks the interpreter.
class py_distributed {
  public:
    explicit py_distributed(std::unique_ptr<distributed_memory> mem) : mem_(std::move(mem)) {}

    template <class F>
    void read(int n_threads, F&& f) const {
        call_without_gil(n_threads, [&](const exec_options& exec) {
            std::shared_lock lock(mutex_);
            f(static_cast<const distributed_memory&>(*mem_), exec);
        });
    }
    template <class F>
    void write(int n_threads, F&& f) {
        call_without_gil(n_threads, [&](const exec_options& exec) {
            std::unique_lock lock(mutex_);
            f(*mem_, exec);
        });
    }
    /// A value read under the shared lock (small reads: size, features).
    template <class F>
    auto get(F&& f) const {
        py::gil_scoped_release release;
        std::shared_lock lock(mutex_);
        return f(static_cast<const distributed_memory&>(*mem_));
    }
    /// Immutable after construction: readable without the lock.
    const distributed_memory& fixed() const { return *mem_; }

  private:
    std::unique_ptr<distributed_memory> mem_;
    mutable std::shared_mutex mutex_;
};

std::unique_ptr<py_distributed> make_distributed(std::int64_t dim,
                                                 const feature_params& params,
                                                 bool cache_projections) {
    std::unique_ptr<distributed_memory> mem;
    call_without_gil(0, [&](const exec_options&) {
        mem = std::make_unique<distributed_memory>(
            dim, params, distributed_options{cache_projections});
    });
    return std::make_unique<py_distributed>(std::move(mem));
}

template <class T>
void update_typed(py_distributed& self, const input_array& in, bool add, int n_threads) {
    const matrix_arg<T> x = as_matrix<T>(in);
    self.write(n_threads, [&](distributed_memory& m, const exec_options& exec) {
        if (add)
            m.add(x.view, exec);
        else
            m.remove(x.view, exec);
    });
}

void update(py_distributed& self, const py::object& patterns, bool add, int n_threads) {
    const input_array in = as_input(patterns, "patterns", "(n_patterns, dim)");
    if (in.is_float32())
        update_typed<float>(self, in, add, n_threads);
    else
        update_typed<double>(self, in, add, n_threads);
}

template <class T>
py::object energy_typed(const py_distributed& self,
                        const input_array& queries,
                        energy_output what,
                        int n_threads) {
    const matrix_arg<T> qry = as_matrix<T>(queries);
    return energy_outputs<T>(
        qry.view.rows, qry.view.cols, what, [&](std::span<T> e, matrix_view<T> g) {
            self.read(n_threads, [&](const distributed_memory& m, const exec_options& exec) {
                m.energy_and_grad(qry.view, e, g, {}, exec);
            });
        });
}

py::object distributed_energy(const py_distributed& self,
                              const py::object& queries,
                              energy_output what,
                              int n_threads) {
    const input_array q = as_input(queries, "queries", "(n_queries, dim)");
    if (q.is_float32()) return energy_typed<float>(self, q, what, n_threads);
    return energy_typed<double>(self, q, what, n_threads);
}

template <class T>
py::object retrieve_typed(const py_distributed& self,
                          const input_array& queries,
                          const retrieve_options& options,
                          int n_threads) {
    const matrix_arg<T> qry = as_matrix<T>(queries);
    retrieve_result<T> r;
    self.read(n_threads, [&](const distributed_memory& m, const exec_options& exec) {
        r = m.retrieve<T>(qry.view, options, exec);
    });
    return retrieval_result_object(
        std::move(r), qry.view.cols, retrieval_method::gradient, kernel_kind::lse);
}

py::object distributed_retrieve(const py_distributed& self,
                                const py::object& queries,
                                const retrieve_kwargs& kw) {
    const input_array q = as_input(queries, "queries", "(n_queries, dim)");
    if (parse_method(kw.method) != retrieval_method::gradient)
        throw py::value_error(
            "a DistributedMemory retrieves by gradient descent only (method='gradient'), got "
            "method='" +
            kw.method + "'");
    energy_params lse;
    lse.kernel = kernel_kind::lse;
    lse.beta = self.fixed().params().beta;
    const retrieve_options options = make_options(kw, lse, q.cols());
    if (q.is_float32()) return retrieve_typed<float>(self, q, options, kw.n_threads);
    return retrieve_typed<double>(self, q, options, kw.n_threads);
}

std::string distributed_repr(const py_distributed& self) {
    const distributed_memory& m = self.fixed();
    const feature_params& p = m.params();
    const std::int64_t size = self.get([](const distributed_memory& x) { return x.size(); });
    std::string s = "DistributedMemory(dim=" + std::to_string(m.dim()) + ", kind='" +
                    std::string(to_string(p.kind)) +
                    "', n_features=" + std::to_string(p.n_features) +
                    ", beta=" + float_repr(p.beta) + ", seed=" + std::to_string(p.seed);
    if (p.orthogonal) s += ", orthogonal=True";
    if (m.options().cache_projections) s += ", cache_projections=True";
    return s + ", size=" + std::to_string(size) + ")";
}

std::string path_string(const py::object& path) {
    return py::module_::import("os").attr("fsdecode")(path).cast<std::string>();
}

constexpr const char* distributed_doc = R"doc(
A Dense Associative Memory in distributed form (DrDAM): the patterns are summed into one
vector T of Y random features of the Gaussian kernel k(x, y) = exp(-beta/2 ||x - y||^2),

    T = sum_mu phi(xi_mu),     E~(x) = -(1/beta) log <phi(x), T>,

which approximates the lse energy E(x) = -(1/beta) log sum_mu exp(-beta/2 ||x - xi_mu||^2)
(denseam.energy(..., kernel="lse")) with errors of order 1/sqrt(Y) relative to the kernel sum.
The memory holds Y doubles whatever the number of patterns; the random projections are
regenerated from (seed, row) when needed (cache_projections=True keeps them: faster, more memory).

DistributedMemory(dim, *, kind="fourier", n_features=65536, beta, seed=0, orthogonal=False,
                  cache_projections=False)                                  (beta is required)

kind
    "fourier"        sqrt(2/Y) [cos u_1, sin u_1, ...], u_i = omega_i.x (Y/2 projections; Y even)
    "fourier-phase"  sqrt(2/Y) cos(u_i + b_i), b_i ~ U[0, 2 pi) (Y projections)
    "positive"       Y^-1/2 exp(u_i - beta ||x||^2) (Y projections; <phi(x), T> > 0 always)
    with omega_i = sqrt(beta) s_i, s_i ~ N(0, I) (denseam.random_projections).
orthogonal
    Draw the s_i in orthogonal groups of dim (lower variance; a dim x dim QR per group).

Methods: add(patterns) / remove(patterns) (T +=/-= sum phi; float32 or float64 (n, dim)),
clear(), energy / grad / energy_and_grad(queries), retrieve(queries, ...) (gradient descent,
the keywords of denseam.retrieve with method="gradient"), save(path), load(path) (static).
Where <phi(x), T> <= 0 (fourier kinds far from every pattern, or an empty memory) the energy is
+inf and the gradient 0, as denseam.energy reports an unsupported LSR query; retrieval stops
such a query with status out_of_support. float32 queries give float32 results, others float64.
Results do not depend on n_threads or on cache_projections. The GIL is released while the
library computes; add/remove/clear wait for running calls on the same memory (and vice versa).

Example
-------
>>> mem = denseam.DistributedMemory(2, n_features=4096, beta=1.0)
>>> mem.add(np.array([[0.0, 0.0], [3.0, 0.0]]))
>>> mem
DistributedMemory(dim=2, kind='fourier', n_features=4096, beta=1.0, seed=0, size=2)
>>> exact = denseam.energy([[0.0, 0.0], [3.0, 0.0]], [[0.5, 0.0]], kernel="lse", beta=1.0)
>>> bool(abs(mem.energy([[0.5, 0.0]])[0] - exact[0]) < 0.05)
True
)doc";

constexpr const char* feature_map_doc = R"doc(
The random-feature map phi of the Gaussian kernel exp(-beta/2 ||x - y||^2), in float64:
<phi(x), phi(y)> ~ k(x, y) (see DistributedMemory for the kinds). For checking and teaching: a
DistributedMemory never forms phi of its queries.

Parameters
----------
x : array_like, shape (n, dim)
    Points, finite.
kind, n_features, beta, seed, orthogonal :
    The map (as DistributedMemory; beta is required).
n_threads : int
    OpenMP threads, 0 for the default. Results do not depend on it.

Returns
-------
numpy.ndarray, shape (n, n_features), float64
    fourier: columns 2j and 2j + 1 are sqrt(2/Y) cos(u_j), sqrt(2/Y) sin(u_j),
    u_j = sqrt(beta) s_j.x with s_j = random_projections(dim, j, 1, ...)[0].

Example
-------
>>> phi = denseam.feature_map([[0.0, 0.0]], n_features=8, beta=1.0)
>>> phi  # u = 0: cos = 1, sin = 0
array([[0.5, 0. , 0.5, 0. , 0.5, 0. , 0.5, 0. ]])
)doc";

constexpr const char* projections_doc = R"doc(
Rows [first, first + rows) of the map's random projections s_i ~ N(0, I) (unscaled: the map uses
omega_i = sqrt(beta) s_i), exactly the float32 values every computation uses. The map has
n_features / 2 projections for kind="fourier", n_features otherwise. A row depends only on
(seed, row) (orthogonal=True: on its group of dim rows), so any slice can be regenerated alone.

Returns
-------
numpy.ndarray, shape (rows, dim), float32

Example
-------
>>> S = denseam.random_projections(3, 0, 4, n_features=8)
>>> S.shape, S.dtype
((4, 3), dtype('float32'))
>>> np.array_equal(denseam.random_projections(3, 2, 2, n_features=8), S[2:])
True
)doc";

constexpr const char* phases_doc = R"doc(
The random phases b_i in [0, 2 pi) of kind="fourier-phase" (n_features values, float64); an empty
array for the other kinds.

Example
-------
>>> b = denseam.feature_phases(kind="fourier-phase", n_features=5)
>>> b.shape, bool(np.all((b >= 0) & (b < 2 * np.pi)))
((5,), True)
)doc";

constexpr const char* footprint_doc = R"doc(
Bytes of each design holding n_patterns patterns of dimension dim: explicit_bytes (float32
patterns, 4 M dim), distributed_bytes (this memory's T, 8 Y), reference_bytes (the reference
implementation: its float32 projections and T, 4 P dim + 4 Y, P = Y/2 for fourier, Y otherwise)
and break_even_patterns (the smallest M with distributed_bytes < explicit_bytes).

Example
-------
>>> denseam.memory_footprint(1000, 784, n_features=65536)
{'explicit_bytes': 3136000, 'distributed_bytes': 524288, 'reference_bytes': 103022592, 'break_even_patterns': 168}
)doc";

}  // namespace

void register_features(py::module_& m) {
    const exec_options exec_defaults{};
    const int default_threads = exec_defaults.n_threads;

    py::class_<py_distributed> cls(m, "DistributedMemory", distributed_doc);
    std::apply(
        [&](const auto&... kwargs) {
            cls.def(py::init([](std::int64_t dim,
                                const std::string& kind,
                                std::int64_t n_features,
                                double beta,
                                std::uint64_t seed,
                                bool orthogonal,
                                bool cache_projections) {
                        return make_distributed(
                            dim,
                            make_feature_params(kind, n_features, beta, seed, orthogonal),
                            cache_projections);
                    }),
                    py::arg("dim"),
                    py::kw_only(),
                    kwargs...,
                    py::arg("cache_projections") = distributed_options{}.cache_projections);
        },
        feature_kwarg_args());

    cls.def_property_readonly(
           "dim", [](const py_distributed& s) { return s.fixed().dim(); }, "Dimension d")
        .def_property_readonly(
            "kind",
            [](const py_distributed& s) { return std::string(to_string(s.fixed().params().kind)); },
            "The feature map: fourier, fourier-phase or positive")
        .def_property_readonly(
            "n_features",
            [](const py_distributed& s) { return s.fixed().params().n_features; },
            "Y, the length of T")
        .def_property_readonly(
            "n_projections",
            [](const py_distributed& s) { return n_projections(s.fixed().params()); },
            "Number of random projections: Y/2 (fourier) or Y")
        .def_property_readonly("beta",
                               [](const py_distributed& s) { return s.fixed().params().beta; })
        .def_property_readonly("seed",
                               [](const py_distributed& s) { return s.fixed().params().seed; })
        .def_property_readonly(
            "orthogonal", [](const py_distributed& s) { return s.fixed().params().orthogonal; })
        .def_property_readonly(
            "cache_projections",
            [](const py_distributed& s) { return s.fixed().options().cache_projections; })
        .def_property_readonly(
            "size",
            [](const py_distributed& s) {
                return s.get([](const distributed_memory& x) { return x.size(); });
            },
            "Number of patterns held (adds minus removes)")
        .def("__len__",
             [](const py_distributed& s) {
                 return s.get([](const distributed_memory& x) { return x.size(); });
             })
        .def_property_readonly(
            "features",
            [](const py_distributed& s) {
                std::vector<double> t = s.get([](const distributed_memory& x) {
                    return std::vector<double>(x.features().begin(), x.features().end());
                });
                const auto y = static_cast<py::ssize_t>(t.size());
                return vector_to_array(std::move(t), {y});
            },
            "T (Y,) float64: a copy of the memory's features at the time of the call")
        .def_property_readonly(
            "nbytes",
            [](const py_distributed& s) {
                return s.get([](const distributed_memory& x) { return x.bytes(); });
            },
            "Bytes held: T (8 Y) plus the projection cache, if any")
        .def("__repr__", &distributed_repr);

    auto def_update = [&](const char* name, bool add, const char* doc) {
        cls.def(
            name,
            [add](py_distributed& self, const py::object& patterns, int n_threads) {
                update(self, patterns, add, n_threads);
            },
            doc,
            py::arg("patterns"),
            py::kw_only(),
            py::arg("n_threads") = default_threads);
    };
    def_update("add",
               true,
               "T += sum_i phi(patterns_i) for patterns (n, dim), finite, float32 or float64 "
               "(other dtypes are converted to float64); the features are summed in float64. "
               "ValueError (T unchanged) for a bad shape, NaN/Inf or, for positive maps, a "
               "pattern with beta ||x||^2 > 700.");
    def_update("remove",
               false,
               "T -= sum_i phi(patterns_i): undoes add() of the same patterns (to rounding). "
               "ValueError when removing more patterns than the memory holds.");
    cls.def(
        "clear",
        [](py_distributed& self) {
            self.write(0, [](distributed_memory& x, const exec_options&) { x.clear(); });
        },
        "Empty the memory (T = 0, size 0).");

    auto def_energy = [&](const char* name, energy_output what, const char* doc) {
        cls.def(
            name,
            [what](const py_distributed& self, const py::object& queries, int n_threads) {
                return distributed_energy(self, queries, what, n_threads);
            },
            doc,
            py::arg("queries"),
            py::kw_only(),
            py::arg("n_threads") = default_threads);
    };
    def_energy("energy",
               energy_output::energy,
               "Energies E~(x) = -(1/beta) log <phi(x), T> of queries (B, d) -> (B,); +inf where "
               "<phi(x), T> <= 0. float32 queries give float32, others float64.");
    def_energy("grad",
               energy_output::grad,
               "Gradients of E~ at queries (B, d) -> (B, d); 0 where the energy is +inf.");
    def_energy("energy_and_grad",
               energy_output::both,
               "(E, G) of queries (B, d) -> ((B,), (B, d)) in one pass; E = +inf and G = 0 where "
               "<phi(x), T> <= 0 (np.isinf(E) marks those queries).");

    auto retrieve_fn = with_retrieve_kwargs<const py_distributed&, const py::object&>(
        [](const py_distributed& self, const py::object& queries, const retrieve_kwargs& kw) {
            return distributed_retrieve(self, queries, kw);
        });
    std::apply(
        [&](const auto&... kwargs) {
            cls.def("retrieve",
                    std::move(retrieve_fn),
                    "Gradient descent on E~ from queries (B, d): x <- x - lr_t (grad E~(x) + "
                    "noise_t n), clamped coordinates fixed, each query stopping once max |dE/dx| "
                    "< tol or at status out_of_support where <phi(x), T> <= 0. The keywords "
                    "(defaults, schedules, clamp, noise, seed) are those of denseam.retrieve with "
                    "method='gradient' (the only method; beta_schedule and precision='single' "
                    "with float64 queries are refused: pass float32 queries for float32 "
                    "arithmetic). Returns a RetrievalResult (method 'gradient', kernel 'lse').",
                    py::arg("queries"),
                    py::kw_only(),
                    kwargs...);
        },
        gradient_retrieve_kwarg_args());

    cls.def(
        "save",
        [](const py_distributed& self, const py::object& path) {
            const std::string p = path_string(path);
            self.read(0, [&](const distributed_memory& x, const exec_options&) { x.save(p); });
        },
        "Write the memory to a safetensors file (str or os.PathLike): tensor 'features', F64 [Y], "
        "and the map's parameters in the metadata, written atomically.",
        py::arg("path"));
    cls.def_static(
        "load",
        [](const py::object& path, bool cache_projections) {
            const std::string p = path_string(path);
            std::unique_ptr<distributed_memory> mem;
            call_without_gil(0, [&](const exec_options&) {
                mem = std::make_unique<distributed_memory>(
                    distributed_memory::load(p, distributed_options{cache_projections}));
            });
            return std::make_unique<py_distributed>(std::move(mem));
        },
        "Read a DistributedMemory written by save() (cache_projections as in the constructor). "
        "ValueError naming the file for a missing, corrupt or foreign file.",
        py::arg("path"),
        py::kw_only(),
        py::arg("cache_projections") = distributed_options{}.cache_projections);

    cls.def(py::pickle(
        [](const py_distributed& self) {
            const distributed_memory& x = self.fixed();
            const feature_params& p = x.params();
            std::vector<double> t;
            std::int64_t count = 0;
            self.get([&](const distributed_memory& y) {
                t.assign(y.features().begin(), y.features().end());
                count = y.size();
                return 0;
            });
            const auto n = static_cast<py::ssize_t>(t.size());
            return py::make_tuple(x.dim(),
                                  std::string(to_string(p.kind)),
                                  p.n_features,
                                  p.beta,
                                  p.seed,
                                  p.orthogonal,
                                  x.options().cache_projections,
                                  vector_to_array(std::move(t), {n}),
                                  count);
        },
        [](const py::tuple& s) {
            if (s.size() != 9) throw py::value_error("invalid DistributedMemory state");
            const feature_params p = make_feature_params(s[1].cast<std::string>(),
                                                         s[2].cast<std::int64_t>(),
                                                         s[3].cast<double>(),
                                                         s[4].cast<std::uint64_t>(),
                                                         s[5].cast<bool>());
            auto t = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(s[7]);
            if (!t || t.ndim() != 1) throw py::value_error("invalid DistributedMemory state");
            std::vector<double> features(t.data(), t.data() + t.size());
            return std::make_unique<py_distributed>(std::make_unique<distributed_memory>(
                distributed_memory::from_parts(s[0].cast<std::int64_t>(),
                                               p,
                                               std::move(features),
                                               s[8].cast<std::int64_t>(),
                                               distributed_options{s[6].cast<bool>()})));
        }));

    // ---- free functions over a map ----------------------------------------------------------

    std::apply(
        [&](const auto&... kwargs) {
            m.def(
                "feature_map",
                [](const py::object& x,
                   const std::string& kind,
                   std::int64_t n_features,
                   double beta,
                   std::uint64_t seed,
                   bool orthogonal,
                   int n_threads) {
                    const feature_params p =
                        make_feature_params(kind, n_features, beta, seed, orthogonal);
                    const input_array in = as_input(x, "x", "(n, dim)");
                    validate(p, in.cols());
                    const matrix_arg<double> xv = as_matrix<double>(in);
                    py::array_t<double> out({static_cast<py::ssize_t>(xv.view.rows),
                                             static_cast<py::ssize_t>(p.n_features)});
                    const matrix_view<double> ov =
                        make_matrix_view(out.mutable_data(), xv.view.rows, p.n_features);
                    call_without_gil(n_threads, [&](const exec_options& exec) {
                        feature_map(p, xv.view, ov, exec);
                    });
                    return out;
                },
                feature_map_doc,
                py::arg("x"),
                py::kw_only(),
                kwargs...,
                py::arg("n_threads") = default_threads);
        },
        feature_kwarg_args());

    std::apply(
        [&](const auto&... kwargs) {
            m.def(
                "random_projections",
                [](std::int64_t dim,
                   std::int64_t first,
                   std::int64_t rows,
                   const std::string& kind,
                   std::int64_t n_features,
                   std::uint64_t seed,
                   bool orthogonal) {
                    const feature_params p =
                        make_feature_params(kind, n_features, 1.0, seed, orthogonal);
                    validate(p, dim);
                    const std::int64_t n_proj = n_projections(p);
                    if (first < 0 || rows < 0 || first > n_proj || rows > n_proj - first)
                        throw invalid_argument("first = " + std::to_string(first) + ", rows = " +
                                               std::to_string(rows) + ": the map has " +
                                               std::to_string(n_proj) + " projections (rows 0 to " +
                                               std::to_string(n_proj - 1) + ")");
                    py::array_t<float> out(
                        {static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(dim)});
                    const matrix_view<float> ov = make_matrix_view(out.mutable_data(), rows, dim);
                    call_without_gil(0,
                                     [&](const exec_options&) { projections(p, dim, first, ov); });
                    return out;
                },
                projections_doc,
                py::arg("dim"),
                py::arg("first"),
                py::arg("rows"),
                py::kw_only(),
                kwargs...);
        },
        feature_kwarg_args_without_beta());

    const feature_params d{};
    m.def(
        "feature_phases",
        [](const std::string& kind, std::int64_t n_features, std::uint64_t seed) {
            const feature_params p = make_feature_params(kind, n_features, 1.0, seed, false);
            validate(p, 1);
            std::vector<double> b = phases(p);
            const auto n = static_cast<py::ssize_t>(b.size());
            return vector_to_array(std::move(b), {n});
        },
        phases_doc,
        py::kw_only(),
        py::arg("kind") = std::string(to_string(d.kind)),
        py::arg("n_features") = d.n_features,
        py::arg("seed") = d.seed);

    m.def(
        "memory_footprint",
        [](std::int64_t n_patterns,
           std::int64_t dim,
           const std::string& kind,
           std::int64_t n_features) {
            const feature_params p = make_feature_params(kind, n_features, 1.0, 0, false);
            validate(p, dim);
            if (n_patterns < 0)
                throw invalid_argument("n_patterns must be >= 0 (got " +
                                       std::to_string(n_patterns) + ")");
            const memory_footprint f = footprint(n_patterns, dim, p);
            py::dict out;
            out["explicit_bytes"] = f.explicit_bytes;
            out["distributed_bytes"] = f.distributed_bytes;
            out["reference_bytes"] = f.reference_bytes;
            out["break_even_patterns"] = f.break_even_patterns;
            return out;
        },
        footprint_doc,
        py::arg("n_patterns"),
        py::arg("dim"),
        py::kw_only(),
        py::arg("kind") = std::string(to_string(d.kind)),
        py::arg("n_features") = d.n_features);
}

}  // namespace denseam::python

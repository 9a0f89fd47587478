// SPDX-License-Identifier: MIT
// A distributed memory as a safetensors file: T as tensor "features" (F64 [Y]) and the map's
// parameters in the metadata, so that a file is a few hundred bytes plus 8 Y.
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/features.hpp"
#include "denseam/safetensors.hpp"
#include "io/files.hpp"
#include "io/format.hpp"
#include "io/metadata.hpp"

namespace denseam {

namespace {
constexpr const char* format_name = "denseam-distributed-memory";
constexpr const char* format_version = "1";
}  // namespace

std::vector<std::byte> distributed_memory::to_bytes() const {
    st_tensor t;
    t.name = "features";
    t.dtype = "F64";
    t.shape = {params_.n_features};
    t.f64 = features_;
    std::map<std::string, std::string> meta;
    meta["format"] = format_name;
    meta["version"] = format_version;
    meta["kind"].assign(to_string(params_.kind));
    meta["n_features"] = std::to_string(params_.n_features);
    meta["beta"] = detail::shortest(params_.beta);
    meta["seed"] = std::to_string(params_.seed);
    meta["dim"] = std::to_string(dim_);
    meta["count"] = std::to_string(count_);
    meta["orthogonal"] = params_.orthogonal ? "true" : "false";
    return to_safetensors_bytes({t}, meta);
}

void distributed_memory::save(const std::string& path) const {
    detail::write_file_atomic(path, to_bytes());
}

distributed_memory distributed_memory::from_parts(std::int64_t dim,
                                                  const feature_params& params,
                                                  std::vector<double> features,
                                                  std::int64_t count,
                                                  const distributed_options& options) {
    validate(params, dim);
    if (static_cast<std::int64_t>(features.size()) != params.n_features)
        throw invalid_argument("features has " + std::to_string(features.size()) +
                               " values for Y = " + std::to_string(params.n_features));
    for (std::size_t j = 0; j < features.size(); ++j)
        if (!std::isfinite(features[j]))
            throw invalid_argument("features[" + std::to_string(j) + "] is not finite");
    if (count < 0) throw invalid_argument("count must be >= 0 (got " + std::to_string(count) + ")");
    distributed_memory m(dim, params, options);
    m.features_ = std::move(features);
    m.count_ = count;
    return m;
}

distributed_memory distributed_memory::load(const std::string& path,
                                            const distributed_options& options) {
    const st_file f = read_safetensors(path);
    const auto& m = f.metadata;
    const auto q = [&](const std::string& s) { return detail::in_quotes(path) + ": " + s; };
    const auto fmt = m.find("format");
    if (fmt == m.end() || fmt->second != format_name)
        throw invalid_argument(q("not a denseam distributed memory (metadata format is not '") +
                               format_name + "')");
    const auto ver = m.find("version");
    if (ver == m.end() || ver->second != format_version)
        throw invalid_argument(q("distributed memory format version ") +
                               (ver == m.end()
                                    ? "missing"
                                    : detail::in_quotes(detail::printable_text(ver->second, 20))) +
                               "; this build reads version " + format_version);
    feature_params p;
    const auto kind = m.find("kind");
    if (kind == m.end()) throw invalid_argument(q("metadata has no kind"));
    try {
        p.kind = parse_feature_kind(kind->second);
    } catch (const invalid_argument& e) {
        throw invalid_argument(q(e.what()));
    }
    constexpr std::int64_t big = std::int64_t(1) << 53;
    p.n_features = detail::metadata_integer(m, "n_features", std::nullopt, 1, big, path);
    p.beta = detail::metadata_number(m, "beta", std::nullopt, path);
    const auto seed = m.find("seed");
    if (seed == m.end()) throw invalid_argument(q("metadata has no seed"));
    try {
        std::size_t used = 0;
        p.seed = std::stoull(seed->second, &used);
        if (used != seed->second.size() || seed->second.empty() || seed->second[0] == '-')
            throw std::invalid_argument("seed");
    } catch (const std::exception&) {
        throw invalid_argument(q("metadata seed = ") +
                               detail::in_quotes(detail::printable_text(seed->second, 30)) +
                               " is not an unsigned 64-bit integer");
    }
    const auto orth = m.find("orthogonal");
    if (orth == m.end() || (orth->second != "true" && orth->second != "false"))
        throw invalid_argument(q("metadata orthogonal must be 'true' or 'false'"));
    p.orthogonal = orth->second == "true";
    const std::int64_t dim = detail::metadata_integer(m, "dim", std::nullopt, 1, big, path);
    const std::int64_t count = detail::metadata_integer(m, "count", std::nullopt, 0, big, path);
    const st_tensor* t = f.find("features");
    if (t == nullptr || f.tensors.size() != 1)
        throw invalid_argument(q("expected exactly one tensor, 'features'"));
    if (t->dtype != "F64" || t->shape.size() != 1 || t->shape[0] != p.n_features)
        throw invalid_argument(
            q("tensor 'features' must be F64 of shape [" + std::to_string(p.n_features) + "]"));
    try {
        return from_parts(dim, p, t->f64, count, options);
    } catch (const invalid_argument& e) {
        throw invalid_argument(q(e.what()));
    }
}

}  // namespace denseam

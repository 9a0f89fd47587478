// SPDX-License-Identifier: MIT
// beta-VAE weights as safetensors files: the tensors of beta_vae::tensors() and the config in the
// metadata.
#include "denseam/error.hpp"
#include "denseam/safetensors.hpp"
#include "denseam/vae.hpp"
#include "io/files.hpp"
#include "io/format.hpp"
#include "io/metadata.hpp"

namespace denseam {
namespace {

double number_of(const std::map<std::string, std::string>& m,
                 const std::string& key,
                 double fallback,
                 const std::string& path) {
    return detail::metadata_number(m, key, fallback, path);
}

std::int64_t size_of(const std::map<std::string, std::string>& m,
                     const std::string& key,
                     std::int64_t fallback,
                     const std::string& path) {
    return detail::metadata_integer(m, key, fallback, 1, 1000000, path);
}

}  // namespace

std::vector<std::byte> vae_to_bytes(const beta_vae& model,
                                    const std::map<std::string, std::string>& metadata) {
    std::vector<st_tensor> ts;
    for (auto& t : model.tensors()) {
        st_tensor s;
        s.name = t.name;
        s.dtype = "F32";
        s.shape = t.shape;
        s.f32 = std::move(t.values);
        ts.push_back(std::move(s));
    }
    std::map<std::string, std::string> meta = metadata;
    const vae_config& c = model.config();
    meta["format"] = "denseam-beta-vae";
    meta["input_dim"] = std::to_string(c.input_dim);
    meta["hidden"] = std::to_string(c.hidden);
    meta["latent"] = std::to_string(c.latent);
    meta["beta_kl"] = detail::shortest(c.beta_kl);
    meta["leaky_slope"] = detail::shortest(c.leaky_slope);
    meta["bn_eps"] = detail::shortest(c.bn_eps);
    meta["bn_momentum"] = detail::shortest(c.bn_momentum);
    return to_safetensors_bytes(ts, meta);
}

void save_vae(const std::string& path,
              const beta_vae& model,
              const std::map<std::string, std::string>& metadata) {
    detail::write_file_atomic(path, vae_to_bytes(model, metadata));
}

std::map<std::string, std::string> vae_metadata(const std::string& path) {
    return read_safetensors(path).metadata;
}

beta_vae load_vae(const std::string& path) {
    const st_file f = read_safetensors(path);
    const auto& m = f.metadata;
    const vae_config d{};
    vae_config c;
    c.input_dim = size_of(m, "input_dim", d.input_dim, path);
    c.hidden = size_of(m, "hidden", d.hidden, path);
    c.latent = size_of(m, "latent", d.latent, path);
    c.beta_kl = number_of(m, "beta_kl", d.beta_kl, path);
    c.leaky_slope = number_of(m, "leaky_slope", d.leaky_slope, path);
    c.bn_eps = number_of(m, "bn_eps", d.bn_eps, path);
    c.bn_momentum = number_of(m, "bn_momentum", d.bn_momentum, path);
    std::vector<named_tensor> ts;
    for (const auto& t : f.tensors) {
        if (t.name.find("num_batches_tracked") != std::string::npos)
            continue;  // PyTorch's counter: not used
        named_tensor n;
        n.name = t.name;
        n.shape = t.shape;
        if (t.uses_f32()) {
            n.values = t.f32;
        } else {
            n.values.reserve(t.f64.size());
            for (double v : t.f64) n.values.push_back(static_cast<float>(v));
        }
        ts.push_back(std::move(n));
    }
    try {
        return beta_vae::from_tensors(c, ts);
    } catch (const invalid_argument& e) {
        throw invalid_argument(detail::in_quotes(path) + ": " + e.what());
    }
}

}  // namespace denseam

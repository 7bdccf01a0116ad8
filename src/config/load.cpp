// Entry points: read the text, parse the YAML, walk the document.
#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "config/config.hpp"
#include "config/diagnostics.hpp"
#include "config/sections.hpp"

namespace xdpd::config {

Config load_string(const std::string& yaml, const std::string& name) {
    detail::Reporter rep(name);
    std::vector<YAML::Node> docs;
    try {
        docs = YAML::LoadAll(yaml);
    } catch (const YAML::Exception& e) {
        rep.error(e.mark, "invalid YAML: " + e.msg);
        throw rep.failure();
    }
    if (docs.size() > 1)
        rep.error(docs[1],
                  fmt::format("the file holds {} YAML documents; a config is one", docs.size()));
    Config cfg = detail::parse_document(docs.empty() ? YAML::Node() : docs[0], rep);
    if (rep.error_count()) throw rep.failure();
    cfg.path = name;
    cfg.warnings = rep.take_warnings();
    return cfg;
}

Config load_file(const std::string& path) {
    auto cannot_read = [&](int err) {
        return ConfigError(
            {Diagnostic{path, 0, 0, std::string("cannot read: ") + std::strerror(err)}});
    };
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "re"), &std::fclose);
    if (!f) throw cannot_read(errno);
    std::string text;
    char buf[8192];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) text.append(buf, n);
    if (std::ferror(f.get())) throw cannot_read(errno);
    return load_string(text, path);
}

}  // namespace xdpd::config

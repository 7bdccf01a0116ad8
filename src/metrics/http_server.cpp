#include "metrics/http_server.hpp"

#include <httplib.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "metrics/exposition.hpp"

namespace xdpd::metrics {

HttpServer::HttpServer(const std::string& listen, Render render) : listen_(listen) {
    const auto colon = listen.rfind(':');
    std::string host = listen.substr(0, colon);
    const int port = std::stoi(listen.substr(colon + 1));
    const bool any = host.empty();
    if (any) host = "::";  // every address, IPv4 too (dual-stack)
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);

    srv_ = std::make_unique<httplib::Server>();
    srv_->set_keep_alive_max_count(10);
    srv_->set_read_timeout(5, 0);
    srv_->set_write_timeout(5, 0);
    srv_->Get("/metrics", [render](const httplib::Request&, httplib::Response& res) {
        try {
            res.set_content(render(), std::string(kContentType).c_str());
        } catch (const std::exception& e) {
            res.status = 500;
            res.set_content(std::string("xdpd: could not collect metrics: ") + e.what() + "\n", "text/plain");
        }
    });
    srv_->Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("<html><body><a href=\"/metrics\">xdpd metrics</a></body></html>\n", "text/html");
    });
    bool bound = srv_->bind_to_port(host.c_str(), port);
    if (!bound && any) bound = srv_->bind_to_port("0.0.0.0", port);  // IPv6 off
    if (!bound)
        throw std::runtime_error("metrics: cannot listen on " + listen + ": " + strerror(errno) +
                                 " (another exporter there? set metrics.listen, or 'off')");
    port_ = port;
    // Signals stay blocked in this thread (the daemon blocks them before
    // starting threads), so they reach the daemon's signalfd.
    thread_ = std::thread([this] { srv_->listen_after_bind(); });
}

HttpServer::~HttpServer() {
    srv_->stop();
    if (thread_.joinable()) thread_.join();
}

}  // namespace xdpd::metrics

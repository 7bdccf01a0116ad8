// The metrics endpoint: GET /metrics answered from its own thread (so a slow
// scraper never stalls the daemon's loop); `render` is called there, and must
// take whatever lock the daemon's state needs. Read-only: every other path
// and method gets 404/405.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace xdpd::metrics {

class HttpServer {
public:
    using Render = std::function<std::string()>;

    // listen: "HOST:PORT", ":PORT" (every address), "[V6]:PORT". Throws with
    // the address and the reason when it cannot bind.
    HttpServer(const std::string& listen, Render render);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    int port() const { return port_; }
    const std::string& listen() const { return listen_; }

private:
    std::string listen_;
    std::unique_ptr<httplib::Server> srv_;
    std::thread thread_;
    int port_ = 0;
};

}  // namespace xdpd::metrics

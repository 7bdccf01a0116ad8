// The daemon's local control API: one JSON request per connection, one JSON
// reply, over a unix stream socket that only root can open (dir 0700, socket 0600).
//   request  {"cmd": "status" | "stats" | "rules" | "reload" | "detach" | "monitor", ...}
//   reply    {"ok": true, "data": ...}  or  {"ok": false, "error": "..."}
#pragma once
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "util/fd.hpp"

namespace xdpd::api {

using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;

class Server {
public:
    // Binds path; refuses when another daemon answers there.
    explicit Server(std::string path);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    int fd() const { return fd_.get(); }
    // Accepts one pending connection and answers it. Errors are logged, never thrown.
    void serve_one(const Handler& handler);

private:
    std::string path_;
    UniqueFd fd_;
};

// Sends one request and returns the reply's "data"; throws with the daemon's
// error, or with how to start it when nothing listens at path.
nlohmann::json call(const std::string& path, const nlohmann::json& request, int timeout_ms = 30000);

// True when a daemon answers at path.
bool reachable(const std::string& path);

}  // namespace xdpd::api

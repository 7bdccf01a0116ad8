// The `syncookies` config section: defaults, limits, and errors with positions.
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"
#include "support/config_errors.hpp"

using namespace xdpd::config;

namespace {

const std::string kIf = "interfaces:\n  - name: eth0\n";

using xdpd::test::only_error;

TEST(SyncookiesConfig, OffWithoutTheSection) {
    auto c = load_string(kIf, "t.yaml");
    EXPECT_FALSE(c.syncookies.enabled);
}

TEST(SyncookiesConfig, DefaultsAndValues) {
    auto c = load_string(kIf + "syncookies:\n  ports: [80, 443]\n", "t.yaml");
    EXPECT_TRUE(c.syncookies.enabled);
    EXPECT_EQ(c.syncookies.ports, (std::vector<uint16_t>{80, 443}));
    EXPECT_EQ(c.syncookies.mss, 1460);
    EXPECT_EQ(c.syncookies.mss6, 1440);
    EXPECT_EQ(c.syncookies.wscale, 7);
    EXPECT_EQ(c.syncookies.ttl, 64);
    EXPECT_EQ(c.syncookies.origin, "t.yaml:4");

    c = load_string(kIf + "syncookies: {ports: [22], mss: 1400, wscale: 9, ttl: 128}\n", "t.yaml");
    EXPECT_EQ(c.syncookies.mss, 1400);
    EXPECT_EQ(c.syncookies.mss6, 1380) << "mss6 follows mss";
    EXPECT_EQ(c.syncookies.wscale, 9);
    EXPECT_EQ(c.syncookies.ttl, 128);

    c = load_string(kIf + "syncookies: {enabled: false}\n", "t.yaml");
    EXPECT_FALSE(c.syncookies.enabled) << "switched off: ports not needed";
}

TEST(SyncookiesConfig, Errors) {
    EXPECT_EQ(only_error(kIf + "syncookies: {}\n"),
              "t.yaml:3:13: error: syncookies needs 'ports': the TCP ports to protect, e.g. ports: [80, 443]");
    EXPECT_EQ(only_error(kIf + "syncookies:\n  ports: [80, 70000]\n"),
              "t.yaml:4:15: error: port 70000 is out of range 1-65535");
    EXPECT_EQ(only_error(kIf + "syncookies:\n  ports: [80, 80]\n"), "t.yaml:4:15: error: port 80 is listed twice");
    EXPECT_EQ(only_error(kIf + "syncookies:\n  ports: [80]\n  wscale: 15\n"),
              "t.yaml:5:11: error: wscale 15 is out of range 0-14");
    EXPECT_EQ(only_error(kIf + "syncookies:\n  ports: [80]\n  mss: 100\n"),
              "t.yaml:5:8: error: mss 100 is out of range 536-9000");
    EXPECT_EQ(only_error(kIf + "syncookies:\n  ports: 80\n"),
              "t.yaml:4:10: error: ports must be a list of TCP ports, got '80'");
    std::string many = "syncookies:\n  ports: [";
    for (int p = 1; p <= 17; ++p) many += std::to_string(p) + (p < 17 ? ", " : "]\n");
    EXPECT_NE(only_error(kIf + many).find("17 ports, SYN cookies protect at most 16"), std::string::npos);
    EXPECT_EQ(only_error(kIf + "syncookies:\n  ports: []\n"),
              "t.yaml:4:10: error: ports is empty: list the TCP ports to protect");
    try {
        load_string(kIf + "syncookies:\n  port: [80]\n", "t.yaml");
        ADD_FAILURE() << "typo accepted";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("unknown syncookies key 'port', did you mean 'ports'?"),
                  std::string::npos);
    }
}

}  // namespace

// The event log's file: events survive a new EventLog (a restarted daemon),
// numbering goes on, the file stays bounded, a cut line is skipped.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "mitigation/events.hpp"

namespace xdpd::mitigation {
namespace {

namespace fs = std::filesystem;

class EventLogFile : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("xdpd-events-" + std::to_string(getpid()));
        fs::create_directories(dir_);
        path_ = (dir_ / "xdpd.events.jsonl").string();
    }
    void TearDown() override { fs::remove_all(dir_); }
    size_t lines() const {
        std::ifstream in(path_);
        size_t n = 0;
        for (std::string l; std::getline(in, l);) ++n;
        return n;
    }

    fs::path dir_;
    std::string path_;
};

TEST_F(EventLogFile, RestoredByTheNextLogAndNumberingGoesOn) {
    {
        EventLog log;
        log.add("early", "", {});  // before the file is known: written after what it restores
        EXPECT_EQ(log.persist(path_), 0u);
        log.add("reload", "", {{"config", "a.yaml"}});
        log.add("ban", "web", {{"source", "192.0.2.1"}});
        EXPECT_EQ(log.last_seq(), 3u);
    }
    EventLog log;
    EXPECT_EQ(log.persist(path_), 3u);
    const auto e = log.since(0);
    ASSERT_EQ(e.size(), 3u);
    EXPECT_EQ(e[0]["type"], "early");
    EXPECT_EQ(e[1]["config"], "a.yaml");
    EXPECT_EQ(e[2]["watch"], "web");
    EXPECT_EQ(e[2]["seq"], 3);
    EXPECT_EQ(log.add("start", "", {})["seq"], 4);
    EXPECT_TRUE(log.counts().count({"start", ""}));
    EXPECT_FALSE(log.counts().count({"ban", "web"})) << "counts are since this start (metrics counters)";
}

TEST_F(EventLogFile, StaysBoundedAndKeepsTheLatest) {
    {
        EventLog log;
        log.persist(path_);
        for (size_t i = 0; i < 5 * kMaxEvents + 7; ++i) log.add("n", "", {{"i", i}});
        EXPECT_LE(lines(), 2 * kMaxEvents);
        EXPECT_EQ(log.since(0).size(), kMaxEvents);
    }
    EventLog log;
    EXPECT_EQ(log.persist(path_), kMaxEvents);
    const auto e = log.since(0);
    EXPECT_EQ(e.front()["seq"], 4 * kMaxEvents + 8);
    EXPECT_EQ(e.back()["seq"], 5 * kMaxEvents + 7);
    EXPECT_EQ(e.back()["i"], 5 * kMaxEvents + 6);
}

TEST_F(EventLogFile, ACutLastLineIsSkipped) {
    {
        EventLog log;
        log.persist(path_);
        log.add("a", "", {});
        log.add("b", "", {});
    }
    std::ofstream(path_, std::ios::app) << R"({"seq":3,"type":"c)";  // a crash mid-write
    EventLog log;
    EXPECT_EQ(log.persist(path_), 2u);
    EXPECT_EQ(log.add("d", "", {})["seq"], 3);
    EXPECT_EQ(lines(), 3u) << "rewritten without the cut line";
}

TEST_F(EventLogFile, AnUnwritablePathIsAnErrorNamingIt) {
    EventLog log;
    try {
        log.persist((dir_ / "missing" / "x.jsonl").string());
        FAIL() << "expected an error";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("missing/x.jsonl"), std::string::npos) << e.what();
    }
    log.add("still", "", {});
    EXPECT_EQ(log.since(0).size(), 1u) << "kept in memory";
}

}  // namespace
}  // namespace xdpd::mitigation

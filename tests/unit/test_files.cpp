// SPDX-License-Identifier: MIT
// Output files (src/io/files.hpp): regular files only, symbolic links written through, inputs
// never outputs, every output checked before work and committed all or nothing; and the small
// text helpers of messages and JSON output (src/io/format.hpp, src/io/json.hpp).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "denseam/error.hpp"
#include "denseam/npy.hpp"
#include "expect.hpp"
#include "io/files.hpp"
#include "io/format.hpp"
#include "io/json.hpp"
#include "io/jsonl.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using denseam::detail::file_plan;

namespace {

using test_support::temp_dir;

std::string read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write(const std::string& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
}

// Every name in the folder (hidden temporaries included).
std::size_t entries(const fs::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}

}  // namespace

TEST(OutputFiles, SymbolicLinkIsWrittenThroughToItsTarget) {
    temp_dir d;
    write(d.file("target.txt"), "old");
    fs::create_symlink(d.file("target.txt"), d.file("link.txt"));
    denseam::detail::write_file_atomic(d.file("link.txt"), std::string_view("new"));
    EXPECT_TRUE(fs::is_symlink(d.file("link.txt")));  // the link stays a link
    EXPECT_EQ(read(d.file("target.txt")), "new");
    EXPECT_EQ(entries(d.path), 2u);  // no temporary left
}

TEST(OutputFiles, DanglingLinkFifoDeviceAndDirectoryAreRefusedUntouched) {
    temp_dir d;
    fs::create_symlink(d.file("missing.txt"), d.file("dangling"));
    ASSERT_EQ(::mkfifo(d.file("fifo").c_str(), 0644), 0);
    fs::create_directory(d.file("dir"));
    expect_throw_msg<denseam::invalid_argument>(
        [&] { denseam::detail::write_file_atomic(d.file("dangling"), std::string_view("x")); },
        {"dangling", "symbolic link to a file that does not exist"});
    expect_throw_msg<denseam::invalid_argument>(
        [&] { denseam::detail::write_file_atomic(d.file("fifo"), std::string_view("x")); },
        {"fifo", "FIFO", "only regular files"});
    expect_throw_msg<denseam::invalid_argument>(
        [&] { denseam::detail::write_file_atomic(d.file("dir"), std::string_view("x")); },
        {"is a directory"});
    expect_throw_msg<denseam::invalid_argument>(
        [&] { denseam::detail::write_file_atomic("/dev/null", std::string_view("x")); },
        {"/dev/null", "character device"});
    EXPECT_TRUE(fs::is_fifo(d.file("fifo")));
    EXPECT_TRUE(fs::is_character_file("/dev/null"));
    EXPECT_FALSE(fs::exists(d.file("missing.txt")));
    EXPECT_EQ(entries(d.path), 3u);
    // The public writer follows the same rules.
    const std::vector<double> v = {1.0};
    const std::int64_t shape[] = {1};
    expect_throw_msg<denseam::invalid_argument>(
        [&] { denseam::write_npy(d.file("fifo"), v, shape); }, {"FIFO"});
}

TEST(OutputFiles, PlanRefusesAnInputAsOutputAndTwoOutputsOfOneFile) {
    temp_dir d;
    write(d.file("P.npy"), "input");
    fs::create_symlink(d.file("P.npy"), d.file("alias.npy"));
    file_plan a;
    a.input("--patterns", d.file("P.npy"));
    expect_throw_msg<denseam::invalid_argument>([&] { a.output("--out", d.file("P.npy")); },
                                                {"--out", "is also the input --patterns"});
    // The same file under another name (a link) is caught too.
    expect_throw_msg<denseam::invalid_argument>([&] { a.output("--out", d.file("alias.npy")); },
                                                {"is also the input --patterns"});
    file_plan b;
    b.output("--out", d.file("E.npy"));
    expect_throw_msg<denseam::invalid_argument>([&] { b.output("--grad", d.file("./E.npy")); },
                                                {"--grad", "--out", "same file"});
    // An input declared after an output is checked as well.
    file_plan c;
    c.output("--out", d.file("P.npy"));
    expect_throw_msg<denseam::invalid_argument>([&] { c.input("--queries", d.file("P.npy")); },
                                                {"is also the input --queries"});
    EXPECT_EQ(read(d.file("P.npy")), "input");
}

TEST(OutputFiles, MissingDirectoryIsRefusedBeforeAnythingIsWritten) {
    temp_dir d;
    write(d.file("E.npy"), "previous");
    file_plan p;
    p.output("--out", d.file("E.npy"));
    expect_throw_msg<denseam::invalid_argument>(
        [&] { p.output("--grad", d.file("missing_dir/G.npy")); },
        {"--grad", "missing_dir", "does not exist"});
    EXPECT_EQ(read(d.file("E.npy")), "previous");
}

TEST(OutputFiles, CommitIsAllOrNothing) {
    temp_dir d;
    write(d.file("a.txt"), "old a");
    fs::create_directory(d.file("sub"));
    file_plan p;
    p.output("--a", d.file("a.txt"));
    p.output("--b", d.file("sub/b.txt"));
    p.set(d.file("a.txt"), std::string_view("new a"));
    p.set(d.file("sub/b.txt"), std::string_view("new b"));
    // The second output's folder disappears before the commit: nothing at all is written.
    fs::remove(d.file("sub"));
    EXPECT_THROW(p.commit(), denseam::invalid_argument);
    EXPECT_EQ(read(d.file("a.txt")), "old a");
    EXPECT_EQ(entries(d.path), 1u);  // a.txt only: no temporary, no backup
    // With the folder back, both are written and nothing else is left.
    fs::create_directory(d.file("sub"));
    p.commit();
    EXPECT_EQ(read(d.file("a.txt")), "new a");
    EXPECT_EQ(read(d.file("sub/b.txt")), "new b");
    EXPECT_EQ(entries(d.path), 2u);
    EXPECT_EQ(entries(d.file("sub")), 1u);
}

TEST(OutputFiles, FolderOfOutputsIsCreatedAtCommit) {
    temp_dir d;
    file_plan p;
    p.output_dir("--out", d.file("new/deeper"));
    p.output("--out", d.file("new/deeper/r.json"));
    p.external_output("--out", d.file("new/deeper/r.png"));
    EXPECT_FALSE(fs::exists(d.file("new")));  // nothing is created before the commit
    p.set(d.file("new/deeper/r.json"), std::string_view("{}"));
    p.commit();
    EXPECT_EQ(read(d.file("new/deeper/r.json")), "{}");
    EXPECT_EQ(p.target(d.file("new/deeper/r.png")), d.file("new/deeper/r.png"));
    write(d.file("plain"), "x");
    file_plan q;
    expect_throw_msg<denseam::invalid_argument>([&] { q.output_dir("--out", d.file("plain/sub")); },
                                                {"exists and is not a directory"});
}

TEST(ResultsFile, ForeignFileIsRefusedUntouched) {
    temp_dir d;
    const std::string notes = d.file("notes.txt");
    write(notes, "my notes\nlast line without newline");
    const auto accept_objects = [](std::string_view line) {
        if (line.empty() || line.front() != '{') throw std::runtime_error("not an object");
    };
    expect_throw_msg<denseam::invalid_argument>(
        [&] { denseam::detail::jsonl_results("--out", notes, "LMIN0", accept_objects); },
        {"--out", "notes.txt", "line 1", "not a LMIN0 result line", "not changed"});
    EXPECT_EQ(read(notes), "my notes\nlast line without newline");
    // A file of ours with a partial last line (a killed run) is repaired only when appended to.
    const std::string ours = d.file("ours.jsonl");
    write(ours, "{\"a\": 1}\n{\"a\": 2, \"b");
    denseam::detail::jsonl_results r("--out", ours, "LMIN0", accept_objects);
    EXPECT_EQ(r.lines(), 1);
    EXPECT_EQ(read(ours), "{\"a\": 1}\n{\"a\": 2, \"b");
    r.append("{\"a\": 3}\n");
    EXPECT_EQ(read(ours), "{\"a\": 1}\n{\"a\": 3}\n");
    // A partial last line that is not ours is not cut off.
    const std::string mixed = d.file("mixed.jsonl");
    write(mixed, "{\"a\": 1}\nhello");
    EXPECT_THROW(denseam::detail::jsonl_results("--out", mixed, "LMIN0", accept_objects),
                 denseam::invalid_argument);
    EXPECT_EQ(read(mixed), "{\"a\": 1}\nhello");
}

TEST(MessageText, ShortestRoundTripsAndLooksLikeAFloat) {
    using denseam::detail::shortest;
    EXPECT_EQ(shortest(-1e-300), "-1e-300");  // never "-0.000000"
    EXPECT_EQ(shortest(0.1), "0.1");
    EXPECT_EQ(shortest(-1.0), "-1.0");
    EXPECT_EQ(shortest(0.0), "0.0");
    EXPECT_EQ(shortest(2.5e39), "2.5e+39");
    EXPECT_EQ(shortest(std::numeric_limits<double>::infinity()), "inf");
    for (double v : {1.0 / 3.0, 6.02214076e23, 5e-324, 123456.789})
        EXPECT_EQ(std::strtod(shortest(v).c_str(), nullptr), v);
}

TEST(JsonOutput, NonFiniteNumbersAreNamedExactly) {
    using denseam::detail::json_number;
    EXPECT_EQ(json_number(std::nan("")), "nan");
    EXPECT_EQ(json_number(-std::numeric_limits<double>::infinity()), "-inf");
    EXPECT_EQ(json_number(std::numeric_limits<double>::infinity()), "inf");
    EXPECT_EQ(json_number(-2.5).get<double>(), -2.5);
}

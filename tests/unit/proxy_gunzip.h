// Test helper: inflates a gzip stream, complete or (with Z_SYNC_FLUSH points) a prefix of one.
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace ne::proxy {

inline std::string gunzip(const std::string& in, bool expect_end = true) {
    z_stream zs{};
    EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    std::string out;
    char buf[4096];
    int rc = Z_OK;
    while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof buf;
        rc = inflate(&zs, Z_NO_FLUSH);
        out.append(buf, sizeof buf - zs.avail_out);
        if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;   // a prefix: all input used
    }
    EXPECT_EQ(rc, expect_end ? Z_STREAM_END : Z_BUF_ERROR);
    inflateEnd(&zs);
    return out;
}

}  // namespace ne::proxy

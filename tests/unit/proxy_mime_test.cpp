#include <gtest/gtest.h>

#include "proxy/static/mime.h"

namespace ne::proxy {
namespace {

TEST(Mime, TypeByExtensionOfTheLastSegment) {
    EXPECT_EQ(mime_type("/srv/www/index.html"), "text/html; charset=utf-8");
    EXPECT_EQ(mime_type("page.htm"), "text/html; charset=utf-8");
    EXPECT_EQ(mime_type("/a/app.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(mime_type("mod.mjs"), "text/javascript; charset=utf-8");
    EXPECT_EQ(mime_type("style.css"), "text/css; charset=utf-8");
    EXPECT_EQ(mime_type("data.json"), "application/json");
    EXPECT_EQ(mime_type("app.js.map"), "application/json");
    EXPECT_EQ(mime_type("logo.svg"), "image/svg+xml");
    EXPECT_EQ(mime_type("photo.jpeg"), "image/jpeg");
    EXPECT_EQ(mime_type("photo.jpg"), "image/jpeg");
    EXPECT_EQ(mime_type("pic.avif"), "image/avif");
    EXPECT_EQ(mime_type("pic.webp"), "image/webp");
    EXPECT_EQ(mime_type("font.woff2"), "font/woff2");
    EXPECT_EQ(mime_type("font.woff"), "font/woff");
    EXPECT_EQ(mime_type("module.wasm"), "application/wasm");
    EXPECT_EQ(mime_type("archive.tar.gz"), "application/gzip");
    EXPECT_EQ(mime_type("movie.mp4"), "video/mp4");
    EXPECT_EQ(mime_type("notes.md"), "text/markdown; charset=utf-8");
    EXPECT_EQ(mime_type("report.csv"), "text/csv; charset=utf-8");
    EXPECT_EQ(mime_type("doc.pdf"), "application/pdf");
    EXPECT_EQ(mime_type("site.webmanifest"), "application/manifest+json");
}

TEST(Mime, ExtensionIsCaseInsensitive) {
    EXPECT_EQ(mime_type("/A/INDEX.HTML"), "text/html; charset=utf-8");
    EXPECT_EQ(mime_type("Photo.PnG"), "image/png");
}

TEST(Mime, UnknownOrMissingExtensionIsOctetStream) {
    EXPECT_EQ(mime_type("README"), "application/octet-stream");
    EXPECT_EQ(mime_type("/srv/dir.d/file"), "application/octet-stream");  // the dot is in a folder
    EXPECT_EQ(mime_type("trailing."), "application/octet-stream");
    EXPECT_EQ(mime_type("x.unknownext"), "application/octet-stream");
    EXPECT_EQ(mime_type(""), "application/octet-stream");
    EXPECT_EQ(mime_type("x." + std::string(200, 'h')), "application/octet-stream");
}

TEST(Mime, MediaTypeDropsParametersAndBlanks) {
    EXPECT_EQ(media_type("text/html; charset=utf-8"), "text/html");
    EXPECT_EQ(media_type("  application/json  "), "application/json");
    EXPECT_EQ(media_type("image/png"), "image/png");
    EXPECT_EQ(media_type(""), "");
}

TEST(Mime, CompressibleTypes) {
    for (const char* t : {"text/html; charset=utf-8", "text/plain", "TEXT/CSS", "application/json",
                          "application/ld+json", "application/x-ndjson", "text/javascript",
                          "application/javascript", "application/xml", "image/svg+xml", "application/rss+xml",
                          "application/wasm", "font/ttf", "image/x-icon"})
        EXPECT_TRUE(compressible(t)) << t;
}

TEST(Mime, IncompressibleTypes) {
    for (const char* t : {"image/png", "image/jpeg", "image/webp", "image/avif", "video/mp4", "audio/mpeg",
                          "application/zip", "application/gzip", "application/x-brotli", "font/woff2",
                          "font/woff", "application/octet-stream", "application/pdf", "", "nonsense"})
        EXPECT_FALSE(compressible(t)) << t;
}

}  // namespace
}  // namespace ne::proxy

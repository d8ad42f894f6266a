// File extension -> Content-Type (nginx's mime.types, common set), and which types are worth
// compressing. Pure lookups over a static table; nothing allocates.
#pragma once

#include <string_view>

namespace ne::proxy {

// Content-Type for a file path or name: by the extension of its last segment, compared
// case-insensitively. Text types carry "; charset=utf-8". Unknown or no extension:
// "application/octet-stream", as nginx's default_type.
std::string_view mime_type(std::string_view path);

// The media type of a Content-Type value, without parameters or surrounding blanks:
// "Text/HTML; charset=utf-8" -> "Text/HTML" (compare it case-insensitively).
std::string_view media_type(std::string_view content_type);

// Whether gzip can shrink a body of this Content-Type: text/*, JSON, JavaScript, XML (SVG,
// Atom, RSS), WebAssembly and uncompressed font formats. Never images, audio, video or
// archives, which are compressed already and would only cost CPU.
bool compressible(std::string_view content_type);

}  // namespace ne::proxy

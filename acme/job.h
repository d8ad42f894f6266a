// The `nodeedge __acme-job` process: one certificate's check, and its order when due or
// forced (protocol in ipc/acme_job.h). It keeps the account key and the certificates under
// $NODEEDGE_HOME/acme/ (0600), and never replaces a certificate with anything but a newly
// issued one: a failed order leaves the old one serving.
#pragma once

#include <istream>
#include <ostream>

namespace ne::acme {

inline constexpr const char* kJobVerb = "__acme-job";

// Reads the Job from `in`, talks to the daemon over `in`/`out`, writes the Outcome last.
// Returns the exit code (0 even when the order failed: the Outcome says why).
int run_job(std::istream& in, std::ostream& out);

}  // namespace ne::acme

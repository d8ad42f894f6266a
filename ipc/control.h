// The CLI <-> daemon control protocol: one request frame, one reply frame (ipc/channel.h
// framing) on the Unix socket $NODEEDGE_HOME/daemon.sock.
//
// Request: {"v": 1, "version": "<the CLI's nodeedge version>", "cmd": "<name>", ...args}
// Reply:   {"ok": true, "daemon_version": "<the daemon's>", ...data}  or
//          {"ok": false, "error": "<one line, with context>"}
// Version skew: a request of another protocol version is refused with both versions named,
// except ping, status, upgrade and kill, whose shapes never change (works_across_versions), so
// a newly installed CLI can always see and replace or stop an older daemon.
//
// Commands and their arguments:
//   ping                                   -> {pid, version, upgrade?: {id, ok, from?, to?, error?}}
//   upgrade  {binary?}                     -> {id, pid, from, to} before the daemon execs the new
//            binary (which must first pass `__upgrade-probe`); the outcome comes through ping
//   start    {file?, script?, instances?, name?, only?, port?}
//            file/script are absolute; instances as written ("4", "max", "-1").
//            Replies once every started worker is ready, or fails naming the worker and why.
//                                          -> {workers: [row...], proxy: {...}}
//   start    {targets, missing_file?}      PM2's `start NAME|ID`: stopped apps or workers again,
//            with their stored config; missing_file: the CLI's error for a file of that name
//   startOrReload / startOrRestart {file}  start the file's apps that do not run; reload
//            (rolling) or restart those that do, with the file's config
//   reload   {targets}   a single absolute ecosystem.toml path, or as below
//   restart  {targets}   stop {targets}   delete {targets}   reset {targets}
//            targets: ["all" | app name | worker id, ...] (empty: all), resolved by
//            supervisor/targets.h; an unknown one fails the request before anything is done
//   scale    {app, instances: int} or {app, delta: int}   (app: a name or a worker id's app)
//   status                                 -> {workers: [row...], proxy: {...}, apps: [...]}
//   jlist                                  -> {processes: [PM2 process object...]} (supervisor/jlist.h)
//   env      {id}                          -> {worker, pid, env: ["K=V"...]} (/proc/<pid>/environ)
//   signal   {signal: int, targets}        -> {signalled: ["api:0 pid 123", ...]}
//   describe {app}                         -> {app: {...config}, workers: [row...], events: [...]}
//            (no app of that name but a tls = "auto" certificate: {certificate: {...}, events: [...]})
//   certs                                  -> {certificates: [{name, names, state, issuer, not_before,
//                                              not_after, next_renewal, renewal_info, last_error, ...}]}
//   certs    {renew: NAME}                 orders NAME's certificate now; replies when it is done
//                                          -> {ordered, certificate: {...}}, or fails with the CA's reason
//   logs     {app?}                        -> {files: [{app, stream: "out"|"err", path}]}
//   flush    {targets?}                    -> {files: [path...]}   (no targets: every app)
//   cache_purge {location, prefix}        -> {purged: int}  ("" for either: every one)
//   save     resurrect
//   kill                                   -> replies when every app is stopped; daemon exits.
//
// A worker row: {id, name, instance, mode, pid, port, status, restarts, uptime_ms,
//                cpu_percent, memory_bytes}  (SPEC.md's `status --json` fields).
// `restarts` counts every restart of the instance, as PM2's ↺: crashes and requested ones
// (restart, reload, memory limit, health check); each is a "restart" event with its reason.
// proxy: {listen: ["127.0.0.1:8080", ...], connections, requests_per_sec,
//         workers: [{pid, status}]}
// An app: {name, requests_per_sec, p99_ms}. Rates and p99 are over the same last ten seconds
// of the counters /metrics exposes; the proxy's counts every request it answered, an app's
// those its workers answered (p99 of their upstream time).
// An event: {ts_ms, worker: "api:1", kind: "start"|"exit"|"restart"|"memory"|"reload"|..., detail}
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "ipc/result.h"

namespace ne::ipc::control {

using nlohmann::json;

constexpr int kVersion = 1;

json request(const std::string& cmd, json args = json::object());
// The verbs a CLI of another protocol version may still use.
bool works_across_versions(std::string_view cmd);
// Checks that "cmd" is a string and the version (see above).
Result<json> parse_request(std::string_view payload);

json ok(json data = json::object());
json fail(const std::string& message);

// $NODEEDGE_HOME, else ~/.nodeedge (from $HOME, else the passwd entry).
std::string home_dir();
std::string socket_path(const std::string& home);
std::string pid_path(const std::string& home);
std::string state_db_path(const std::string& home);
std::string logs_dir(const std::string& home);
std::string daemon_log_path(const std::string& home);
// The keeper's socket (supervisor/keeper.h): while it answers, the workers outlive a daemon.
std::string keeper_socket_path(const std::string& home);

}  // namespace ne::ipc::control

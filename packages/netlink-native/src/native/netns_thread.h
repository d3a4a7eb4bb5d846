// Runs work inside a network namespace on dedicated worker threads, so the Node main thread never
// changes namespace for long (see CallInNetns in netns.cc for the one short exception). Sockets
// and tun devices keep the namespace they were created in.
#pragma once
#include <napi.h>

#include <functional>
#include <string>

namespace lab {

// A job: returns 0 or an errno, and on failure names the failed step in *step.
using NetnsWork = std::function<int(std::string* step)>;

// Wraps work so that it runs after entering netnsPath ("" = the process's own namespace: no
// setns at all).
NetnsWork InNetns(const std::string& netnsPath, NetnsWork work);

// Runs work on the synchronous worker and waits for it: the calling thread blocks for the time
// of one setns plus the work (a socket() or open(), some microseconds). Returns 0 or an errno.
int RunNetnsSync(const NetnsWork& work, std::string* step);

// Runs work on the asynchronous worker and returns a promise at once. On the main thread, after
// the work: `resolve(env)` gives the value on success; on failure the promise rejects with the
// errno error. `undo()` (if any) runs whenever the value will not be delivered, and releases what
// the work made, if anything (an fd: the work may have succeeded before the worker failed to go home).
Napi::Promise RunNetnsAsync(Napi::Env env, NetnsWork work, std::function<Napi::Value(Napi::Env)> resolve,
                            std::function<void()> undo = nullptr);

}  // namespace lab

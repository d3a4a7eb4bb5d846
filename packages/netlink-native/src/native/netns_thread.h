// Runs work inside a network namespace on a dedicated worker thread, so the Node main thread never
// changes namespace. Sockets and tun devices keep the namespace they were created in.
#pragma once
#include <functional>
#include <string>

namespace lab {

// Runs fn on the worker after it entered netnsPath ("" = the process's own namespace), then returns
// the worker to its home namespace. Returns 0 or an errno; on failure *failedSyscall names the step.
int RunInNetns(const std::string& netnsPath, const std::function<int()>& fn, std::string* failedSyscall);

// Runs fn on the worker; fn may unshare() into a new namespace, the worker goes home afterwards.
int RunOnNetnsWorker(const std::function<int()>& fn, std::string* failedSyscall);

}  // namespace lab

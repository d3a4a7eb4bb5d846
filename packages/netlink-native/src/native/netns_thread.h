// Runs a function on a short-lived thread that has entered a network namespace, so the Node main
// thread never changes namespace. Sockets and tun devices keep the namespace they were created in.
#pragma once
#include <functional>
#include <string>

namespace lab {

// Returns 0 or an errno; on failure *failedSyscall names the step that failed.
int RunInNetns(const std::string& netnsPath, const std::function<int()>& fn, std::string* failedSyscall);

}  // namespace lab

#include "netns_thread.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

namespace lab {

int RunInNetns(const std::string& netnsPath, const std::function<int()>& fn, std::string* failedSyscall) {
  if (netnsPath.empty()) {
    *failedSyscall = "";
    int err = fn();
    return err;
  }
  int result = 0;
  std::string step;
  std::thread worker([&]() {
    int nsfd = open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) { result = errno; step = "open " + netnsPath; return; }
    if (setns(nsfd, CLONE_NEWNET) != 0) { result = errno; step = "setns " + netnsPath; close(nsfd); return; }
    close(nsfd);
    result = fn();
  });
  worker.join();
  *failedSyscall = step;
  return result;
}

}  // namespace lab

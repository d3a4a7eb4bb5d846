#include "netns_thread.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace lab {
namespace {

// One long-lived thread instead of a thread per call: creating a thread costs about as much as
// creating a namespace. After each job the thread setns()es back to the namespace it started in,
// as `ip -batch` does, so it never pins a namespace that was deleted.
class NetnsWorker {
 public:
  static NetnsWorker& Get() {
    static NetnsWorker* worker = new NetnsWorker();  // never destroyed: the thread lives with the process
    return *worker;
  }

  // Runs job on the worker. Returns the job's result, or EIO with *step set when the worker could
  // not return to its home namespace (it then refuses all further work).
  int Run(const std::function<int()>& job, std::string* step) {
    std::lock_guard<std::mutex> callers(callMutex_);
    std::unique_lock<std::mutex> lock(mutex_);
    if (lostHome_) { *step = "netns worker: setns home"; return EIO; }
    job_ = &job;
    done_ = false;
    wake_.notify_one();
    finished_.wait(lock, [this] { return done_; });
    if (lostHome_ && result_ == 0) { *step = "netns worker: setns home"; return EIO; }
    return result_;
  }

 private:
  NetnsWorker() { std::thread([this] { Loop(); }).detach(); }

  void Loop() {
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return job_ != nullptr; });
      const std::function<int()>* job = job_;
      job_ = nullptr;
      lock.unlock();
      int result = (*job)();
      bool home_ok = home >= 0 && setns(home, CLONE_NEWNET) == 0;
      lock.lock();
      if (!home_ok) lostHome_ = true;
      result_ = result;
      done_ = true;
      finished_.notify_one();
    }
  }

  std::mutex callMutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable finished_;
  const std::function<int()>* job_ = nullptr;
  bool done_ = false;
  bool lostHome_ = false;
  int result_ = 0;
};

}  // namespace

int RunOnNetnsWorker(const std::function<int()>& fn, std::string* failedSyscall) {
  failedSyscall->clear();
  return NetnsWorker::Get().Run(fn, failedSyscall);
}

int RunInNetns(const std::string& netnsPath, const std::function<int()>& fn, std::string* failedSyscall) {
  failedSyscall->clear();
  if (netnsPath.empty()) return fn();
  std::string step;
  int err = NetnsWorker::Get().Run([&]() {
    int nsfd = open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) { step = "open " + netnsPath; return errno; }
    int rc = setns(nsfd, CLONE_NEWNET);
    int setnsErr = errno;
    close(nsfd);
    if (rc != 0) { step = "setns " + netnsPath; return setnsErr; }
    return fn();
  }, failedSyscall);
  if (failedSyscall->empty()) *failedSyscall = step;
  return err;
}

}  // namespace lab

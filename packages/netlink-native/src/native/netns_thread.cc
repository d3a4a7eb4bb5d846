#include "netns_thread.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "errno_error.h"

namespace lab {
namespace {

using Done = std::function<void(int err, const std::string& step)>;

// A long-lived thread with a job queue instead of a thread per call: creating a thread costs about
// as much as creating a namespace. After each job the thread setns()es back to the namespace it
// started in, as `ip -batch` does, so it never pins a namespace that was deleted.
class NetnsWorker {
 public:
  // Two workers: synchronous callers (socketAt, openAt) must not wait behind a queue of
  // asynchronous jobs (200 namespace creates) while the main thread is blocked.
  static NetnsWorker& Sync() {
    static NetnsWorker* worker = new NetnsWorker();  // never destroyed: the thread lives with the process
    return *worker;
  }
  static NetnsWorker& Async() {
    static NetnsWorker* worker = new NetnsWorker();
    return *worker;
  }

  // Queues work; `done` runs on the worker after it went home (or failed to: then it refuses all
  // further work with EIO).
  void Post(NetnsWork work, Done done) {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back({std::move(work), std::move(done)});
    wake_.notify_one();
  }

 private:
  struct Job {
    NetnsWork work;
    Done done;
  };

  NetnsWorker() { std::thread([this] { Loop(); }).detach(); }

  void Loop() {
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    bool lostHome = home < 0;
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      if (lostHome) {
        job.done(EIO, "netns worker: setns home");
        continue;
      }
      std::string step;
      int err = job.work(&step);
      if (setns(home, CLONE_NEWNET) != 0) {
        lostHome = true;
        if (err == 0) { err = EIO; step = "netns worker: setns home"; }
      }
      job.done(err, step);
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
};

// One pending asynchronous call: its promise and the thread-safe function that brings the result
// back to the main thread.
struct AsyncCall {
  Napi::Promise::Deferred deferred;
  Napi::ThreadSafeFunction tsfn;
  std::function<Napi::Value(Napi::Env)> resolve;
  std::function<void()> undo;
  int err = 0;
  std::string step;
};

void Complete(Napi::Env env, Napi::Function, AsyncCall* call) {
  if (env != nullptr) {
    Napi::HandleScope scope(env);
    if (call->err == 0) {
      call->deferred.Resolve(call->resolve(env));
    } else {
      if (call->undo) call->undo();
      call->deferred.Reject(ErrnoError(env, call->err, call->step).Value());
    }
  } else if (call->undo) {
    call->undo();  // the environment is going away: nobody will take what the work made
  }
  call->tsfn.Release();
  delete call;
}

}  // namespace

NetnsWork InNetns(const std::string& netnsPath, NetnsWork work) {
  if (netnsPath.empty()) return work;
  return [netnsPath, work = std::move(work)](std::string* step) {
    int nsfd = open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) { *step = "open " + netnsPath; return errno; }
    int rc = setns(nsfd, CLONE_NEWNET);
    int setnsErr = errno;
    close(nsfd);
    if (rc != 0) { *step = "setns " + netnsPath; return setnsErr; }
    return work(step);
  };
}

int RunNetnsSync(const NetnsWork& work, std::string* step) {
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  int result = 0;
  NetnsWorker::Sync().Post([&work](std::string* s) { return work(s); }, [&](int err, const std::string& s) {
    std::lock_guard<std::mutex> lock(mutex);
    result = err;
    *step = s;
    done = true;
    finished.notify_one();
  });
  std::unique_lock<std::mutex> lock(mutex);
  finished.wait(lock, [&] { return done; });
  return result;
}

Napi::Promise RunNetnsAsync(Napi::Env env, NetnsWork work, std::function<Napi::Value(Napi::Env)> resolve,
                            std::function<void()> undo) {
  auto* call = new AsyncCall{Napi::Promise::Deferred::New(env), {}, std::move(resolve), std::move(undo), 0, {}};
  Napi::Promise promise = call->deferred.Promise();
  // The thread-safe function keeps the event loop alive until the result is delivered.
  call->tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function(), "lab:netns", 0, 1);
  NetnsWorker::Async().Post(std::move(work), [call](int err, const std::string& step) {
    call->err = err;
    call->step = step;
    if (call->tsfn.BlockingCall(call, Complete) != napi_ok) {
      // The environment is shutting down and will not run Complete.
      if (call->undo) call->undo();
      call->tsfn.Release();
      delete call;
    }
  });
  return promise;
}

}  // namespace lab

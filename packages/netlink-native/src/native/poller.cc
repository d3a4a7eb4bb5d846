// Event-loop integration: a uv_poll on an fd that calls back into JS when it becomes readable or
// writable. JS then drains with non-blocking syscalls; nothing here reads or writes.
#include <uv.h>

#include "args.h"
#include "errno_error.h"

namespace lab {
namespace {

class Poller : public Napi::ObjectWrap<Poller> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Poller", {
      InstanceMethod("start", &Poller::Start),
      InstanceMethod("stop", &Poller::Stop),
      InstanceMethod("close", &Poller::Close),
    });
  }

  // new Poller(fd, callback(status, events))
  explicit Poller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Poller>(info) {
    Napi::Env env = info.Env();
    int fd;
    Napi::Function callback;
    if (!ArgCountAtMost(info, 2, "Poller") || !FdArg(info, 0, "fd", &fd) || !FunctionArg(info, 1, "callback", &callback)) return;
    callback_ = Napi::Persistent(callback);
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    handle_ = new uv_poll_t;
    int rc = uv_poll_init(loop, handle_, fd);
    if (rc != 0) {
      delete handle_;
      handle_ = nullptr;
      ThrowErrno(env, -rc, "uv_poll_init");
      return;
    }
    handle_->data = this;
  }

  ~Poller() override {
    // The JS object can only be collected once close() dropped the self-reference.
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    int64_t events;
    if (!ArgCountAtMost(info, 1, "Poller.start") ||
        !IntArg(info, 0, "events", 0, UV_READABLE | UV_WRITABLE | UV_DISCONNECT | UV_PRIORITIZED, &events)) {
      return info.Env().Undefined();
    }
    if (!handle_) return info.Env().Undefined();
    int rc = uv_poll_start(handle_, static_cast<int>(events), &Poller::OnEvent);
    if (rc != 0) return ThrowErrno(info.Env(), -rc, "uv_poll_start");
    if (!active_) { Ref(); active_ = true; }
    return info.Env().Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (!ArgCountAtMost(info, 0, "Poller.stop")) return info.Env().Undefined();
    if (handle_) uv_poll_stop(handle_);
    if (active_) { Unref(); active_ = false; }
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!ArgCountAtMost(info, 0, "Poller.close")) return info.Env().Undefined();
    if (!handle_) return info.Env().Undefined();
    uv_poll_stop(handle_);
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(handle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    handle_ = nullptr;
    if (active_) { Unref(); active_ = false; }
    return info.Env().Undefined();
  }

  static void OnEvent(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<Poller*>(handle->data);
    if (!self) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    // MakeCallback runs microtasks and surfaces exceptions like any other libuv callback.
    self->callback_.MakeCallback(env.Global(), {Napi::Number::New(env, status), Napi::Number::New(env, events)});
  }

  uv_poll_t* handle_ = nullptr;
  bool active_ = false;
  Napi::FunctionReference callback_;
};

}  // namespace

void InitPoller(Napi::Env env, Napi::Object exports) {
  exports.Set("Poller", Poller::Define(env));
  exports.Set("POLL_READABLE", Napi::Number::New(env, UV_READABLE));
  exports.Set("POLL_WRITABLE", Napi::Number::New(env, UV_WRITABLE));
}

}  // namespace lab

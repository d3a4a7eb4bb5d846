// Event-loop integration: a uv_poll on an fd that calls back into JS when it becomes readable or
// writable. JS then drains with non-blocking syscalls; nothing here reads or writes.
#include <uv.h>

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
    int fd = FdArg(info, 0);
    if (fd < 0) return;
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
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
    if (!handle_) return info.Env().Undefined();
    int events = info[0].As<Napi::Number>().Int32Value();
    int rc = uv_poll_start(handle_, events, &Poller::OnEvent);
    if (rc != 0) return ThrowErrno(info.Env(), -rc, "uv_poll_start");
    if (!active_) { Ref(); active_ = true; }
    return info.Env().Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (handle_) uv_poll_stop(handle_);
    if (active_) { Unref(); active_ = false; }
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
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

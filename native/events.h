// Event delivery: libvirt calls its event callbacks on the event-loop thread
// (native/event_loop.cc); each callback copies what it was given into an EventRecord and posts
// it to the environment that registered it through one napi thread-safe function per
// environment. The thread-safe function is unref'd: events never keep an idle process alive.
//
// A record carries the subscription number lib/events.ts chose; lib/events.ts drops records
// whose subscription it has already given up, so no event reaches a listener after `off`.
// The Connect methods that register callbacks live in native/events.cc as well.
#pragma once
#include <napi.h>

namespace virtkit {

// setEventDispatcher(fn(subscription, event)): the JS function every event is handed to.
Napi::Value SetEventDispatcher(const Napi::CallbackInfo& info);
// holdEvents(bool): ref / unref the thread-safe function (lib/emitter.ts counts holders).
Napi::Value HoldEvents(const Napi::CallbackInfo& info);

}  // namespace virtkit

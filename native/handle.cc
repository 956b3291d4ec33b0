#include "handle.h"

namespace virtkit {

thread_local NativeConstruct::Slot NativeConstruct::slot_ = {nullptr, false};

void ReleaseOffThread(std::function<void()> job) { RunOffThread(std::move(job)); }

}  // namespace virtkit

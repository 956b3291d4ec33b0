#include "handle.h"

namespace virtkit {

int kNativeConstructToken = 0;

void ReleaseOffThread(std::function<void()> job) { RunOffThread(std::move(job)); }

}  // namespace virtkit

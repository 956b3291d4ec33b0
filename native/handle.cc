#include "handle.h"
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace virtkit {

int kNativeConstructToken = 0;

namespace {
struct Reaper {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;
  bool started = false;

  void Push(std::function<void()> job) {
    std::lock_guard<std::mutex> lock(mu);
    jobs.push_back(std::move(job));
    if (!started) {
      started = true;
      std::thread([this] { Run(); }).detach();
    }
    cv.notify_one();
  }

  void Run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [this] { return !jobs.empty(); });
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      job();
    }
  }
};

// Intentionally leaked: it must outlive every environment and static destructor.
Reaper* reaper = new Reaper();
}  // namespace

void ReleaseOffThread(std::function<void()> job) { reaper->Push(std::move(job)); }

}  // namespace virtkit

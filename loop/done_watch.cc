#include "loop/done_watch.h"

#include "loop/task_base.h"

namespace weft::internal {

uint32_t DoneWatch::watch(FutureBase* f) {
  pin_current_task();  // the callbacks come back to this loop, to this frame
  if (!link_) link_ = new Link(this);
  auto index = static_cast<uint32_t>(entries_.size());
  f->ref();
  uint64_t id = f->add_done_callback([link = LinkRef(link_), index](FutureBase& done) {
    if (DoneWatch* w = link.get()->watch) w->fire(done, index);
  });
  entries_.push_back(Entry{f, id, false});
  ++unreported_;
  return index;
}

void DoneWatch::fire(FutureBase& f, uint32_t index) {
  Entry& e = entries_[index];
  if (e.reported) return;
  e.reported = true;
  --unreported_;
  listener_->on_done(f, index);
}

void DoneWatch::stop() {
  if (!link_) return;
  link_->watch = nullptr;
  link_->unref();
  link_ = nullptr;
  for (Entry& e : entries_) {
    if (!e.reported && !e.f->done()) e.f->remove_done_callback(e.callback_id);
    e.f->unref();
  }
  entries_.clear();
  unreported_ = 0;
}

}  // namespace weft::internal

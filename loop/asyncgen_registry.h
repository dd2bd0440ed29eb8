// AsyncGenRegistry: the async generators a loop has started that have not finished yet
// (internal; asyncio's loop._asyncgens), so that weft::run's shutdown can close the ones
// still alive (asyncio's shutdown_asyncgens). See async_generator.h.
//
// An intrusive list: registering allocates nothing. Owning loop only. A closing loop
// detaches every node (the generators outlive it; their owners destroy them later).
#ifndef WEFT_LOOP_ASYNCGEN_REGISTRY_H_
#define WEFT_LOOP_ASYNCGEN_REGISTRY_H_

#include <vector>

namespace weft::internal {

class AsyncGenRegistry;

class AsyncGenNode {
 public:
  AsyncGenRegistry* registry() const { return registry_; }

 protected:
  AsyncGenNode() = default;
  ~AsyncGenNode() = default;

 private:
  friend class AsyncGenRegistry;
  AsyncGenNode* prev_ = nullptr;
  AsyncGenNode* next_ = nullptr;
  AsyncGenRegistry* registry_ = nullptr;
};

class AsyncGenRegistry {
 public:
  AsyncGenRegistry() = default;
  AsyncGenRegistry(const AsyncGenRegistry&) = delete;
  AsyncGenRegistry& operator=(const AsyncGenRegistry&) = delete;
  ~AsyncGenRegistry() { detach_all(); }

  bool empty() const { return head_ == nullptr; }

  // Precondition: n is in no registry.
  void add(AsyncGenNode* n) {
    n->registry_ = this;
    n->prev_ = nullptr;
    n->next_ = head_;
    if (head_) head_->prev_ = n;
    head_ = n;
  }

  // Precondition: n is in this registry.
  void remove(AsyncGenNode* n) {
    if (n->prev_) {
      n->prev_->next_ = n->next_;
    } else {
      head_ = n->next_;
    }
    if (n->next_) n->next_->prev_ = n->prev_;
    n->prev_ = n->next_ = nullptr;
    n->registry_ = nullptr;
  }

  // The registered generators, oldest first.
  std::vector<AsyncGenNode*> snapshot() const {
    std::vector<AsyncGenNode*> out;
    for (AsyncGenNode* n = head_; n; n = n->next_) out.push_back(n);
    return std::vector<AsyncGenNode*>(out.rbegin(), out.rend());
  }

  void detach_all() {
    while (head_) remove(head_);
  }

 private:
  AsyncGenNode* head_ = nullptr;
};

}  // namespace weft::internal

#endif  // WEFT_LOOP_ASYNCGEN_REGISTRY_H_

// ExecutorJobQueue: the FIFO of ExecutorJobs an executor holds before a thread takes them,
// linked through each job's `next_in_queue` so that queueing never allocates.
//
// Not synchronised: the executor guards it with its own lock (BlockingPool and CpuExecutor
// both do, next to the counters that decide whom to wake). A job is in at most one queue.
#ifndef WEFT_SCHEDULER_EXECUTOR_JOB_QUEUE_H_
#define WEFT_SCHEDULER_EXECUTOR_JOB_QUEUE_H_

#include "scheduler/executor_job.h"

namespace weft::internal {

class ExecutorJobQueue {
 public:
  bool empty() const { return head_ == nullptr; }

  void push_back(ExecutorJob* job) {
    job->next_in_queue = nullptr;
    if (tail_) {
      tail_->next_in_queue = job;
    } else {
      head_ = job;
    }
    tail_ = job;
  }

  // The oldest job, or nullptr when empty.
  ExecutorJob* pop_front() {
    ExecutorJob* job = head_;
    if (job == nullptr) return nullptr;
    head_ = job->next_in_queue;
    if (head_ == nullptr) tail_ = nullptr;
    job->next_in_queue = nullptr;
    return job;
  }

 private:
  ExecutorJob* head_ = nullptr;
  ExecutorJob* tail_ = nullptr;
};

}  // namespace weft::internal

#endif  // WEFT_SCHEDULER_EXECUTOR_JOB_QUEUE_H_

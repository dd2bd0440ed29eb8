#include "loop/fd_streams.h"

#include <utility>

#include "loop/stream_fd.h"

namespace weft {

StreamPair open_fd_streams(int fd, size_t limit) {
  auto shared = std::make_shared<internal::StreamFd>(fd);
  StreamPair pair;
  pair.reader =
      std::make_unique<StreamReader>(std::make_unique<internal::FdReadSource>(shared), limit);
  pair.writer = std::make_unique<StreamWriter>(std::move(shared));
  return pair;
}

std::unique_ptr<StreamReader> open_read_pipe(int fd, size_t limit) {
  return std::make_unique<StreamReader>(
      std::make_unique<internal::FdReadSource>(std::make_shared<internal::StreamFd>(fd)), limit);
}

std::unique_ptr<StreamWriter> open_write_pipe(int fd) {
  return std::make_unique<StreamWriter>(std::make_shared<internal::StreamFd>(fd));
}

}  // namespace weft

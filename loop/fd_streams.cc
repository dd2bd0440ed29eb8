#include "loop/fd_streams.h"

#include <utility>

#include "loop/stream_fd.h"

namespace weft {

std::unique_ptr<StreamWriter> open_write_pipe(int fd) {
  return std::make_unique<StreamWriter>(std::make_shared<internal::StreamFd>(fd));
}

}  // namespace weft

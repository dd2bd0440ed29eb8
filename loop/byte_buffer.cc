#include "loop/byte_buffer.h"

#include <algorithm>
#include <cstring>

namespace weft::internal {

char* ByteBuffer::prepare(size_t n) {
  if (capacity_ - end_ >= n) return data_.get() + end_;
  const size_t live = size();
  if (capacity_ >= live + n && begin_ >= live) {
    // Enough room once the live bytes move to the front, and moving them is cheap relative
    // to what was consumed since the last move.
    std::memcpy(data_.get(), data_.get() + begin_, live);
  } else {
    const size_t capacity = std::max({capacity_ * 2, live + n, size_t{256}});
    std::unique_ptr<char[]> grown(new char[capacity]);
    if (live) std::memcpy(grown.get(), data_.get() + begin_, live);
    data_ = std::move(grown);
    capacity_ = capacity;
  }
  begin_ = 0;
  end_ = live;
  return data_.get() + end_;
}

void ByteBuffer::append(std::string_view bytes) {
  if (bytes.empty()) return;
  std::memcpy(prepare(bytes.size()), bytes.data(), bytes.size());
  commit(bytes.size());
}

void ByteBuffer::consume(size_t n) {
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
}

std::string ByteBuffer::take(size_t n) {
  std::string out(data(), n);
  consume(n);
  return out;
}

}  // namespace weft::internal

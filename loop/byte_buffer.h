// ByteBuffer: a FIFO of bytes in one contiguous block, for the stream reader and writer.
//
// Bytes are appended at the back and consumed from the front. Consuming only moves an
// offset; the live bytes are moved to the front of the block when the back runs out of room
// (and only then), so a stream that is read as fast as it is fed copies each byte into the
// buffer once and out of it once. Not thread-safe.
#ifndef WEFT_LOOP_BYTE_BUFFER_H_
#define WEFT_LOOP_BYTE_BUFFER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace weft::internal {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(ByteBuffer&&) noexcept = default;
  ByteBuffer& operator=(ByteBuffer&&) noexcept = default;

  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  const char* data() const { return data_.get() + begin_; }
  std::string_view view() const { return {data(), size()}; }

  void append(std::string_view bytes);
  // A writable area of at least `n` bytes after the live ones; commit() what was written.
  char* prepare(size_t n);
  void commit(size_t n) { end_ += n; }

  // Drops the first n bytes (n <= size()).
  void consume(size_t n);
  // Copies the first n bytes (n <= size()) out and drops them.
  std::string take(size_t n);
  void clear() { begin_ = end_ = 0; }
  // Releases the memory (the buffer stays usable).
  void release() {
    data_.reset();
    begin_ = end_ = capacity_ = 0;
  }

  // The offset of the first `sep` at or after `from`, or npos.
  size_t find(std::string_view sep, size_t from) const { return view().find(sep, from); }

 private:
  std::unique_ptr<char[]> data_;
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t capacity_ = 0;
};

}  // namespace weft::internal

#endif  // WEFT_LOOP_BYTE_BUFFER_H_

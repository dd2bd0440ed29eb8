// 3. Exceptions: an exception escaping a task is kept in the task; task.exception() hands
// it over once the task is done, and awaiting the task raises it at the await.
//
// The Python original:
//
//   async def fetch_number(text):
//       await asyncio.sleep(0)  # stands for real I/O
//       if not text.isdigit():
//           raise ValueError(f"not a number: '{text}'")
//       return int(text)
//
//   async def exceptions():
//       task = asyncio.create_task(fetch_number('forty-two'))
//       await asyncio.sleep(0.01)
//       if task.done():
//           print(f'task.exception(): {task.exception()}')
//       try:
//           await asyncio.create_task(fetch_number('4 2'))
//       except ValueError as e:
//           print(f'caught at the await: {e}')
//
// In weft (std::invalid_argument plays ValueError):

#include <chrono>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

#include "examples/tour/sections.h"
#include "loop/weft.h"

namespace tour {
namespace {

using namespace std::chrono_literals;

bool is_digits(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

weft::Coro<int> fetch_number(std::string text) {
  co_await weft::sleep(0s);  // stands for real I/O
  if (!is_digits(text)) throw std::invalid_argument("not a number: '" + text + "'");
  co_return std::stoi(text);
}

}  // namespace

weft::Coro<void> exceptions() {
  weft::Task<int> task = weft::create_task(fetch_number("forty-two"));
  co_await weft::sleep(10ms);
  if (task.done()) {
    try {
      std::rethrow_exception(task.exception());
    } catch (const std::exception& e) {
      std::printf("task.exception(): %s\n", e.what());
    }
  }
  try {
    co_await weft::create_task(fetch_number("4 2"));
  } catch (const std::invalid_argument& e) {
    std::printf("caught at the await: %s\n", e.what());
  }
}

}  // namespace tour

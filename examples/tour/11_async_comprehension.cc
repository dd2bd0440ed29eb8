// 11. An async generator and an async comprehension: download() yields each page as it
// arrives (the network is a 10 ms sleep), and the comprehension keeps the pages with an
// 'x' in them.
//
// The Python original:
//
//   async def download(urls):
//       for url in urls:
//           await asyncio.sleep(0.01)
//           yield f'<html>{url}</html>'
//
//   async def async_comprehension():
//       urls = ['alpha.org', 'box.org', 'cat.org', 'xyz.org']
//       pages = [page async for page in download(urls) if 'x' in page]
//       print(pages)
//
// In weft (C++ has no comprehensions: the while loop with an if is the same thing):

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "examples/tour/sections.h"
#include "loop/weft.h"

namespace tour {
namespace {

using namespace std::chrono_literals;

weft::AsyncGenerator<std::string> download(std::vector<std::string> urls) {
  for (const std::string& url : urls) {
    co_await weft::sleep(10ms);
    co_yield "<html>" + url + "</html>";
  }
}

}  // namespace

weft::Coro<void> async_comprehension() {
  std::vector<std::string> urls = {"alpha.org", "box.org", "cat.org", "xyz.org"};
  std::vector<std::string> pages;
  weft::AsyncGenerator<std::string> downloads = download(urls);
  while (std::optional<std::string> page = co_await downloads.next()) {
    if (page->find('x') != std::string::npos) pages.push_back(std::move(*page));
  }
  std::printf("[");
  for (size_t i = 0; i < pages.size(); ++i) std::printf(i ? ", '%s'" : "'%s'", pages[i].c_str());
  std::printf("]\n");
}

}  // namespace tour

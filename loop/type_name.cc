#include "loop/type_name.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

namespace weft::internal {

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}

std::string readable_type_name(const std::type_info& type) {
  std::string name = demangle(type.name());
  for (const char* prefix : {"weft::internal::", "weft::"}) {
    const std::string p = prefix;
    for (size_t at = name.find(p); at != std::string::npos; at = name.find(p, at)) {
      name.erase(at, p.size());
    }
  }
  constexpr size_t kMax = 120;
  if (name.size() > kMax) name = name.substr(0, kMax - 3) + "...";
  return name;
}

}  // namespace weft::internal

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
  if (size_t lt = name.find('<'); lt != std::string::npos) name.resize(lt);
  for (const char* prefix : {"weft::internal::", "weft::"}) {
    if (name.rfind(prefix, 0) == 0) {
      name.erase(0, std::string(prefix).size());
      break;
    }
  }
  return name;
}

}  // namespace weft::internal

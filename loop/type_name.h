// Readable C++ type names for reports (internal).
#ifndef WEFT_LOOP_TYPE_NAME_H_
#define WEFT_LOOP_TYPE_NAME_H_

#include <string>
#include <typeinfo>

namespace weft::internal {

// The demangled form of a mangled name (the name itself if it does not demangle).
std::string demangle(const char* mangled);
// The demangled type name without weft's namespaces, cut at 120 characters:
// "weft::internal::ScopedAcquire<weft::Lock::AcquireAwaiter, weft::Lock>" ->
// "ScopedAcquire<Lock::AcquireAwaiter, Lock>".
std::string readable_type_name(const std::type_info& type);

}  // namespace weft::internal

#endif  // WEFT_LOOP_TYPE_NAME_H_

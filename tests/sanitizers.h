// What a test suite knows about the sanitizer it is built with (.bazelrc: --config=asan,
// --config=tsan). g++ defines __SANITIZE_THREAD__ / __SANITIZE_ADDRESS__; clang (the tsan
// config's compiler) answers __has_feature instead and defines neither, which is why this is
// one header and not a copy of the test per suite.
#ifndef WEFT_TESTS_SANITIZERS_H_
#define WEFT_TESTS_SANITIZERS_H_

#if defined(__SANITIZE_THREAD__)
#define WEFT_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TEST_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_TEST_ASAN 1
#endif
#endif

namespace weft::test_env {

#ifdef WEFT_TEST_TSAN
inline constexpr bool kUnderTsan = true;
#else
inline constexpr bool kUnderTsan = false;
#endif
#ifdef WEFT_TEST_ASAN
inline constexpr bool kUnderAsan = true;
#else
inline constexpr bool kUnderAsan = false;
#endif
inline constexpr bool kUnderSanitizer = kUnderTsan || kUnderAsan;
// Sanitizers run ~10x slower: suites divide their iteration counts by this.
inline constexpr int kSanitizerSlowdown = kUnderSanitizer ? 10 : 1;

}  // namespace weft::test_env

#endif  // WEFT_TESTS_SANITIZERS_H_

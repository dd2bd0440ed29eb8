// ExceptionContext: what the loop's exception handler receives for an error nobody else can
// receive (asyncio's context dict): a callback that threw, a task exception never retrieved,
// a task destroyed while pending, a coroutine never awaited.
//
//   loop.set_exception_handler([](weft::EventLoop& loop, const weft::ExceptionContext& ctx) {
//     log(ctx.message, ctx.exception_text());
//   });
#ifndef WEFT_LOOP_EXCEPTION_CONTEXT_H_
#define WEFT_LOOP_EXCEPTION_CONTEXT_H_

#include <exception>
#include <string>

namespace weft {

struct ExceptionContext {
  // What happened, e.g. "Task exception was never retrieved". Always set.
  std::string message;
  // The exception, when there is one.
  std::exception_ptr exception;
  // The task concerned, by name ("Task-3"), when there is one.
  std::string task;
  // A description of the future, handle or coroutine concerned, when there is one.
  std::string future;
  std::string handle;
  std::string coroutine;
  // Where the object concerned was created ("file.cc:42 in fn"), when known.
  std::string source;
  // A short symbolised stack, one frame per line, innermost first (debug mode's "coroutine
  // ... was never awaited": where the Coro was dropped), or "".
  std::string stack;
  // Debug mode: the stack where the object concerned was created, one frame per line, most
  // recent call last (asyncio's source_traceback; for "never awaited", where the Coro was
  // created), or "".
  std::string source_traceback;

  // The exception's type and message ("std::runtime_error: boom"), or "" when none.
  std::string exception_text() const;
  // The whole context as the default handler prints it, one field per line.
  std::string to_string() const;
};

// Writes the context to stderr as the default exception handler does. Any thread.
void print_exception_context(const ExceptionContext& context);

}  // namespace weft

#endif  // WEFT_LOOP_EXCEPTION_CONTEXT_H_

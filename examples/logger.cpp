// logger — actors talking to each other: a logger and two writers.
//
// The logger routes each log line to one of two writer actors, one that
// writes to the console and one that writes to a file. A writer answers the
// logger with how much it wrote, and the logger counts. Shows:
//   * dependency injection: the writers' refs go to the logger's constructor;
//   * replying: a writer answers `ctx.sender()`, whoever sent the request;
//   * `accepts`: what an actor takes through an untyped ref such as
//     ctx.sender();
//   * handing a result back to main (not an actor) with a std::promise.
//
// Prints (the file writer's lines come back from the file at the end):
//   To the console
//   The console again
//   main: 3 lines written, 42 characters
//   main: the log file holds "To the file"
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string>

#include <volley/volley.hpp>

enum class target { file, console };

struct log_line {
  std::string text;
  target to;
};
struct write_line {  // logger -> writer
  std::string text;
};
struct line_written {  // writer -> logger
  std::size_t chars;
};

struct totals {
  int lines;
  std::size_t chars;
};
/// main -> logger: "fulfil this promise once every line is written".
struct flush {
  std::promise<totals> done;
};

class console_writer {
 public:
  void on(const write_line& w, volley::context& ctx) {
    std::printf("%s\n", w.text.c_str());
    // The handler's context: `ctx.sender()` is the logger, and passing ctx
    // to tell names us as the sender of the answer.
    ctx.sender().tell(line_written{w.text.size()}, ctx);
  }
};

class file_writer {
 public:
  explicit file_writer(const std::filesystem::path& path) : out_(path) {}

  void on(const write_line& w, volley::context& ctx) {
    out_ << w.text << '\n' << std::flush;
    ctx.sender().tell(line_written{w.text.size()}, ctx);
  }

 private:
  std::ofstream out_;  // only this actor touches the file: no lock needed
};

class logger {
 public:
  // The writers answer through ctx.sender(), an untyped ref (any_ref): an
  // actor lists the types it takes that way. Typed refs need no list.
  using accepts = volley::accepts<line_written>;

  logger(volley::actor_ref<file_writer> file, volley::actor_ref<console_writer> console)
      : file_(std::move(file)), console_(std::move(console)) {}

  void on(const log_line& l, volley::context& ctx) {
    ++pending_;
    if (l.to == target::file) {
      file_.tell(write_line{l.text}, ctx);  // with ctx: we are the sender
    } else {
      console_.tell(write_line{l.text}, ctx);
    }
  }

  void on(const line_written& w) {
    ++lines_;
    chars_ += w.chars;
    --pending_;
    finish_flush_if_done();
  }

  void on(flush&& f) {
    flush_ = std::move(f.done);
    finish_flush_if_done();
  }

 private:
  void finish_flush_if_done() {
    if (flush_ && pending_ == 0) {
      flush_->set_value(totals{lines_, chars_});
      flush_.reset();
    }
  }

  volley::actor_ref<file_writer> file_;
  volley::actor_ref<console_writer> console_;
  int pending_ = 0;  // lines sent to a writer and not yet answered
  int lines_ = 0;
  std::size_t chars_ = 0;
  std::optional<std::promise<totals>> flush_;
};

int main() {
  // A file of our own: two builds may run this example at the same time.
  auto path = std::filesystem::temp_directory_path() /
              ("volley-logger-example-" + std::to_string(::getpid()) + ".log");

  volley::system sys;
  auto file = sys.spawn<file_writer>(volley::props{.name = "file_writer", .dispatcher = {}}, path);
  auto console =
      sys.spawn<console_writer>(volley::props{.name = "console_writer", .dispatcher = {}});
  auto lg = sys.spawn<logger>(volley::props{.name = "logger", .dispatcher = {}}, file, console);

  lg.tell(log_line{"To the file", target::file});
  lg.tell(log_line{"To the console", target::console});
  lg.tell(log_line{"The console again", target::console});

  // The writers work in parallel; the promise is fulfilled when the logger
  // has every answer, so the counts below are complete.
  std::promise<totals> done;
  auto result = done.get_future();
  lg.tell(flush{std::move(done)});
  totals t = result.get();
  std::printf("main: %d lines written, %zu characters\n", t.lines, t.chars);

  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::printf("main: the log file holds \"%s\"\n", line.c_str());
  }
  sys.shutdown();  // closes the file (the writer is destroyed)
  std::filesystem::remove(path);
}

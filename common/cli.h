// What every command line of the project does the same way: parse errors are one line on stderr
// naming the option and exit 2 (usage), --help / --version exit 0; numeric options have sensible
// bounds whose message names them. Header-only over CLI11 (Debian's libcli11-dev).
#pragma once

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

namespace ternary::cli {

constexpr int kUsageError = 2;

// Parses; returns -1 to go on, else the exit code to return (0 after --help / --version).
inline int parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return -1;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << app.get_name() << ": error: " << e.what() << " (see --help)" << std::endl;
    return kUsageError;
  }
}

}  // namespace ternary::cli

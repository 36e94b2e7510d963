// Subcommands register themselves here, one file per command, so adding a command touches no
// shared file. main.cpp builds the CLI11 app from the registry.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace attnjit::cli {

// Adds one subcommand (with its options and callback) to the app.
using CommandSetup = std::function<void(CLI::App& app)>;

std::vector<std::pair<std::string, CommandSetup>>& command_registry();

struct RegisterCommand {
  RegisterCommand(std::string name, CommandSetup setup) {
    command_registry().emplace_back(std::move(name), std::move(setup));
  }
};

// Thrown by commands for bad arguments that CLI11 cannot see (unknown problem key, ...):
// main prints the message and exits with 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace attnjit::cli

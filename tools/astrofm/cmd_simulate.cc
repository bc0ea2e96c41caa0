#include "commands.h"
namespace astrofm::cli {
void add_simulate_command(CLI::App&) {}
}

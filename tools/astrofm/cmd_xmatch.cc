#include "commands.h"
namespace astrofm::cli {
void add_xmatch_command(CLI::App&) {}
}

// ltxguard entry point: parses the command line (the only file that sees CLI11) and
// dispatches to one verb. Exit codes are documented in docs/exit-codes.md.
#include <cstdio>

int main(int argc, char** argv) {
  (void)argc;
  (void)argv;
  std::puts("ltxguard " LTXGUARD_VERSION);
  return 0;
}

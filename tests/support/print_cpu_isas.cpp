// Prints the SSM_CPU_ISA values this machine accepts, one a line, best first (for
// tests/conformance/each_cpu_isa.cmake).
#include <cstdio>

#include "ssm/core/cpu.hpp"

int main() {
  for (const auto& isa : ssm::cpu_isas_supported()) std::printf("%s\n", isa.c_str());
  return 0;
}

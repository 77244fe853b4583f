// What the benchmark programs print about the machine they ran on.
#ifndef DI_BENCH_MACHINE_H_
#define DI_BENCH_MACHINE_H_

#include <fstream>
#include <string>

namespace di::bench {

// The CPU model from /proc/cpuinfo ("unknown" if absent).
inline std::string CpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

}  // namespace di::bench

#endif  // DI_BENCH_MACHINE_H_

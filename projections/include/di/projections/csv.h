// CSV as the reports write it (RFC 4180): comma-separated, one header line, '\n' line ends, a field quoted
// when it holds a comma, a quote or a line break, with quotes doubled. Money stays in cents.
#ifndef DI_PROJECTIONS_CSV_H_
#define DI_PROJECTIONS_CSV_H_

#include <string>

namespace di::projections {

inline std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace di::projections

#endif  // DI_PROJECTIONS_CSV_H_

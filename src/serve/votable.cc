#include "votable.h"

#include <cmath>

#include <fmt/format.h>

namespace astrofm::serve {

std::string xml_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&apos;"; break;
      default:
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') o += ' ';  // not allowed in XML 1.0
        else o += static_cast<char>(c);
    }
  }
  return o;
}

bool vo_field_of(const Column& c, VoField* f) {
  f->name = c.name;
  if (c.dtype == DType::String) {
    if (!c.shape.empty()) return false;
    f->datatype = "char", f->arraysize = "*";
    return true;
  }
  static const std::pair<DType, const char*> kTypes[] = {
      {DType::Float32, "float"}, {DType::Float64, "double"}, {DType::Int8, "short"}, {DType::Int16, "short"}, {DType::Int32, "int"},
      {DType::Int64, "long"}, {DType::UInt8, "unsignedByte"}, {DType::UInt16, "int"}, {DType::UInt32, "long"}, {DType::UInt64, "long"},
      {DType::Bool, "boolean"}};
  for (const auto& [t, n] : kTypes)
    if (c.dtype == t) f->datatype = n;
  if (c.shape.size() > 1) return false;
  if (c.shape.size() == 1) f->arraysize = std::to_string(c.shape[0]);
  return true;
}

namespace {

std::string cell(const Column& c, int64_t row) {
  if (c.dtype == DType::String) return xml_escape(c.strings[row]);
  int64_t per = c.row_elems();
  std::string s;
  for (int64_t j = 0; j < per; ++j) {
    if (j) s += ' ';
    int64_t k = row * per + j;
    if (c.dtype == DType::Bool) s += c.data[k] ? "T" : "F";
    else if (dtype_is_integer(c.dtype)) s += std::to_string(c.as_int64(k));
    else {
      double v = c.as_double(k);
      s += std::isnan(v) ? "NaN" : std::isinf(v) ? (v > 0 ? "+Inf" : "-Inf") : fmt::format("{:.17g}", v);
    }
  }
  return s;
}

constexpr const char* kHead =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<VOTABLE version=\"1.1\" xmlns=\"http://www.ivoa.net/xml/VOTable/v1.1\" "
    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n";

}  // namespace

std::string votable_results(const std::string& description, const std::vector<VoField>& fields, const Table* t, bool overflow) {
  std::string o = kHead;
  o += "<RESOURCE type=\"results\">\n<DESCRIPTION>" + xml_escape(description) + "</DESCRIPTION>\n";
  o += fmt::format("<INFO name=\"QUERY_STATUS\" value=\"{}\"/>\n", overflow ? "OVERFLOW" : "OK");
  o += "<TABLE>\n";
  for (const auto& f : fields) {
    o += "<FIELD name=\"" + xml_escape(f.name) + "\" ID=\"" + xml_escape(f.name) + "\" datatype=\"" + f.datatype + "\"";
    if (!f.arraysize.empty()) o += " arraysize=\"" + f.arraysize + "\"";
    if (!f.ucd.empty()) o += " ucd=\"" + f.ucd + "\"";
    if (!f.unit.empty()) o += " unit=\"" + f.unit + "\"";
    o += f.description.empty() ? "/>\n" : ">\n<DESCRIPTION>" + xml_escape(f.description) + "</DESCRIPTION>\n</FIELD>\n";
  }
  o += "<DATA><TABLEDATA>\n";
  if (t)
    for (int64_t r = 0; r < t->rows(); ++r) {
      o += "<TR>";
      for (const auto& c : t->columns()) o += "<TD>" + cell(c, r) + "</TD>";
      o += "</TR>\n";
    }
  o += "</TABLEDATA></DATA>\n</TABLE>\n</RESOURCE>\n</VOTABLE>\n";
  return o;
}

std::string votable_error(const std::string& message) {
  return std::string(kHead) + "<INFO ID=\"Error\" name=\"Error\" value=\"" + xml_escape(message) + "\"/>\n<RESOURCE/>\n</VOTABLE>\n";
}

}  // namespace astrofm::serve

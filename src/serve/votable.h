#pragma once
// VOTable 1.1 documents for Simple Cone Search 1.03 (TABLEDATA serialization):
// written by hand, as no C++ VOTable library exists in Debian. The three 1.03
// UCDs (ID_MAIN, POS_EQ_RA_MAIN, POS_EQ_DEC_MAIN) go on object_id, ra, dec:
// pyvo's record.pos and record.id look exactly these up. Version 1.1, the
// VOTable of SCS 1.03's time: from 1.2 on, validators (astropy, votlint)
// expect UCD1+ words, which pyvo's lookups do not match.
#include <string>
#include <vector>

#include "astrofm/table.h"

namespace astrofm::serve {

struct VoField {
  std::string name, datatype, arraysize, ucd, unit, description;
};

// The FIELD a column becomes ({} for columns VOTable cannot hold here: multi-dimensional arrays).
bool vo_field_of(const Column& c, VoField* f);

// A results document: `fields` and the rows of `t` (its columns in the same order).
std::string votable_results(const std::string& description, const std::vector<VoField>& fields, const Table* t, bool overflow);
// An error document: INFO name="Error" (SCS 1.03, erratum 3).
std::string votable_error(const std::string& message);
std::string xml_escape(const std::string& s);

}  // namespace astrofm::serve

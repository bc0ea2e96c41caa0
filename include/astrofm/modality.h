#pragma once
// Modalities as a table: what a kind of observation is made of in the MMU
// layout. Image and spectrum modalities have fixed column sets; any numeric
// catalogue column (FLUX_G, SHAPE_R, mag_r, Z, ...) is a scalar modality of
// its own. Validation, embedding, training and the simulator all read the
// column sets, shapes and derived column names from here.
// Thread-safety: the table is immutable; every function is safe to call concurrently.
#include <string>
#include <vector>

#include "astrofm/mmu.h"
#include "astrofm/table.h"

namespace astrofm {

// What code dispatches on (never the modality's name): a catalogue scalar,
// an image, a spectrum, a list of neighbouring detections (AION's catalog),
// or a one-channel map of the object's field (AION's segmentation map).
enum class ModalityKind { Image, Spectrum, Scalar, Catalog, Field };
const char* modality_kind_name(ModalityKind k);  // "image", "spectrum", "scalar", "catalog", "field"

// How a column's per-file shape must relate to the modality's main column.
enum class ShapeRule {
  Main,        // the main column: its rank is Modality::main_rank
  SameAsMain,  // exactly the main column's shape
  PerBand,     // [N, bands] with bands = main.dims[1]
};

struct ColumnRule {
  std::string name;
  std::vector<DType> dtypes;  // any of these
  std::string expect;         // for messages: "float32 flux"
  ShapeRule shape = ShapeRule::SameAsMain;
  bool required = true;
};

struct Modality {
  std::string name;  // "image", "spectrum", "catalog", or the scalar's column name
  ModalityKind kind = ModalityKind::Scalar;
  size_t main_rank = 1;     // dimensions of the main column in a file, objects first
  std::string layout;       // "[N, bands, H, W]"
  std::vector<ColumnRule> columns;  // columns[0] is the main column
  const std::string& main_column() const { return columns.front().name; }
  std::string embedding_column() const { return "embedding_" + name; }
  std::string tokens_column() const { return "tokens_" + name; }
  // Every column name of the modality (for reading).
  std::vector<std::string> column_names(bool required_only = false) const;
};

// The image, spectrum, catalog and segmentation-map modalities.
const std::vector<Modality>& modality_table();
// "image", "spectrum", or a catalogue column name (a scalar modality).
Modality modality(const std::string& name);
Modality scalar_modality(const std::string& column);
// The modalities a dataset's columns hold: image and spectrum when their main
// column is there, and every numeric per-object scalar column except the
// MMU bookkeeping (ra, dec, healpix) and embeddings.
std::vector<Modality> modalities_in(const std::vector<std::string>& columns, const std::vector<ColumnSchema>& schema = {});

}  // namespace astrofm

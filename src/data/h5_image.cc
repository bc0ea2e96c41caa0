// HDF5 files held in memory (uploads): opened through libhdf5's core driver,
// and refused when they point outside themselves.
#include <hdf5.h>

#include "astrofm/error.h"
#include "h5.h"

namespace astrofm::h5 {

File File::open_image(std::string_view bytes, const std::string& name) {
  init();
  File f;
  f.path_ = name;
  if (bytes.size() < 8) fail_input("{}: not an HDF5 file ({} bytes)", name, bytes.size());
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  // No backing store: nothing is ever written to or read from a file of that name.
  if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, 0) < 0 ||
      H5Pset_file_image(fapl, const_cast<char*>(bytes.data()), bytes.size()) < 0) {
    if (fapl >= 0) H5Pclose(fapl);
    fail_io("{}: cannot hand {} bytes to the HDF5 library", name, bytes.size());
  }
  hid_t id;
  H5E_BEGIN_TRY { id = H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl); } H5E_END_TRY;
  H5Pclose(fapl);
  if (id < 0) fail_input("{}: not an HDF5 file (or truncated or corrupt)", name);
  f.file_ = Handle(id, H5Fclose);
  f.check_self_contained();
  return f;
}

namespace {

// A file read from memory must not point elsewhere: external raw storage,
// external or soft links and virtual datasets would open other files.
herr_t refuse_indirection(hid_t obj, const char* name, const H5O_info_t* info, void* bad) {
  if (info->type != H5O_TYPE_DATASET) return 0;
  hid_t ds = H5Dopen2(obj, name, H5P_DEFAULT);
  if (ds < 0) return 0;
  hid_t dcpl = H5Dget_create_plist(ds);
  if (dcpl >= 0 && (H5Pget_external_count(dcpl) > 0 || H5Pget_layout(dcpl) == H5D_VIRTUAL)) *static_cast<std::string*>(bad) = name;
  if (dcpl >= 0) H5Pclose(dcpl);
  H5Dclose(ds);
  return 0;
}

herr_t refuse_links(hid_t, const char* name, const H5L_info_t* info, void* bad) {
  if (info->type != H5L_TYPE_HARD) *static_cast<std::string*>(bad) = name;
  return 0;
}

}  // namespace

void File::check_self_contained() const {
  std::string bad_link, bad_data;
  H5E_BEGIN_TRY {
    H5Lvisit(id(), H5_INDEX_NAME, H5_ITER_NATIVE, refuse_links, &bad_link);
    H5Ovisit2(id(), H5_INDEX_NAME, H5_ITER_NATIVE, refuse_indirection, &bad_data, H5O_INFO_BASIC);
  } H5E_END_TRY;
  if (!bad_link.empty()) fail_input("{}: '{}' is a soft or external link; a file read from memory must be self-contained", path_, bad_link);
  if (!bad_data.empty())
    fail_input("{}: dataset '{}' keeps its data in other files (external or virtual); a file read from memory must be self-contained",
               path_, bad_data);
}

}  // namespace astrofm::h5

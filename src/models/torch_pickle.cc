#include "astrofm/models/torch_pickle.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>

#include "astrofm/error.h"

namespace astrofm::models {
namespace {

using Kind = PickleValue::Kind;

PickleRef make(Kind k) {
  auto v = std::make_shared<PickleValue>();
  v->kind = k;
  return v;
}

torch::ScalarType storage_dtype(const std::string& name, const std::string& where) {
  static const std::map<std::string, torch::ScalarType> m = {
      {"torch.FloatStorage", torch::kFloat32}, {"torch.DoubleStorage", torch::kFloat64}, {"torch.HalfStorage", torch::kFloat16},
      {"torch.BFloat16Storage", torch::kBFloat16}, {"torch.LongStorage", torch::kInt64}, {"torch.IntStorage", torch::kInt32},
      {"torch.ShortStorage", torch::kInt16}, {"torch.CharStorage", torch::kInt8}, {"torch.ByteStorage", torch::kUInt8},
      {"torch.BoolStorage", torch::kBool}};
  auto it = m.find(name);
  if (it == m.end()) fail_input("{}: unsupported tensor storage {}", where, name);
  return it->second;
}

class Interpreter {
 public:
  Interpreter(caffe2::serialize::PyTorchStreamReader& zip, const std::string& where) : zip_(zip), where_(where) {}

  PickleRef run(const uint8_t* p, size_t n) {
    p_ = p;
    end_ = p + n;
    while (p_ < end_) {
      uint8_t op = *p_++;
      switch (op) {
        case 0x80: need(1); ++p_; break;                      // PROTO
        case '.': return pop();                               // STOP
        case '(': push(make(Kind::Mark)); break;              // MARK
        case 'N': push(make(Kind::None)); break;
        case 0x88: push_bool(true); break;                    // NEWTRUE
        case 0x89: push_bool(false); break;                   // NEWFALSE
        case 'K': push_int(read_uint(1)); break;              // BININT1
        case 'M': push_int(read_uint(2)); break;              // BININT2
        case 'J': push_int(static_cast<int32_t>(read_uint(4))); break;  // BININT
        case 0x8a: {                                          // LONG1
          size_t len = read_uint(1);
          need(len);
          int64_t v = 0;
          for (size_t k = 0; k < len && k < 8; ++k) v |= static_cast<int64_t>(p_[k]) << (8 * k);
          if (len > 0 && len < 8 && (p_[len - 1] & 0x80)) v -= int64_t{1} << (8 * len);
          p_ += len;
          push_int(v);
          break;
        }
        case 'G': {                                           // BINFLOAT (big-endian)
          need(8);
          uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = (bits << 8) | p_[k];
          p_ += 8;
          auto v = make(Kind::Float);
          std::memcpy(&v->f, &bits, 8);
          push(v);
          break;
        }
        case 'X': push_str(read_uint(4)); break;              // BINUNICODE
        case 0x8c: push_str(read_uint(1)); break;             // SHORT_BINUNICODE
        case 'T': push_str(read_uint(4)); break;              // BINSTRING
        case 'U': push_str(read_uint(1)); break;              // SHORT_BINSTRING
        case 'B': push_str(read_uint(4)); break;              // BINBYTES
        case 'C': push_str(read_uint(1)); break;              // SHORT_BINBYTES
        case 'q': memo_[read_uint(1)] = top(); break;         // BINPUT
        case 'r': memo_[read_uint(4)] = top(); break;         // LONG_BINPUT
        case 'h': push(memo_get(read_uint(1))); break;        // BINGET
        case 'j': push(memo_get(read_uint(4))); break;        // LONG_BINGET
        case ')': push(make(Kind::Tuple)); break;             // EMPTY_TUPLE
        case ']': push(make(Kind::List)); break;              // EMPTY_LIST
        case '}': push(make(Kind::Dict)); break;              // EMPTY_DICT
        case 0x85: tuple_of(1); break;                        // TUPLE1
        case 0x86: tuple_of(2); break;                        // TUPLE2
        case 0x87: tuple_of(3); break;                        // TUPLE3
        case 't': {                                           // TUPLE
          auto t = make(Kind::Tuple);
          t->items = pop_to_mark();
          push(t);
          break;
        }
        case 'l': {                                           // LIST
          auto t = make(Kind::List);
          t->items = pop_to_mark();
          push(t);
          break;
        }
        case 'a': {                                           // APPEND
          auto v = pop();
          top()->items.push_back(v);
          break;
        }
        case 'e': {                                           // APPENDS
          auto vs = pop_to_mark();
          auto& l = top()->items;
          l.insert(l.end(), vs.begin(), vs.end());
          break;
        }
        case 's': {                                           // SETITEM
          auto v = pop();
          auto k = pop();
          top()->entries.push_back({k, v});
          break;
        }
        case 'u': {                                           // SETITEMS
          auto vs = pop_to_mark();
          if (vs.size() % 2) bad("odd SETITEMS");
          for (size_t k = 0; k < vs.size(); k += 2) top()->entries.push_back({vs[k], vs[k + 1]});
          break;
        }
        case 'c': {                                           // GLOBAL "module\nname\n"
          auto g = make(Kind::Global);
          std::string module = read_line();  // two statements: operand order is unspecified
          g->s = module + "." + read_line();
          push(g);
          break;
        }
        case 'R': {                                           // REDUCE
          auto args = pop();
          auto fn = pop();
          push(reduce(fn, args));
          break;
        }
        case 0x81: {                                          // NEWOBJ
          auto args = pop();
          auto cls = pop();
          push(reduce(cls, args));
          break;
        }
        case 'b': {                                           // BUILD: keep dict state, ignore the rest
          auto state = pop();
          auto obj = top();
          if (obj->kind == Kind::Object && state->kind == Kind::Dict) obj->entries = state->entries;
          break;
        }
        case 'Q': {                                           // BINPERSID
          auto pid = pop();
          push(persistent(pid));
          break;
        }
        default:
          bad(fmt::format("unsupported pickle opcode 0x{:02x}", op));
      }
    }
    bad("pickle ended without STOP");
  }

 private:
  [[noreturn]] void bad(const std::string& what) { fail_input("{}: cannot read checkpoint: {}", where_, what); }
  void need(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) bad("truncated pickle");
  }
  uint64_t read_uint(int n) {
    need(n);
    uint64_t v = 0;
    for (int k = 0; k < n; ++k) v |= static_cast<uint64_t>(p_[k]) << (8 * k);
    p_ += n;
    return v;
  }
  std::string read_line() {
    const uint8_t* nl = static_cast<const uint8_t*>(std::memchr(p_, '\n', end_ - p_));
    if (!nl) bad("truncated GLOBAL");
    std::string s(reinterpret_cast<const char*>(p_), nl - p_);
    p_ = nl + 1;
    return s;
  }
  void push(PickleRef v) { stack_.push_back(std::move(v)); }
  PickleRef pop() {
    if (stack_.empty()) bad("stack underflow");
    auto v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PickleRef top() {
    if (stack_.empty()) bad("stack underflow");
    return stack_.back();
  }
  PickleRef memo_get(uint64_t k) {
    auto it = memo_.find(k);
    if (it == memo_.end()) bad("memo key missing");
    return it->second;
  }
  void push_bool(bool b) {
    auto v = make(Kind::Bool);
    v->b = b;
    push(v);
  }
  void push_int(int64_t i) {
    auto v = make(Kind::Int);
    v->i = i;
    push(v);
  }
  void push_str(uint64_t len) {
    need(len);
    auto v = make(Kind::String);
    v->s.assign(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    push(v);
  }
  void tuple_of(int n) {
    auto t = make(Kind::Tuple);
    t->items.resize(n);
    for (int k = n - 1; k >= 0; --k) t->items[k] = pop();
    push(t);
  }
  std::vector<PickleRef> pop_to_mark() {
    std::vector<PickleRef> out;
    while (true) {
      auto v = pop();
      if (v->kind == Kind::Mark) break;
      out.push_back(v);
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  PickleRef persistent(const PickleRef& pid) {
    // ('storage', storage_type, key, location, numel)
    if (pid->kind != Kind::Tuple || pid->items.size() < 5 || pid->items[0]->s != "storage") bad("unexpected persistent id");
    auto st = make(Kind::Storage);
    st->storage_type = storage_dtype(pid->items[1]->s, where_);
    st->s = pid->items[2]->s;
    int64_t numel = pid->items[4]->i;
    if (numel < 0) bad("storage " + st->s + " declares " + std::to_string(numel) + " elements");
    auto [ptr, size] = zip_.getRecord("data/" + st->s);
    size_t elem = c10::elementSize(st->storage_type);
    if (static_cast<size_t>(numel) > size / elem) bad("storage " + st->s + " is shorter than its declared size");
    st->tensor = torch::empty({numel}, torch::TensorOptions().dtype(st->storage_type));
    // An empty record has no data pointer: memcpy from null is undefined even for 0 bytes.
    if (numel > 0) std::memcpy(st->tensor.data_ptr(), ptr.get(), numel * elem);
    return st;
  }

  static std::vector<int64_t> ints(const PickleRef& t) {
    std::vector<int64_t> out;
    for (const auto& x : t->items) out.push_back(x->i);
    return out;
  }

  PickleRef reduce(const PickleRef& fn, const PickleRef& args) {
    const std::string& name = fn->s;
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      const auto& a = args->items;
      if (a.size() < 4 || a[0]->kind != Kind::Storage) bad("malformed tensor");
      auto t = make(Kind::Tensor);
      t->tensor = a[0]->tensor.as_strided(ints(a[2]), ints(a[3]), a[1]->i).clone();
      return t;
    }
    if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
      if (args->items.empty() || args->items[0]->kind != Kind::Tensor) bad("malformed parameter");
      return args->items[0];
    }
    if (name == "collections.OrderedDict" || name == "builtins.dict") return make(Kind::Dict);
    // Anything else (Lightning's AttributeDict, argparse Namespace, ...): an opaque object.
    auto o = make(Kind::Object);
    o->s = name;
    o->items = args->items;
    return o;
  }

  caffe2::serialize::PyTorchStreamReader& zip_;
  std::string where_;
  const uint8_t* p_ = nullptr;
  const uint8_t* end_ = nullptr;
  std::vector<PickleRef> stack_;
  std::map<uint64_t, PickleRef> memo_;
};

const PickleValue* lookup(const PickleValue& dict, const std::string& key) {
  for (const auto& [k, v] : dict.entries)
    if (k->kind == Kind::String && k->s == key) return v.get();
  return nullptr;
}

}  // namespace

PickleRef read_torch_pickle(const std::string& path) {
  try {
    caffe2::serialize::PyTorchStreamReader zip(path);
    auto [ptr, size] = zip.getRecord("data.pkl");
    Interpreter in(zip, path);
    return in.run(static_cast<const uint8_t*>(ptr.get()), size);
  } catch (const c10::Error& e) {
    fail_input("{}: not a PyTorch checkpoint in torch.save's zip format ({})", path, e.what_without_backtrace());
  }
}

Checkpoint read_checkpoint(const std::string& path) {
  PickleRef root = read_torch_pickle(path);
  if (root->kind != Kind::Dict && root->kind != Kind::Object) fail_input("{}: expected a dict at the top of the checkpoint", path);
  Checkpoint ck;
  const PickleValue* sd = lookup(*root, "state_dict");
  if (!sd) sd = lookup(*root, "model");    // DINOv2-style {"model": state_dict}
  if (!sd) sd = lookup(*root, "teacher");  // AstroCLIP's AstroDINO trainer: {"teacher": teacher.state_dict()}
  if (!sd || (sd->kind != Kind::Dict && sd->kind != Kind::Object)) sd = root.get();
  for (const auto& [k, v] : sd->entries)
    if (k->kind == Kind::String && v->kind == Kind::Tensor) ck.tensors[k->s] = v->tensor.to(torch::kFloat32).contiguous();
  if (const PickleValue* hp = lookup(*root, "hyper_parameters")) {
    for (const auto& [k, v] : hp->entries) {
      if (k->kind != Kind::String) continue;
      if (v->kind == Kind::Int) ck.hyper_parameters[k->s] = v->i;
      else if (v->kind == Kind::Float) ck.hyper_parameters[k->s] = v->f;
      else if (v->kind == Kind::Bool) ck.hyper_parameters[k->s] = v->b;
      else if (v->kind == Kind::String) ck.hyper_parameters[k->s] = v->s;
    }
  }
  if (ck.tensors.empty()) fail_input("{}: no tensors found in the checkpoint", path);
  return ck;
}

}  // namespace astrofm::models
